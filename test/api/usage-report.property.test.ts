/**
 * usageReport against the ledger itself (property, fast-check): random histories — grants of every
 * source (some expiring, expired by settling the wallet after their expiresAt), charges (on credit
 * when the wallet has an overdraft), holds captured or released, partial refunds, reversals — at
 * random times (often on quarter-hours, so on local midnights too) over a few weeks, then reports in
 * random zones and granularities over random ranges. Every figure of the totals and of each period is
 * derived again, independently, from ledger_transactions / ledger_entries / buckets: flows by the
 * transactions' created_at within [start, end), free or purchased by the paying bucket's source, on
 * credit by the debt entries, and the stocks at an instant from the balance after the last transaction
 * before it plus the debt accumulated until then. The period boundaries are checked with Intl too.
 *
 * Years 2302–2305 (H1's 2301–2309); every run has its own accounts.
 */
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import {
  CaptureHoldDocument, ChargeDocument, GrantCreditsDocument, RefundDocument, ReleaseHoldDocument, ReserveCreditsDocument,
  ReverseTransactionDocument, UpdateWalletDocument, UsageReportDocument, type UsageReportQuery,
} from '../../src/client';
import { CreditsApiError } from '../../src/client/errors';
import { rows } from '../../src/db/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const QUARTER_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Pacific/Chatham', 'America/Santiago', 'Australia/Lord_Howe'];
const SOURCES = ['PROMO', 'ADJUSTMENT', 'PURCHASE', 'ROLLOVER', 'PLAN_ALLOWANCE', 'REFUND'] as const;

const creditsText = (millis: number) => `${Math.floor(millis / 1000)}.${String(millis % 1000).padStart(3, '0')}`;
const millisOf = (credits: string) => Math.round(Number(credits) * 1000);

type Op =
  | { kind: 'grant'; source: (typeof SOURCES)[number]; millis: number; expiresInMinutes: number | null }
  | { kind: 'charge'; millis: number; action: string; model: string }
  | { kind: 'hold'; millis: number; then: 'capture' | 'release' | 'leave'; capturePercent: number }
  | { kind: 'refund'; pick: number; percent: number | null }
  | { kind: 'reverse'; pick: number }
  | { kind: 'settle' };

const amount = fc.integer({ min: 1, max: 150_000 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('grant' as const), source: fc.constantFrom(...SOURCES), millis: fc.integer({ min: 1, max: 1_000_000 }), expiresInMinutes: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 * 24 * 60 }) }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('charge' as const), millis: amount, action: fc.constantFrom('', 'chat', 'image'), model: fc.constantFrom('', 'm1', 'm2') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hold' as const), millis: amount, then: fc.constantFrom('capture' as const, 'release' as const, 'leave' as const), capturePercent: fc.integer({ min: 0, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), pick: fc.nat(), percent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reverse' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settle' as const) }) },
);
/** The wait before an operation: often a whole number of quarter-hours (local midnights of many zones), else any ms. */
const gapArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 96 }).map((q) => q * QUARTER_MS) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: DAY_MS }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 * DAY_MS }) },
);

const historyArb = fc.record({
  startMs: fc.integer({ min: Date.parse('2302-01-01T00:00:00Z') / QUARTER_MS, max: Date.parse('2305-06-01T00:00:00Z') / QUARTER_MS }).map((q) => q * QUARTER_MS),
  overdraftMillis: fc.constantFrom(0, 0, 200_000),
  steps: fc.array(fc.tuple(gapArb, opArb), { minLength: 10, maxLength: 20 }),
  reports: fc.array(fc.record({
    zone: fc.constantFrom(...ZONES), granularity: fc.constantFrom('DAY' as const, 'MONTH' as const),
    a: fc.double({ min: -0.1, max: 1.1, noNaN: true }), b: fc.double({ min: -0.1, max: 1.1, noNaN: true }),
  }), { minLength: 2, maxLength: 2 }),
});

/**
 * Runs an operation; a refusal (insufficient credits, an expired hold, …) is part of a random history.
 * BAD_USER_INPUT too where the history cannot tell beforehand (nothing left to refund or reverse, a zero capture).
 */
async function attempt<T>(fn: () => Promise<T>, badInputExpected = false): Promise<T | null> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof CreditsApiError && (error.code !== 'BAD_USER_INPUT' || badInputExpected)) return null;
    throw error;
  }
}

async function play(accountId: string, startMs: number, steps: [number, Op][]): Promise<number> {
  let now = startMs;
  const consumers: string[] = []; // succeeded charges and captures (refundable)
  const reversible: string[] = [];
  for (const [gap, op] of steps) {
    now += gap;
    t.clock.set(new Date(now));
    const key = uniqueKey('urp');
    switch (op.kind) {
      case 'grant': {
        const expiresAt = op.expiresInMinutes === null ? undefined : new Date(now + op.expiresInMinutes * 60_000).toISOString();
        const g = await attempt(() => t.op(GrantCreditsDocument, { input: { accountId, amount: creditsText(op.millis), source: op.source, expiresAt, idempotencyKey: key } }));
        if (g?.grantCredits.status === 'SUCCEEDED') reversible.push(g.grantCredits.id);
        break;
      }
      case 'charge': {
        const c = await attempt(() => t.op(ChargeDocument, { input: { accountId, amount: creditsText(op.millis), action: op.action || undefined, model: op.model || undefined, idempotencyKey: key } }));
        if (c?.charge.status === 'SUCCEEDED') { consumers.push(c.charge.id); reversible.push(c.charge.id); }
        break;
      }
      case 'hold': {
        const h = await attempt(() => t.op(ReserveCreditsDocument, { input: { accountId, amount: creditsText(op.millis), ttlSeconds: 3600, idempotencyKey: key } }));
        if (!h) break;
        if (op.then === 'capture') {
          const captured = Math.floor((op.millis * op.capturePercent) / 100);
          const c = await attempt(() => t.op(CaptureHoldDocument, { input: { holdId: h.reserveCredits.id, amount: creditsText(captured), idempotencyKey: `${key}-c` } }), true);
          if (c?.captureHold.status === 'SUCCEEDED') consumers.push(c.captureHold.id);
        } else if (op.then === 'release') {
          await attempt(() => t.op(ReleaseHoldDocument, { input: { holdId: h.reserveCredits.id, idempotencyKey: `${key}-r` } }));
        }
        break;
      }
      case 'refund': {
        if (consumers.length === 0) break;
        const id = consumers[op.pick % consumers.length];
        const r = await attempt(async () => {
          const original = (await rows<{ amount_millis: string }>(t.database.db, sql`select amount_millis::text from ledger_transactions where id = ${id}`))[0];
          const part = op.percent === null ? undefined : creditsText(Math.max(1, Math.floor((-Number(original.amount_millis) * op.percent) / 100)));
          return t.op(RefundDocument, { input: { transactionId: id, amount: part, idempotencyKey: key } });
        }, true);
        if (r?.refund.status === 'SUCCEEDED') reversible.push(r.refund.id);
        break;
      }
      case 'reverse': {
        if (reversible.length === 0) break;
        const id = reversible.splice(op.pick % reversible.length, 1)[0];
        await attempt(() => t.op(ReverseTransactionDocument, { input: { transactionId: id, idempotencyKey: key } }), true);
        break;
      }
      case 'settle':
        await t.app.services.ledger.settleWallet(accountId);
        break;
    }
  }
  await t.app.services.ledger.settleWallet(accountId); // what lapsed by the end is expired then (reads do not post)
  return now;
}

interface LedgerRow {
  id: string;
  type: string;
  amount: number;
  debtChange: number;
  balanceAfter: number;
  sequence: number;
  at: number;
  action: string;
  model: string;
  entries: { kind: string; millis: number; source: string | null }[];
}

async function ledgerOf(accountId: string): Promise<LedgerRow[]> {
  const found = await rows<{ id: string; type: string; amount: string; debt_change: string; balance_after: string; sequence: number; created_at: string | Date; action: string | null; model: string | null; kind: string | null; entry: string | null; source: string | null }>(t.database.db, sql`
    select x.id, x.type, x.amount_millis::text as amount, x.debt_change_millis::text as debt_change, x.balance_after_millis::text as balance_after,
      x.sequence, x.created_at, x.action, x.model, e.kind, e.amount_millis::text as entry, b.source
    from ledger_transactions x
    left join ledger_entries e on e.transaction_id = x.id
    left join buckets b on b.id = e.bucket_id
    where x.account_id = ${accountId} and x.status = 'SUCCEEDED'
    order by x.sequence, e.id`);
  const byId = new Map<string, LedgerRow>();
  for (const r of found) {
    let row = byId.get(r.id);
    if (!row) {
      byId.set(r.id, (row = {
        id: r.id, type: r.type, amount: Number(r.amount), debtChange: Number(r.debt_change), balanceAfter: Number(r.balance_after),
        sequence: Number(r.sequence), at: new Date(r.created_at).getTime(), action: r.action ?? '', model: r.model ?? '', entries: [],
      }));
    }
    if (r.kind !== null) row.entries.push({ kind: r.kind, millis: Number(r.entry), source: r.source });
  }
  return [...byId.values()];
}

type Figures = Record<
  'allocated' | 'purchased' | 'granted' | 'consumed' | 'consumedFree' | 'consumedPurchased' | 'consumedOnCredit' | 'expired' | 'refunded' | 'reversed'
  | 'carriedForward' | 'charges' | 'remainingAtStart' | 'debtAtStart' | 'remaining' | 'debt', number>;

/** The stocks at an instant: the balance after the last transaction before it, and the debt accumulated until then. */
function stocksAt(ledger: LedgerRow[], atMs: number): { remaining: number; debt: number } {
  let balance = 0;
  let debt = 0;
  for (const x of ledger) {
    if (x.at >= atMs) continue;
    balance = x.balanceAfter; // in sequence order
    debt += x.debtChange;
  }
  return { remaining: balance + debt, debt };
}

/** Every figure of [startMs, endMs), from the ledger. */
function derive(ledger: LedgerRow[], startMs: number, endMs: number): Figures {
  const f: Figures = {
    allocated: 0, purchased: 0, granted: 0, consumed: 0, consumedFree: 0, consumedPurchased: 0, consumedOnCredit: 0, expired: 0, refunded: 0,
    reversed: 0, carriedForward: 0, charges: 0, remainingAtStart: 0, debtAtStart: 0, remaining: 0, debt: 0,
  };
  for (const x of ledger) {
    if (x.at < startMs || x.at >= endMs) continue;
    switch (x.type) {
      case 'CHARGE':
      case 'CAPTURE':
        f.charges += 1;
        f.consumed -= x.amount;
        for (const e of x.entries) {
          if (e.kind === 'DEBT') f.consumedOnCredit -= e.millis;
          else if (e.source === 'PURCHASE') f.consumedPurchased -= e.millis;
          else f.consumedFree -= e.millis;
        }
        break;
      case 'REFUND': f.refunded += x.amount; break;
      case 'REVERSAL': if (x.amount > 0) f.refunded += x.amount; else f.reversed -= x.amount; break;
      case 'EXPIRE': f.expired -= x.amount; break;
      case 'ROLLOVER':
        for (const e of x.entries) if (e.millis > 0 && e.source === 'ROLLOVER') f.carriedForward += e.millis;
        if (x.amount > 0) f.granted += x.amount;
        break;
      case 'GRANT':
      case 'PURCHASE':
      case 'ADJUSTMENT':
        for (const e of x.entries) {
          if (e.kind !== 'BUCKET' || e.millis <= 0) continue;
          if (e.source === 'PLAN_ALLOWANCE') f.allocated += e.millis;
          else if (e.source === 'PURCHASE') f.purchased += e.millis;
          else f.granted += e.millis;
        }
        break;
      default: break;
    }
  }
  const opening = stocksAt(ledger, startMs);
  const closing = stocksAt(ledger, endMs);
  return { ...f, remainingAtStart: opening.remaining, debtAtStart: opening.debt, remaining: closing.remaining, debt: closing.debt };
}

/** Consumed, refunded and counted per key over [startMs, endMs), most consumed first, then by key. */
function deriveSlices(ledger: LedgerRow[], startMs: number, endMs: number, keyOf: (x: LedgerRow) => string) {
  const byKey = new Map<string, { key: string; consumed: number; refunded: number; count: number }>();
  for (const x of ledger) {
    if (x.at < startMs || x.at >= endMs) continue;
    const consumer = x.type === 'CHARGE' || x.type === 'CAPTURE';
    const refund = x.type === 'REFUND' || (x.type === 'REVERSAL' && x.amount > 0);
    if (!consumer && !refund) continue;
    const key = keyOf(x);
    const slice = byKey.get(key) ?? { key, consumed: 0, refunded: 0, count: 0 };
    byKey.set(key, slice);
    if (consumer) { slice.consumed -= x.amount; slice.count += 1; } else slice.refunded += x.amount;
  }
  return [...byKey.values()].sort((p, q) => q.consumed - p.consumed || (p.key < q.key ? -1 : p.key > q.key ? 1 : 0));
}

function figuresOf(totals: UsageReportQuery['usageReport']['totals']): Figures {
  const { charges, ...credits } = totals;
  const out = { charges } as Figures;
  for (const [k, v] of Object.entries(credits)) if (k !== '__typename') out[k as keyof Figures] = millisOf(v);
  return out;
}

/** The local date of an instant, by Intl (sv-SE writes YYYY-MM-DD). */
const localDateOf = (ms: number, zone: string) => new Date(ms).toLocaleDateString('sv-SE', { timeZone: zone });

test('usageReport equals the ledger, period by period, in random zones', async () => {
  await fc.assert(fc.asyncProperty(historyArb, async ({ startMs, overdraftMillis, steps, reports }) => {
    t.clock.set(new Date(startMs));
    const accountId = await t.createAccount('usage report property');
    if (overdraftMillis > 0) await t.op(UpdateWalletDocument, { input: { accountId, overdraftLimit: creditsText(overdraftMillis) } });
    const endMs = await play(accountId, startMs, steps);
    const ledger = await ledgerOf(accountId);
    const spanFrom = startMs - 2 * DAY_MS;
    const span = endMs + 2 * DAY_MS - spanFrom;
    for (const r of reports) {
      let a = Math.round(spanFrom + Math.min(r.a, r.b) * span);
      const b = Math.round(spanFrom + Math.max(r.a, r.b) * span);
      if (b <= a) a = b - 1;
      const report = (await t.op(UsageReportDocument, {
        accountId, from: new Date(a).toISOString(), to: new Date(b).toISOString(), granularity: r.granularity, timeZone: r.zone,
      })).usageReport;
      const context = `${r.zone} ${r.granularity} ${new Date(a).toISOString()} – ${new Date(b).toISOString()}`;
      // The range covers [a, b) in whole local days, cut at local midnights (MONTH: at firsts of the month).
      const from = Date.parse(report.from);
      const to = Date.parse(report.to);
      expect({ context, ok: from <= a && to >= b && localDateOf(from, r.zone) === localDateOf(a, r.zone) && localDateOf(to - 1, r.zone) === localDateOf(b - 1, r.zone) }).toEqual({ context, ok: true });
      expect(report.periods[0].start).toBe(report.from);
      expect(report.periods[report.periods.length - 1].end).toBe(report.to);
      for (let i = 0; i < report.periods.length; i += 1) {
        const p = report.periods[i];
        const s = Date.parse(p.start);
        expect(localDateOf(s - 1, r.zone) < localDateOf(s, r.zone)).toBe(true);
        if (i > 0) {
          expect(p.start).toBe(report.periods[i - 1].end);
          if (r.granularity === 'MONTH') expect(localDateOf(s, r.zone).endsWith('-01')).toBe(true);
          else expect(localDateOf(s, r.zone)).not.toBe(localDateOf(Date.parse(report.periods[i - 1].start), r.zone));
        }
        expect({ context, period: p.start, figures: figuresOf(p.totals) }).toEqual({ context, period: p.start, figures: derive(ledger, s, Date.parse(p.end)) });
      }
      expect({ context, figures: figuresOf(report.totals) }).toEqual({ context, figures: derive(ledger, from, to) });
      // Slices: usage of the range by action and by model ('' for none).
      const slices = (s: { key: string; credits: string; refunded: string; count: number }[]) => s.map((x) => ({ key: x.key, consumed: millisOf(x.credits), refunded: millisOf(x.refunded), count: x.count }));
      expect({ context, byAction: slices(report.byAction), byModel: slices(report.byModel) })
        .toEqual({ context, byAction: deriveSlices(ledger, from, to, (x) => x.action), byModel: deriveSlices(ledger, from, to, (x) => x.model) });
    }
    // The report's end stocks are the wallet's now (nothing moved after the last operation).
    const wallet = await t.wallet(accountId);
    const whole = (await t.op(UsageReportDocument, { accountId, from: new Date(startMs - DAY_MS).toISOString(), to: new Date(endMs + 1).toISOString(), granularity: 'MONTH' })).usageReport;
    expect(millisOf(whole.totals.debt)).toBe(millisOf(wallet.debt));
    expect(millisOf(whole.totals.remaining)).toBe(millisOf(wallet.balance) + millisOf(wallet.debt));
  }), { numRuns: 30 });
}, 240_000);
