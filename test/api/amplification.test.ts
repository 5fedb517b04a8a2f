/**
 * No amplification: subscriptions are bounded per connection and per account, a replay reads the
 * ledger a page at a time as the client takes events, quotes are bounded per request, and expired
 * quotes are purged by the job.
 */
import { sql } from 'drizzle-orm';
import {
  ChargeDocument, CreateRateCardDraftDocument, CreditsApiError, PublishRateCardDocument, QuoteDocument, SetRateCardRatesDocument, WalletEventsDocument,
  type CreditsClient, type GenerationInput,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { WalletEventHub } from '../../src/modules/events';
import { ledgerOnlyStore } from '../helpers/live';
import type { TransactionRow } from '../../src/modules/ledger';
import { rows } from '../../src/db/client';

let t: TestApp;
beforeAll(async () => { t = await startTestApp({ subscriptionsPerConnectionMax: 3, subscriptionsPerAccountMax: 4, quotesPerRequestMax: 5 }); });
afterAll(async () => { await t.close(); });

type Refusal = Pick<CreditsApiError, 'code' | 'extensions'>;

/** Subscribes and resolves once the server has accepted it (its first event) or refused it (its error). */
function open(client: CreditsClient, accountId: string): { result: Promise<'open' | Refusal>; stop: () => void } {
  let stop = () => {};
  const result = new Promise<'open' | Refusal>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
    stop = client.subscribe(WalletEventsDocument, { accountId }, {
      next: () => { clearTimeout(timer); resolve('open'); },
      error: (error) => {
        clearTimeout(timer);
        if (error instanceof CreditsApiError) resolve({ code: error.code, extensions: error.extensions });
        else reject(error instanceof Error ? error : new Error(`subscription failed: ${JSON.stringify(error)}`));
      },
    });
  });
  return { result, stop: () => stop() };
}

/** Opens a subscription and proves it is live by charging and waiting for the event. */
async function openLive(client: CreditsClient, accountId: string) {
  const sub = open(client, accountId);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await t.op(ChargeDocument, { input: { accountId, amount: '1', idempotencyKey: uniqueKey() } });
  expect(await sub.result).toBe('open');
  return sub;
}

test('one connection holds at most subscriptionsPerConnectionMax subscriptions', async () => {
  const accounts = [await t.createAccount(), await t.createAccount(), await t.createAccount(), await t.createAccount()];
  for (const a of accounts) await t.grant(a, '100');
  const client = t.client();
  const subs = [];
  for (const a of accounts.slice(0, 3)) subs.push(await openLive(client, a));
  const fourth = await open(client, accounts[3]).result;
  expect(fourth).toMatchObject({ code: 'RATE_LIMITED', extensions: { limit: 'subscriptionsPerConnection', subscriptionsMax: 3 } });
  subs[0].stop();
  await new Promise((resolve) => setTimeout(resolve, 100));
  subs.push(await openLive(client, accounts[3])); // room again after one completed
  for (const s of subs) s.stop();
});

test('one account has at most subscriptionsPerAccountMax subscribers, over all connections', async () => {
  const accountId = await t.createAccount();
  await t.grant(accountId, '100');
  const subs = [];
  for (let i = 0; i < 4; i += 1) subs.push(await openLive(t.client(), accountId));
  const fifth = await open(t.client(), accountId).result;
  expect(fifth).toMatchObject({ code: 'RATE_LIMITED', extensions: { limit: 'subscriptionsPerAccount', subscriptionsMax: 4 } });
  for (const s of subs) s.stop();
});

test('a replay reads one page of the ledger at a time, as the reader takes events', async () => {
  const ACCOUNT = 'acc-1';
  const history = Array.from({ length: 450 }, (_, i) => ({ accountId: ACCOUNT, sequence: i + 1 } as TransactionRow));
  const reads: number[] = [];
  const hub = new WalletEventHub({
    store: ledgerOnlyStore(async (_accountId, after, limit) => {
      reads.push(after);
      return history.filter((r) => r.sequence! > after).slice(0, limit);
    }),
    subscriptionsPerAccountMax: 10,
  });
  const iterator = hub.subscribe(ACCOUNT, 0);
  const nextSequence = async () => {
    const result = await iterator.next();
    if (result.done) throw new Error('the replay ended');
    return result.value.row.sequence;
  };
  expect(await nextSequence()).toBe(1);
  expect(reads).toEqual([0]); // one page, not the whole history
  for (let i = 2; i <= 100; i += 1) expect(await nextSequence()).toBe(i);
  expect(reads).toEqual([0]);
  expect(await nextSequence()).toBe(101);
  expect(reads).toEqual([0, 100]);
  for (let i = 102; i <= 450; i += 1) expect(await nextSequence()).toBe(i);
  expect(reads).toEqual([0, 100, 200, 300, 400]);
  await iterator.return!();
});

describe('quotes', () => {
  let accountId: string;
  // Aliased quotes in one request: a document of its own, as a client that tries to multiply work would send it.
  const QUOTE = (alias: string) => `${alias}: quote(accountId: $a, generation: { action: "amp.generate", params: { count: 1 } }) { id credits }`;
  const generation: GenerationInput = { action: 'amp.generate', params: { count: 1 } };

  beforeAll(async () => {
    const draftId = (await t.op(CreateRateCardDraftDocument, { input: { name: 'amplification', empty: true } })).createRateCardDraft.id;
    await t.op(SetRateCardRatesDocument, { input: { draftId, rates: [
      { action: 'amp.generate', components: [{ unit: 'IMAGE', pricePerUnit: '2' }] },
    ] } });
    await t.op(PublishRateCardDocument, { draftId });
    accountId = await t.createAccount();
  });

  test('at most quotesPerRequestMax quotes per request, however aliased', async () => {
    const five = await t.gql(`query($a: ID!) { ${['a', 'b', 'c', 'd', 'e'].map(QUOTE).join(' ')} }`, { a: accountId });
    expect(five.errors).toBeUndefined();
    const six = await t.gql(`query($a: ID!) { ${['a', 'b', 'c', 'd', 'e', 'f'].map(QUOTE).join(' ')} }`, { a: accountId });
    expect(six.errors).toHaveLength(1);
    expect(six.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'quote' });
    expect(six.data ?? null).toBeNull(); // quote is non-null: its refusal nulls the whole answer
  });

  test('the job purges quotes that expired longer ago than idempotency keys live, and only those', async () => {
    const countMine = async () => Number((await rows<{ n: string }>(t.database.db, sql`select count(*) as n from quotes where account_id = ${accountId}`))[0].n);
    const old = await t.op(QuoteDocument, { accountId, generation });
    expect(old.quote.id).toBeTruthy();
    const before = await countMine();
    const { quoteTtlSeconds, idempotencyKeyTtlSeconds } = t.app.services.config;
    t.clock.advanceSeconds(quoteTtlSeconds + idempotencyKeyTtlSeconds + 60);
    const fresh = await t.op(QuoteDocument, { accountId, generation });
    expect(await t.app.services.pricing.purgeExpiredQuotes()).toBeGreaterThanOrEqual(before);
    expect(await countMine()).toBe(1); // only the fresh one is left
    const left = await rows<{ id: string }>(t.database.db, sql`select id from quotes where account_id = ${accountId}`);
    expect(left.map((r) => r.id)).toEqual([fresh.quote.id]);
  });
});
