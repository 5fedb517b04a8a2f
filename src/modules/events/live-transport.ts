/**
 * How live messages reach the other instances: one small interface, two implementations
 * (ARCHITECTURE.md). `InProcessTransport` (no REDIS_URL) has no other instance to reach: the hub's own
 * delivery is all there is. `RedisTransport` (./redis-transport.ts) publishes on Redis pub/sub.
 *
 * A transport is a hint, never the source of truth: a message may be late, out of order or lost
 * (Redis down or slow). Whatever is lost is recovered from the database — the ledger for wallet
 * events, the alerts table for alerts, api_keys for revocations — when the transport says `resync`.
 */
import type { TransactionRow } from '../ledger';
import type { AlertRow } from '../alerts';

export type LiveMessage =
  /** Committed ledger transactions (sequenced ones only) and the alerts raised with them or on their own. */
  | { type: 'events'; rows: readonly TransactionRow[]; alerts: readonly AlertRow[] }
  /** An API key was revoked: its sockets close on every instance. */
  | { type: 'revoked'; keyId: string };

export type ResyncReason = 'reconnect' | 'peer' | 'interval';

export interface LiveTransport {
  readonly kind: 'in-process' | 'redis';
  /** Hands a message to every other instance, after commit. Never throws and never waits. */
  send(message: LiveMessage): void;
  /** Messages from the other instances (never this instance's own). Returns an unsubscribe function. */
  onMessage(handler: (message: LiveMessage) => void): () => void;
  /** Messages from other instances may have been lost: catch up from the database. */
  onResync(handler: (reason: ResyncReason) => void): () => void;
  /**
   * Which accounts this instance has subscribers for (events of other accounts are dropped before they are
   * decoded). Given once, by the hub.
   */
  setInterest(interested: (accountIds: readonly string[]) => boolean): void;
  /** 1 when connected, 0 when not; null when there is nothing to connect to (in-process). */
  up(): number | null;
  close(): Promise<void>;
}

/** One instance: nothing leaves the process, and nothing can be lost on the way. */
export class InProcessTransport implements LiveTransport {
  readonly kind = 'in-process' as const;
  send(): void {}
  onMessage(): () => void { return () => {}; }
  onResync(): () => void { return () => {}; }
  setInterest(): void {}
  up(): null { return null; }
  async close(): Promise<void> {}
}

// ---------------------------------------------------------------- the wire format (Redis)

/**
 * `v1|<origin>|<sentAtMs>|<type>|<accountIds, comma-separated>|<JSON body>`. The header lets a receiver
 * drop its own messages and those of accounts nobody watches on it without parsing the body. The body
 * carries what a subscriber's selection may need: the committed rows as the ledger wrote them (every
 * column a LedgerTransaction field reads; failed attempts are never published) and the alerts; entries,
 * buckets and accounts are loaded by the fields that select them, once per event (shared execution).
 */
const VERSION = 'v1';

export interface Envelope {
  origin: string;
  sentAtMs: number;
  /** `resync`: the sender lost messages (Redis was away from it); every instance catches up. */
  type: LiveMessage['type'] | 'resync';
  accountIds: string[];
  body: string;
}

export function encode(origin: string, sentAtMs: number, message: LiveMessage): string {
  if (message.type === 'revoked') return [VERSION, origin, sentAtMs, 'revoked', '', JSON.stringify({ k: message.keyId })].join('|');
  const accountIds = new Set<string>();
  for (const row of message.rows) accountIds.add(row.accountId);
  for (const alert of message.alerts) accountIds.add(alert.accountId);
  // A live row's `pos` is not the ledger's (the ledger leaves it 0 until read back): it stays home.
  const rows = message.rows.map(({ pos: _pos, ...row }) => row);
  return [VERSION, origin, sentAtMs, 'events', [...accountIds].join(','), JSON.stringify({ r: rows, a: message.alerts })].join('|');
}

export function encodeResync(origin: string, sentAtMs: number): string {
  return [VERSION, origin, sentAtMs, 'resync', '', '{}'].join('|');
}

/** The header of a message; null when it is not one of ours. */
export function openEnvelope(data: string): Envelope | null {
  const cuts: number[] = [];
  for (let i = 0; cuts.length < 5; i += 1) {
    i = data.indexOf('|', i);
    if (i < 0) return null;
    cuts.push(i);
  }
  if (data.slice(0, cuts[0]) !== VERSION) return null;
  const type = data.slice(cuts[2] + 1, cuts[3]);
  if (type !== 'events' && type !== 'revoked' && type !== 'resync') return null;
  const accountIds = data.slice(cuts[3] + 1, cuts[4]);
  return {
    origin: data.slice(cuts[0] + 1, cuts[1]), sentAtMs: Number(data.slice(cuts[1] + 1, cuts[2])), type,
    accountIds: accountIds ? accountIds.split(',') : [], body: data.slice(cuts[4] + 1),
  };
}

/** The message of an envelope (dates revived); throws on a malformed body. */
export function decode(envelope: Envelope & { type: LiveMessage['type'] }): LiveMessage {
  const body = JSON.parse(envelope.body) as { k?: string; r?: TransactionRow[]; a?: AlertRow[] };
  if (envelope.type === 'revoked') {
    if (typeof body.k !== 'string') throw new Error('revoked: no key id');
    return { type: 'revoked', keyId: body.k };
  }
  const rows = body.r ?? [];
  const alerts = body.a ?? [];
  for (const row of rows) {
    row.pos = 0;
    row.createdAt = new Date(row.createdAt);
  }
  for (const alert of alerts) {
    alert.createdAt = new Date(alert.createdAt);
    if (alert.readAt !== null) alert.readAt = new Date(alert.readAt);
  }
  return { type: 'events', rows, alerts };
}
