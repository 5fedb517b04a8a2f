/**
 * The fan-out shape's subscribers (forked by bench/fanout.ts, one process per server instance, so
 * their work is not the load generator's): many graphql-ws sockets, one walletEvents subscription
 * each, as that many dashboards. For each event it records when it arrived here (with its
 * transaction's id: bench/fanout.ts compares it with when the charge's answer arrived), and checks
 * the sequence: every event is the previous one + 1 (a gap or a duplicate is counted).
 *
 * IPC: `open` → `opened` once every socket is acknowledged; `reset` clears the figures; `report` →
 * `report`; `close` ends every subscription and socket → `closed`; `stop` exits.
 */
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';

export interface SubscriptionSpec {
  accountId: string;
  token: string;
  /** The wallet's sequence when subscribing: the first event expected is the next one. */
  afterSequence: number;
}

export type SubscriberRequest =
  | { type: 'open'; wsUrl: string; subscriptions: SubscriptionSpec[]; parallel: number }
  | { type: 'reset' }
  | { type: 'report' }
  | { type: 'close' }
  | { type: 'stop' };

export interface SubscriberReport {
  events: number;
  /** [transaction id, arrival time (ms since the epoch)] of the events (at most RECEIPTS_MAX, a uniform sample beyond). */
  receipts: [string, number][];
  gaps: number;
  duplicates: number;
  errors: number;
  firstError?: string;
  /** Each subscription's last sequence, in the order opened. */
  lastSequences: number[];
}

export type SubscriberReply =
  | { type: 'opened'; count: number; seconds: number }
  | ({ type: 'report' } & SubscriberReport)
  | { type: 'closed' }
  | { type: 'error'; message: string };

const QUERY = 'subscription($id: ID!, $after: Int) { walletEvents(accountId: $id, afterSequence: $after) { sequence balance available transaction { id createdAt } } }';
const RECEIPTS_MAX = 300_000;

interface Live {
  client: Client;
  last: number;
}

let live: Live[] = [];
let receipts: [string, number][] = [];
let events = 0;
let gaps = 0;
let duplicates = 0;
let errors = 0;
let firstError: string | undefined;

function reply(message: SubscriberReply): void {
  process.send?.(message);
}

async function open(wsUrl: string, subscriptions: SubscriptionSpec[], parallel: number): Promise<void> {
  const started = Date.now();
  live = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < subscriptions.length; i = next++) {
      const spec = subscriptions[i];
      const entry: Live = { client: null as unknown as Client, last: spec.afterSequence };
      await new Promise<void>((resolve) => {
        entry.client = createClient({
          url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0,
          connectionParams: { authorization: `Bearer ${spec.token}` },
          on: { connected: () => resolve(), closed: () => resolve() },
        });
      });
      entry.client.subscribe<{ walletEvents: { sequence: number; transaction: { id: string } } }>({ query: QUERY, variables: { id: spec.accountId, after: spec.afterSequence } }, {
        next: (result) => {
          const received = Date.now();
          const event = result.data?.walletEvents;
          if (!event) {
            errors += 1;
            firstError ??= JSON.stringify(result.errors).slice(0, 300);
            return;
          }
          events += 1;
          const receipt: [string, number] = [event.transaction.id, received];
          if (receipts.length < RECEIPTS_MAX) receipts.push(receipt);
          else if (Math.random() < RECEIPTS_MAX / events) receipts[Math.floor(Math.random() * RECEIPTS_MAX)] = receipt; // a uniform sample
          if (event.sequence === entry.last + 1) entry.last = event.sequence;
          else if (event.sequence <= entry.last) duplicates += 1;
          else {
            gaps += 1;
            entry.last = event.sequence;
          }
        },
        error: (error) => {
          errors += 1;
          firstError ??= String((error as { message?: string })?.message ?? JSON.stringify(error)).slice(0, 300);
        },
        complete: () => {},
      });
      live[i] = entry; // in the order given, whatever order the sockets opened in
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  reply({ type: 'opened', count: live.length, seconds: (Date.now() - started) / 1000 });
}

process.on('message', (request: SubscriberRequest) => {
  void (async () => {
    try {
      switch (request.type) {
        case 'open':
          await open(request.wsUrl, request.subscriptions, request.parallel);
          return;
        case 'reset':
          receipts = [];
          events = gaps = duplicates = errors = 0;
          firstError = undefined;
          return;
        case 'report':
          reply({
            type: 'report', events, receipts, gaps, duplicates, errors,
            ...(firstError ? { firstError } : {}), lastSequences: live.map((l) => l.last),
          });
          return;
        case 'close':
          await Promise.all(live.map(async (l) => l.client.dispose()));
          live = [];
          reply({ type: 'closed' });
          return;
        case 'stop':
          await Promise.all(live.map(async (l) => l.client.dispose()));
          process.exit(0);
      }
    } catch (error) {
      reply({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
