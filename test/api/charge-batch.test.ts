/**
 * chargeBatch and chargeGenerationBatch (README, Batches): results in input order, each item with its
 * own idempotency key and its own refusal; atomic batches all or nothing; replays of a whole batch and
 * of single items; order per wallet; limits; access per item; the typed client's keys per item.
 */
import {
  ChargeBatchDocument, ChargeDocument, ChargeGenerationBatchDocument, CreateRateCardDraftDocument, PublishRateCardDocument,
  QuoteDocument, SetRateCardRatesDocument, type ChargeInput,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ chargeBatchItemsMax: 1_000 });
  const draft = await t.op(CreateRateCardDraftDocument, { input: { name: 'batch card', empty: true } });
  await t.op(SetRateCardRatesDocument, { input: { draftId: draft.createRateCardDraft.id, rates: [
    { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }] },
  ] } });
  await t.op(PublishRateCardDocument, { draftId: draft.createRateCardDraft.id });
});
afterAll(async () => { await t.close(); });

const UNKNOWN = '00000000-0000-4000-8000-00000000b0b0';
type Item = Omit<ChargeInput, 'idempotencyKey'> & { idempotencyKey?: string };
const keyed = (items: Item[]): ChargeInput[] => items.map((i) => ({ ...i, idempotencyKey: i.idempotencyKey ?? uniqueKey('batch') }));
const batch = async (charges: ChargeInput[], atomic?: boolean, token?: string) =>
  (await t.op(ChargeBatchDocument, { input: { charges, atomic } }, token)).chargeBatch.results;
/** Per item: the charged amount, or the refusal's code. */
const outcomes = (results: Awaited<ReturnType<typeof batch>>) => results.map((r) => r.transaction?.amount ?? r.error?.code);
const cleanAudit = async () => expect(await t.audit()).toEqual({ ok: true, violations: [] });

async function funded(amount: string): Promise<string> {
  const id = await t.createAccount();
  await t.grant(id, amount);
  return id;
}

describe('chargeBatch', () => {
  test('mixed successes and refusals come back in input order, each with its own result', async () => {
    const a = await funded('10');
    const b = await funded('5');
    const results = await batch(keyed([
      { accountId: a, amount: '3' },
      { accountId: UNKNOWN, amount: '1' },
      { accountId: a, amount: '5' },
      { accountId: a, amount: '5' }, // 2 left: refused
      { accountId: b, amount: '1', action: 'image.generate' },
      { accountId: b, amount: '0' }, // not positive: refused before anything runs
      { accountId: a, amount: '2' }, // still fits after the refusal
    ]));
    expect(outcomes(results)).toEqual(['-3', 'NOT_FOUND', '-5', 'INSUFFICIENT_CREDITS', '-1', 'BAD_USER_INPUT', '-2']);
    expect(results[3].error).toMatchObject({ message: expect.any(String) as unknown, details: expect.objectContaining({ required: '5', available: '2', remedy: expect.any(String) as unknown }) as unknown });
    expect(results[5].error?.details).toMatchObject({ field: 'amount' });
    expect(results[4].transaction).toMatchObject({ accountId: b, action: 'image.generate', status: 'SUCCEEDED' });
    expect((await t.wallet(a)).balance).toBe('0');
    expect((await t.wallet(b)).balance).toBe('4');
    // A refused item is on the ledger like a refused single charge (FAILED, with its code).
    const failed = (await t.history(a)).filter((tx) => tx.status === 'FAILED');
    expect(failed).toEqual([expect.objectContaining({ failureCode: 'INSUFFICIENT_CREDITS', requestedAmount: '5' })]);
    await cleanAudit();
  });

  test("a wallet's items are charged in input order", async () => {
    const a = await funded('10');
    const b = await funded('3');
    // Interleaved over two wallets; each wallet's first items fit and the rest are refused, in order.
    const items: Item[] = [];
    for (let i = 0; i < 15; i++) items.push({ accountId: a, amount: '1', comment: `a${i}` }, { accountId: b, amount: '1', comment: `b${i}` });
    const results = await batch(keyed(items));
    const ofWallet = (id: string) => results.filter((_r, i) => items[i].accountId === id);
    const times = (n: number, what: string): string[] => Array.from({ length: n }, () => what);
    expect(ofWallet(a).map((r) => (r.transaction ? 'ok' : r.error?.code))).toEqual([...times(10, 'ok'), ...times(5, 'INSUFFICIENT_CREDITS')]);
    expect(ofWallet(b).map((r) => (r.transaction ? 'ok' : r.error?.code))).toEqual([...times(3, 'ok'), ...times(12, 'INSUFFICIENT_CREDITS')]);
    const sequences = ofWallet(a).slice(0, 10).map((r) => r.transaction!.sequence!);
    expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
    expect(ofWallet(a).slice(0, 10).map((r) => r.transaction!.comment)).toEqual(Array.from({ length: 10 }, (_v, i) => `a${i}`));
    await cleanAudit();
  });

  test('a replayed batch returns the same results and charges nothing again; so does a replayed item', async () => {
    const a = await funded('10');
    const charges = keyed([{ accountId: a, amount: '4' }, { accountId: a, amount: '4' }, { accountId: a, amount: '4' }]);
    const first = await batch(charges);
    expect(outcomes(first)).toEqual(['-4', '-4', 'INSUFFICIENT_CREDITS']);
    const again = await batch(charges);
    expect(again.map((r) => r.transaction?.id ?? r.error?.code)).toEqual(first.map((r) => r.transaction?.id ?? r.error?.code));
    expect((await t.wallet(a)).balance).toBe('2');
    // One item's key through the single mutation: the same transaction.
    const single = await t.op(ChargeDocument, { input: charges[1] });
    expect(single.charge.id).toBe(first[1].transaction!.id);
    // A key reused with a different charge is refused for that item only.
    const mixed = await batch([{ ...charges[0], amount: '1' }, ...keyed([{ accountId: a, amount: '1' }])]);
    expect(outcomes(mixed)).toEqual(['IDEMPOTENCY_KEY_REUSED', '-1']);
    // A batch of new items and replays: the replays answer from their first result.
    const partly = await batch([charges[0], ...keyed([{ accountId: a, amount: '1' }])]);
    expect(partly.map((r) => r.transaction?.id)).toEqual([first[0].transaction!.id, expect.any(String)]);
    expect((await t.wallet(a)).balance).toBe('0');
    await cleanAudit();
  });

  test('the same key twice in one batch: the second is a replay of the first', async () => {
    const a = await funded('10');
    const [item] = keyed([{ accountId: a, amount: '2' }]);
    const results = await batch([item, item, { ...item, amount: '3' }]);
    expect(results[1].transaction?.id).toBe(results[0].transaction?.id);
    expect(results[2].error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await t.wallet(a)).balance).toBe('8');
  });

  test('atomic: all succeed in one go, or nothing is written and every item says why', async () => {
    const a = await funded('10');
    const b = await funded('2');
    const ok = await batch(keyed([{ accountId: a, amount: '3' }, { accountId: b, amount: '2' }]), true);
    expect(outcomes(ok)).toEqual(['-3', '-2']);
    const historyBefore = (await t.history(a)).length;
    const charges = keyed([{ accountId: a, amount: '1' }, { accountId: b, amount: '1' }, { accountId: a, amount: '1' }]);
    const refused = await batch(charges, true);
    expect(outcomes(refused)).toEqual(['BATCH_ABORTED', 'INSUFFICIENT_CREDITS', 'BATCH_ABORTED']);
    expect(refused[0].error?.details).toMatchObject({ failedIndex: 1, failedCode: 'INSUFFICIENT_CREDITS' });
    // Nothing written: no debit, no FAILED record, the keys still free.
    expect((await t.wallet(a)).balance).toBe('7');
    expect((await t.history(a)).length).toBe(historyBefore);
    expect((await t.history(b)).filter((tx) => tx.status === 'FAILED')).toEqual([]);
    await t.grant(b, '1');
    const retried = await batch(charges, true);
    expect(outcomes(retried)).toEqual(['-1', '-1', '-1']);
    // The same atomic batch again: a replay.
    expect((await batch(charges, true)).map((r) => r.transaction?.id)).toEqual(retried.map((r) => r.transaction?.id));
    expect((await t.wallet(a)).balance).toBe('5');
    await cleanAudit();
  });

  test('atomic: an unknown account, a bad item, a reused key or a key given twice aborts the batch', async () => {
    const a = await funded('10');
    expect(outcomes(await batch(keyed([{ accountId: a, amount: '1' }, { accountId: UNKNOWN, amount: '1' }]), true))).toEqual(['BATCH_ABORTED', 'NOT_FOUND']);
    expect(outcomes(await batch(keyed([{ accountId: a, amount: '1' }, { accountId: a, amount: '-1' }]), true))).toEqual(['BATCH_ABORTED', 'BAD_USER_INPUT']);
    const [used] = keyed([{ accountId: a, amount: '1' }]);
    await batch([used]);
    expect(outcomes(await batch([...keyed([{ accountId: a, amount: '1' }]), { ...used, amount: '2' }], true))).toEqual(['BATCH_ABORTED', 'IDEMPOTENCY_KEY_REUSED']);
    const [twice] = keyed([{ accountId: a, amount: '1' }]);
    const dup = await batch([twice, twice], true);
    expect(outcomes(dup)).toEqual(['BATCH_ABORTED', 'BAD_USER_INPUT']);
    expect((await t.wallet(a)).balance).toBe('9');
    await cleanAudit();
  });

  test('limits: at least one item, at most the maximum', async () => {
    const a = await funded('10');
    expect((await t.opFails(ChargeBatchDocument, { input: { charges: [] } })).code).toBe('BAD_USER_INPUT');
    const tooMany = keyed(Array.from({ length: 1_001 }, () => ({ accountId: a, amount: '1' })));
    expect((await t.opFails(ChargeBatchDocument, { input: { charges: tooMany } })).code).toBe('BAD_USER_INPUT');
    const small = await startTestApp({ chargeBatchItemsMax: 3 });
    try {
      const id = await small.createAccount();
      await small.grant(id, '10');
      const four = keyed(Array.from({ length: 4 }, () => ({ accountId: id, amount: '1' })));
      const error = await small.opFails(ChargeBatchDocument, { input: { charges: four } });
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.message).toContain('at most 3');
      expect((await small.wallet(id)).balance).toBe('10');
      expect(outcomes((await small.op(ChargeBatchDocument, { input: { charges: four.slice(0, 3) } })).chargeBatch.results)).toEqual(['-1', '-1', '-1']);
    } finally {
      await small.close();
    }
    expect((await t.wallet(a)).balance).toBe('10');
  });

  test('1,000 charges over 100 wallets: every one charged once, in far fewer statements than charges', async () => {
    const wallets: string[] = [];
    for (let i = 0; i < 100; i++) wallets.push(await funded('100'));
    const charges = keyed(Array.from({ length: 1_000 }, (_v, i) => ({ accountId: wallets[i % 100], amount: '1' })));
    let results: Awaited<ReturnType<typeof batch>> = [];
    const statements = await t.countQueries(async () => { results = await batch(charges); });
    expect(results.every((r) => r.transaction?.amount === '-1')).toBe(true);
    expect(new Set(results.map((r) => r.transaction!.id)).size).toBe(1_000);
    // Coalesced per lane into transactions of up to CHARGE_BATCH_SIZE_MAX: a few statements per transaction.
    expect(statements).toBeLessThan(200); // 119 when written
    for (const id of wallets.slice(0, 5)) expect((await t.wallet(id)).balance).toBe('90');
    await cleanAudit();
  });

  test("a READONLY key or a user token may not charge; a partner key's items on other accounts answer NOT_FOUND alone", async () => {
    const a = await funded('10');
    const readonly = await t.key('READONLY');
    expect((await t.opFails(ChargeBatchDocument, { input: { charges: keyed([{ accountId: a, amount: '1' }]) } }, readonly)).code).toBe('FORBIDDEN');
    expect((await t.opFails(ChargeBatchDocument, { input: { charges: keyed([{ accountId: a, amount: '1' }]) } }, await t.userToken(a))).code).toBe('FORBIDDEN');
    const partner = (await t.ok<{ createApiKey: { secret: string } }>(`mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`,
      { i: { name: 'batch partner', role: 'SERVICE', partner: uniqueKey('partner') } })).createApiKey.secret;
    const own = (await t.ok<{ createAccount: { id: string } }>(`mutation { createAccount(input: { name: "partner's" }) { id } }`, {}, partner)).createAccount.id;
    await t.grant(own, '10');
    const results = await batch(keyed([{ accountId: own, amount: '1' }, { accountId: a, amount: '1' }, { accountId: 'not-a-uuid', amount: '1' }, { accountId: own, amount: '2' }]), false, partner);
    expect(outcomes(results)).toEqual(['-1', 'NOT_FOUND', 'NOT_FOUND', '-2']);
    expect((await t.wallet(a)).balance).toBe('10');
    expect((await t.wallet(own)).balance).toBe('7');
  });

  test('the typed client fills in a key per item and a retry sends the same ones', async () => {
    const a = await funded('10');
    let attempts = 0;
    const bodies: string[] = [];
    const client = t.client(t.adminKey, {
      retry: { maxAttempts: 2, baseDelayMs: 1 },
      fetch: async (url, init) => {
        bodies.push(init?.body as string);
        // The first attempt reaches the server, but its answer is lost: the retry must be a replay.
        const response = await fetch(url, init);
        if (++attempts === 1) return new Response('upstream lost', { status: 503 });
        return response;
      },
    });
    const { chargeBatch } = await client.request(ChargeBatchDocument, { input: { charges: [{ accountId: a, amount: '2' }, { accountId: a, amount: '3' }] } });
    expect(outcomes(chargeBatch.results)).toEqual(['-2', '-3']);
    const keysOf = (body: string) => (JSON.parse(body) as { variables: { input: { charges: { idempotencyKey: string }[] } } }).variables.input.charges.map((c) => c.idempotencyKey);
    expect(bodies).toHaveLength(2);
    expect(keysOf(bodies[1])).toEqual(keysOf(bodies[0]));
    expect(new Set(keysOf(bodies[0])).size).toBe(2);
    expect((await t.wallet(a)).balance).toBe('5');
  });
});

describe('chargeGenerationBatch', () => {
  const image = (count: number) => ({ action: 'image.generate', model: 'sdxl', params: { count } });

  test('each item priced by the rate card or its quote, refusals per item, in order', async () => {
    const a = await funded('30');
    const quote = (await t.op(QuoteDocument, { accountId: a, generation: image(1) })).quote;
    const results = (await t.op(ChargeGenerationBatchDocument, { input: { charges: [
      { accountId: a, generation: image(2), idempotencyKey: uniqueKey() },
      { accountId: a, quoteId: quote.id, idempotencyKey: uniqueKey() },
      { accountId: a, quoteId: quote.id, idempotencyKey: uniqueKey() }, // used by the item before
      { accountId: a, generation: { action: 'video.generate', model: 'nope', params: {} }, idempotencyKey: uniqueKey() },
      { accountId: a, idempotencyKey: uniqueKey() }, // neither generation nor quote
      { accountId: a, generation: image(4), idempotencyKey: uniqueKey() }, // 20 > 15 left
      { accountId: a, generation: image(3), idempotencyKey: uniqueKey() },
    ] } })).chargeGenerationBatch.results;
    expect(outcomes(results)).toEqual(['-10', '-5', 'QUOTE_EXPIRED', 'BAD_USER_INPUT', 'BAD_USER_INPUT', 'INSUFFICIENT_CREDITS', '-15']);
    expect(results[0].transaction?.pricing).toMatchObject({ lineItems: [expect.objectContaining({ credits: '10' })] });
    expect(results[1].transaction?.quoteId).toBe(quote.id);
    expect((await t.wallet(a)).balance).toBe('0');
    await cleanAudit();
  });

  test('generation charges priced from the card share database transactions: 50 on one wallet in a few statements', async () => {
    const a = await funded('1000');
    const charges = Array.from({ length: 50 }, () => ({ accountId: a, generation: image(1), idempotencyKey: uniqueKey() }));
    let results: { transaction: { amount: string } | null }[] = [];
    const statements = await t.countQueries(async () => { results = (await t.op(ChargeGenerationBatchDocument, { input: { charges } })).chargeGenerationBatch.results; });
    expect(results.every((r) => r.transaction?.amount === '-5')).toBe(true);
    // One transaction for all 50 (one of its own each, or a plan-tier read each, would be 50+).
    expect(statements).toBeLessThan(30);
    expect((await t.wallet(a)).balance).toBe('750');
  });

  test('atomic generation batches write nothing when one item fails; replays return the first results', async () => {
    const a = await funded('12');
    const charges = [
      { accountId: a, generation: image(1), idempotencyKey: uniqueKey() },
      { accountId: a, generation: image(2), idempotencyKey: uniqueKey() }, // 10 > 7 left
    ];
    const refused = (await t.op(ChargeGenerationBatchDocument, { input: { charges, atomic: true } })).chargeGenerationBatch.results;
    expect(outcomes(refused)).toEqual(['BATCH_ABORTED', 'INSUFFICIENT_CREDITS']);
    expect((await t.wallet(a)).balance).toBe('12');
    await t.grant(a, '3');
    const done = (await t.op(ChargeGenerationBatchDocument, { input: { charges, atomic: true } })).chargeGenerationBatch.results;
    expect(outcomes(done)).toEqual(['-5', '-10']);
    const replay = (await t.op(ChargeGenerationBatchDocument, { input: { charges } })).chargeGenerationBatch.results;
    expect(replay.map((r) => r.transaction?.id)).toEqual(done.map((r) => r.transaction?.id));
    expect((await t.wallet(a)).balance).toBe('0');
    await cleanAudit();
  });
});
