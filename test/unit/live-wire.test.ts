/** The live messages' wire format (Redis): what crosses, what a receiver can tell from the header alone. */
import { decode, encode, encodeResync, openEnvelope } from '../../src/modules/events/live-transport';
import type { TransactionRow } from '../../src/modules/ledger';
import type { AlertRow } from '../../src/modules/alerts';

const row = {
  pos: 0, id: 'tx-1', accountId: 'acc-1', sequence: 7, type: 'CHARGE', status: 'SUCCEEDED', amountMillis: -1500, heldChangeMillis: 0, debtChangeMillis: 0,
  balanceAfterMillis: 8500, availableAfterMillis: 8500, requestedMillis: 1500, action: 'image.generate', model: 'sdxl', params: { count: 2 }, actor: 'key:k',
  comment: null, idempotencyKey: 'i-1', quoteId: null, holdId: null, relatedTransactionId: null, failureCode: null, failureMessage: null,
  pricing: { lines: [{ label: 'image', credits: '1.5' }] }, vendorUsage: null, createdAt: new Date('2026-03-01T10:00:00.123Z'),
} as TransactionRow;
const alert = {
  pos: 12, id: 'al-1', accountId: 'acc-2', kind: 'LOW_BALANCE', thresholdMillis: 10_000, availableMillis: 8_500, message: 'low', transactionId: 'tx-1',
  dedupeKey: null, createdAt: new Date('2026-03-01T10:00:00.200Z'), readAt: null,
} as AlertRow;

test('events cross whole (dates revived), with their accounts in the header', () => {
  const data = encode('origin-a', 1234, { type: 'events', rows: [row], alerts: [alert] });
  const envelope = openEnvelope(data)!;
  expect(envelope).toMatchObject({ origin: 'origin-a', sentAtMs: 1234, type: 'events', accountIds: ['acc-1', 'acc-2'] });
  const message = decode(envelope as typeof envelope & { type: 'events' });
  expect(message).toEqual({ type: 'events', rows: [row], alerts: [alert] });
  if (message.type !== 'events') throw new Error('events expected');
  expect(message.rows[0].createdAt).toBeInstanceOf(Date);
  expect(message.alerts[0].createdAt).toBeInstanceOf(Date);
});

test('a live row\'s pos (not the ledger\'s) stays home', () => {
  const data = encode('o', 1, { type: 'events', rows: [{ ...row, pos: 99 }], alerts: [] });
  expect(data).not.toContain('"pos"');
  const message = decode(openEnvelope(data) as ReturnType<typeof openEnvelope> & { type: 'events' });
  expect(message.type === 'events' && message.rows[0].pos).toBe(0);
});

test('revocations and resync requests; anything else is not a message', () => {
  const revoked = openEnvelope(encode('o', 5, { type: 'revoked', keyId: 'key-1' }))!;
  expect(revoked).toMatchObject({ type: 'revoked', accountIds: [] });
  expect(decode(revoked as typeof revoked & { type: 'revoked' })).toEqual({ type: 'revoked', keyId: 'key-1' });
  expect(openEnvelope(encodeResync('o', 6))).toMatchObject({ origin: 'o', type: 'resync' });
  for (const junk of ['', 'hello', 'v2|o|1|events||{}', 'v1|o|1|other||{}', 'v1|o|1|events']) expect(openEnvelope(junk)).toBeNull();
  expect(() => decode({ origin: 'o', sentAtMs: 1, type: 'revoked', accountIds: [], body: '{}' })).toThrow();
});
