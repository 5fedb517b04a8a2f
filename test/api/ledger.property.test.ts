/**
 * Property test of the ledger through GraphQL: random sequences of grants, charges, holds, captures,
 * releases, refunds, clock moves, expiry-job runs and idempotent replays against one wallet, checked
 * after every step against a small in-memory model of the wallet (integer millicredits, buckets with
 * remaining/expiry/priority, holds with the buckets they secured, the burn-down rule of PRODUCT.md §1).
 *
 * After every step: wallet { balance available held debt buckets } equals the model, and auditLedger
 * finds no violation. Refusals the model predicts must come back with the predicted code
 * (INSUFFICIENT_CREDITS with required/available/shortfall, HOLD_NOT_FOUND, HOLD_EXPIRED,
 * BAD_USER_INPUT, IDEMPOTENCY_KEY_REUSED); a refusal decided under the wallet lock is recorded as a
 * FAILED attempt without a sequence, anything refused earlier and every replay write nothing at all.
 * A replay (same key, same input) returns exactly the first answer; one that was not kept (refused
 * before any effect) is judged afresh.
 *
 * The model treats expiry eagerly (an expired bucket keeps only what active holds secured on it; a
 * hold past its TTL secures nothing), which is what the server must show whether or not the expiry
 * job or a later wallet operation has settled it yet.
 *
 * One server for the file, a fresh account per run. Knobs (env): PROPERTY_SEED (default random),
 * PROPERTY_PATH (with the seed: replay the shrunk case fast-check printed), PROPERTY_RUNS (default
 * 30), PROPERTY_STEPS (max steps per run, default 25). The expiry job settles every wallet in the
 * database, so on a PostgreSQL shared with test processes running at the same time the clocks of
 * the two processes would interfere (jest --runInBand runs files one after the other: no issue).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  AuditLedgerDocument, CaptureHoldDocument, ChargeDocument, CreditsApiError, GrantCreditsDocument, RefundDocument, ReleaseHoldDocument,
  ReserveCreditsDocument, TransactionsDocument, WalletDocument, type CaptureInput, type ChargeInput, type GrantCreditsInput, type GraphQLErrorPayload,
  type HoldFieldsFragment, type RefundInput, type ReleaseInput, type ReserveInput, type TransactionFieldsFragment,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

// ------------------------------------------------------------------ configuration

const REFUND_BUCKET_TTL_SECONDS = 300; // short, so refund buckets also expire within a run
const HOLD_TTL_DEFAULT_SECONDS = 900;
const HOLD_TTL_MAX_SECONDS = 24 * 3600;
const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 30);
const MAX_STEPS = Number(process.env.PROPERTY_STEPS ?? 25);
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined;
const PATH = process.env.PROPERTY_PATH || undefined;

// ------------------------------------------------------------------ credits helpers (independent of src/)

type Millis = number;

function fmt(millis: Millis): string {
  const negative = millis < 0;
  const abs = Math.abs(millis);
  let text = String(Math.floor(abs / 1000));
  const frac = abs % 1000;
  if (frac > 0) text += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
  return negative && abs > 0 ? '-' + text : text;
}

/** Credits input: a decimal string, or (sometimes) a JSON number; both have at most 3 decimals. */
function creditsInput(millis: Millis, asNumber: boolean): string | number {
  return asNumber ? millis / 1000 : fmt(millis);
}

const DEFAULT_PRIORITY: Record<string, number> = { PROMO: 10, ROLLOVER: 15, PLAN_ALLOWANCE: 20, REFUND: 40, ADJUSTMENT: 50, PURCHASE: 60 };

// ------------------------------------------------------------------ the model

interface MBucket {
  id: string;
  priority: number;
  expiresAt: number | null; // ms; null = never
  createdAt: number;
  remaining: Millis;
}

type HoldStatus = 'ACTIVE' | 'CAPTURED' | 'RELEASED' | 'EXPIRED';

interface MHold {
  id: string;
  amount: Millis;
  expiresAt: number;
  status: HoldStatus;
  allocations: { bucketId: string; millis: Millis }[];
}

/** A succeeded CHARGE or CAPTURE (or a grant, which must not be refundable). */
interface MDebit {
  transactionId: string;
  kind: 'CHARGE' | 'CAPTURE' | 'GRANT';
  /** In posting order: buckets in the order they paid, then the debt part (origin null). */
  entries: { origin: string | null; millis: Millis }[];
  /** What each origin (bucket id, or "DEBT") has had back. */
  returned: Map<string, Millis>;
}

const originKey = (origin: string | null) => origin ?? 'DEBT';

function compareBurn(a: MBucket, b: MBucket): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ae = a.expiresAt ?? Infinity;
  const be = b.expiresAt ?? Infinity;
  if (ae !== be) return ae < be ? -1 : 1;
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

class WalletModel {
  debt: Millis = 0;
  readonly buckets = new Map<string, MBucket>();
  readonly holds: MHold[] = [];
  readonly debits: MDebit[] = [];
  readonly grants: MDebit[] = [];

  constructor(public now: number, readonly overdraftLimit: Millis) {}

  isLive(b: MBucket): boolean {
    return b.expiresAt === null || b.expiresAt > this.now;
  }

  /** Holds past their TTL are expired; expired buckets keep only what active holds secured. */
  normalize(): void {
    for (const h of this.holds) if (h.status === 'ACTIVE' && h.expiresAt <= this.now) h.status = 'EXPIRED';
    for (const b of this.buckets.values()) {
      if (!this.isLive(b)) b.remaining = Math.min(b.remaining, this.heldOn(b.id));
    }
  }

  heldOn(bucketId: string): Millis {
    let held = 0;
    for (const h of this.holds) {
      if (h.status !== 'ACTIVE') continue;
      for (const a of h.allocations) if (a.bucketId === bucketId) held += a.millis;
    }
    return held;
  }

  free(b: MBucket): Millis {
    return this.isLive(b) ? b.remaining - this.heldOn(b.id) : 0;
  }

  freeTotal(): Millis {
    let total = 0;
    for (const b of this.buckets.values()) total += this.free(b);
    return total;
  }

  overdraftRoom(): Millis {
    return Math.max(0, this.overdraftLimit - this.debt);
  }

  /** The burn-down rule: lower priority, then soonest expiry (never last), then oldest, then id. */
  allocate(amount: Millis): { allocations: { bucketId: string; millis: Millis }[]; short: Millis } {
    const usable = [...this.buckets.values()].filter((b) => this.free(b) > 0).sort(compareBurn);
    const allocations: { bucketId: string; millis: Millis }[] = [];
    let left = amount;
    for (const b of usable) {
      if (left === 0) break;
      const take = Math.min(left, this.free(b));
      allocations.push({ bucketId: b.id, millis: take });
      left -= take;
    }
    return { allocations, short: left };
  }

  figures() {
    let remaining = 0;
    let held = 0;
    for (const b of this.buckets.values()) {
      remaining += b.remaining;
      held += this.heldOn(b.id);
    }
    const balance = remaining - this.debt;
    return { balance, held, debt: this.debt, available: balance - held + this.overdraftLimit };
  }

  /** What wallet.buckets must list: live buckets with credits left, in burn-down order. */
  visibleBuckets() {
    return [...this.buckets.values()]
      .filter((b) => this.isLive(b) && b.remaining > 0)
      .sort(compareBurn)
      .map((b) => ({ id: b.id, remaining: fmt(b.remaining), held: fmt(this.heldOn(b.id)) }));
  }

  holdStatus(h: MHold): HoldStatus {
    return h.status === 'ACTIVE' && h.expiresAt <= this.now ? 'EXPIRED' : h.status;
  }

  refundable(d: MDebit): Millis {
    if (d.kind === 'GRANT') return 0;
    const charged = d.entries.reduce((s, e) => s + e.millis, 0);
    let returned = 0;
    for (const v of d.returned.values()) returned += v;
    return charged - returned;
  }
}

// ------------------------------------------------------------------ generated operations

type AmountSpec =
  | { mode: 'abs'; millis: Millis }
  | { mode: 'share'; perMille: number } // a share of what the wallet can give right now
  | { mode: 'edge'; delta: -1 | 0 | 1 }; // exactly what the wallet can give, one less, one more

type PartSpec =
  | { mode: 'whole' } // amount omitted
  | { mode: 'exact' } // the whole amount, given explicitly
  | { mode: 'part'; perMille: number }
  | { mode: 'over'; extra: Millis };

/** Which hold: preferably an active one, any earlier one (maybe closed), or an id that never existed. */
type HoldPick = { pick: 'active' | 'any'; index: number } | { pick: 'unknown' };

type Op =
  | { kind: 'grant'; millis: Millis; source: string; priority: number | null; expiresIn: number | null; asNumber: boolean }
  | { kind: 'charge'; amount: AmountSpec; asNumber: boolean }
  | { kind: 'reserve'; amount: AmountSpec; ttl: number | null }
  | { kind: 'capture'; hold: HoldPick; part: PartSpec }
  | { kind: 'release'; hold: HoldPick }
  | { kind: 'refund'; debit: number; open: boolean; part: PartSpec }
  | { kind: 'advance'; seconds: number }
  | { kind: 'advanceToExpiry'; target: number; ofHold: boolean; offsetMs: 0 | 1 }
  | { kind: 'expiryJob' }
  | { kind: 'replay'; index: number }
  | { kind: 'reuseKey'; index: number }
  | { kind: 'badAmount'; value: string | number };

const amountSpec = (max: number): fc.Arbitrary<AmountSpec> => fc.oneof(
  { weight: 3, arbitrary: fc.record({ mode: fc.constant('abs' as const), millis: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(1, 500, 1000, 2500)) }) },
  { weight: 1, arbitrary: fc.record({ mode: fc.constant('abs' as const), millis: fc.integer({ min: 1, max }) }) },
  { weight: 3, arbitrary: fc.record({ mode: fc.constant('share' as const), perMille: fc.integer({ min: 1, max: 1000 }) }) },
  { weight: 1, arbitrary: fc.record({ mode: fc.constant('edge' as const), delta: fc.constantFrom(-1 as const, 0 as const, 1 as const) }) },
);

const holdPick: fc.Arbitrary<HoldPick> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ pick: fc.constant('active' as const), index: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ pick: fc.constant('any' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ pick: 'unknown' as const }) },
);

const partSpec: fc.Arbitrary<PartSpec> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ mode: 'whole' as const }) },
  { weight: 1, arbitrary: fc.constant({ mode: 'exact' as const }) },
  { weight: 3, arbitrary: fc.record({ mode: fc.constant('part' as const), perMille: fc.integer({ min: 0, max: 1000 }) }) },
  { weight: 1, arbitrary: fc.record({ mode: fc.constant('over' as const), extra: fc.integer({ min: 1, max: 2000 }) }) },
);

const grantArb = fc.record({
  kind: fc.constant('grant' as const),
  millis: fc.oneof(fc.integer({ min: 1, max: 30_000 }), fc.constantFrom(1, 1000, 5000, 10_000)),
  source: fc.constantFrom('PURCHASE', 'PROMO', 'PLAN_ALLOWANCE'),
  priority: fc.option(fc.constantFrom(0, 5, 10, 20, 60, 100), { nil: null }),
  // a few minutes ahead, or never; 0 (= now) must be refused
  expiresIn: fc.oneof(
    { weight: 5, arbitrary: fc.constant(null) },
    { weight: 5, arbitrary: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.constantFrom(60, 120, 300)) },
    { weight: 1, arbitrary: fc.constant(0) },
  ),
  asNumber: fc.boolean(),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: grantArb },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('charge' as const), amount: amountSpec(25_000), asNumber: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('reserve' as const), amount: amountSpec(20_000),
    ttl: fc.oneof(
      { weight: 6, arbitrary: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.constantFrom(60, 120, 300, 600)) },
      { weight: 1, arbitrary: fc.constant(null) }, // default 15 minutes
      { weight: 1, arbitrary: fc.constantFrom(0, -5, HOLD_TTL_MAX_SECONDS + 1) }, // refused
    ),
  }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('capture' as const), hold: holdPick, part: partSpec }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), hold: holdPick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('refund' as const), debit: fc.nat(), open: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), part: partSpec }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constantFrom(30, 60, 300, 900)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advanceToExpiry' as const), target: fc.nat(), ofHold: fc.boolean(), offsetMs: fc.constantFrom(0 as const, 1 as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expiryJob' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replay' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reuseKey' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('badAmount' as const), value: fc.constantFrom<string | number>('1.2345', '0', '-1', '0.0001', 'abc', '1e3', 1.2345, 0) }) },
);

// ------------------------------------------------------------------ requests

type ReqKind = 'grant' | 'charge' | 'reserve' | 'capture' | 'release' | 'refund';
/** The field each kind's mutation answers in. */
const FIELD: Record<ReqKind, string> = {
  grant: 'grantCredits', charge: 'charge', reserve: 'reserveCredits', capture: 'captureHold', release: 'releaseHold', refund: 'refund',
};
/**
 * An input as sent. Inputs are built loosely: amounts are sometimes JSON numbers (the Credits scalar
 * takes them; its generated type says string), and bad ones are sent on purpose.
 */
type Input = Record<string, unknown>;

/** A mutation's result: a ledger transaction, or a hold for reserve and release. */
type Answer = { tx: TransactionFieldsFragment } | { hold: HoldFieldsFragment };

const txOf = (answer: Answer): TransactionFieldsFragment => {
  if (!('tx' in answer)) throw new Error(`expected a transaction, got ${JSON.stringify(answer)}`);
  return answer.tx;
};
const holdOf = (answer: Answer): HoldFieldsFragment => {
  if (!('hold' in answer)) throw new Error(`expected a hold, got ${JSON.stringify(answer)}`);
  return answer.hold;
};

/** Sends a request of `kind` through its typed operation. */
async function send(kind: ReqKind, input: Input): Promise<Answer> {
  switch (kind) {
    case 'grant': return { tx: (await t.op(GrantCreditsDocument, { input: input as GrantCreditsInput })).grantCredits };
    case 'charge': return { tx: (await t.op(ChargeDocument, { input: input as ChargeInput })).charge };
    case 'capture': return { tx: (await t.op(CaptureHoldDocument, { input: input as CaptureInput })).captureHold };
    case 'refund': return { tx: (await t.op(RefundDocument, { input: input as RefundInput })).refund };
    case 'reserve': return { hold: (await t.op(ReserveCreditsDocument, { input: input as ReserveInput })).reserveCredits };
    case 'release': return { hold: (await t.op(ReleaseHoldDocument, { input: input as ReleaseInput })).releaseHold };
  }
}

/** What the server answered: the result, or every error with the data sent beside them. */
type Outcome = { answer: Answer; errors: null } | { answer: null; errors: readonly GraphQLErrorPayload[]; data: unknown };

async function attempt(kind: ReqKind, input: Input): Promise<Outcome> {
  try {
    return { answer: await send(kind, input), errors: null };
  } catch (error) {
    if (!(error instanceof CreditsApiError)) throw error;
    return { answer: null, errors: error.errors, data: error.data };
  }
}

const codesOf = (outcome: Outcome) => outcome.errors?.map((e) => e.extensions?.code) ?? [];

/** What the step must have done to the wallet's ledger (the newest transaction and the sequence). */
type LedgerEffect =
  | { kind: 'none' } // a replay, or a refusal decided before anything was written
  | { kind: 'failed'; code: string } // a refusal recorded as a FAILED attempt
  | { kind: 'any' };

/** A concrete request: what was sent (absolute values, so a re-send is the same request). */
interface Req {
  kind: ReqKind;
  input: Input;
  /** Values the model needs, decoded from `input`. */
  millis: Millis | null;
  holdId?: string;
  debit?: MDebit;
  expiresAtMs?: number | null;
  priority?: number;
  ttl?: number | null;
}

interface Sent {
  req: Req;
  response: Outcome;
  /** Whether the server keeps the result under the key (success or recorded refusal). */
  stored: boolean;
}

/** What the model says a request must do. */
type Expectation =
  | { refused: string; stored: boolean; details?: Record<string, string> }
  | { refused?: undefined; commit: (answer: Answer) => void };

// ------------------------------------------------------------------ the test

let t: TestApp;
/** What the runs exercised (printed at the end, to see that the interesting cases do come up). */
const stats = new Map<string, number>();
const count = (what: string) => stats.set(what, (stats.get(what) ?? 0) + 1);
let baselineViolations = new Set<string>();

beforeAll(async () => {
  t = await startTestApp({ refundBucketTtlSeconds: REFUND_BUCKET_TTL_SECONDS, holdTtlSecondsDefault: HOLD_TTL_DEFAULT_SECONDS, holdTtlSecondsMax: HOLD_TTL_MAX_SECONDS });
  // A shared PostgreSQL may hold other files' data; only violations this file causes are its concern.
  baselineViolations = new Set((await t.audit()).violations);
});
afterAll(async () => { await t?.close(); });

class Run {
  readonly model: WalletModel;
  readonly sent: Sent[] = [];
  readonly log: string[] = [];
  private effect: LedgerEffect = { kind: 'any' };
  private last: { sequence: number; newest: string | null } = { sequence: 0, newest: null };

  constructor(readonly accountId: string, overdraft: Millis) {
    this.model = new WalletModel(t.clock.now().getTime(), overdraft);
  }

  // ---------------------------------------------------------------- translating ops to requests

  private amountOf(spec: AmountSpec, canGive: Millis): Millis {
    switch (spec.mode) {
      case 'abs': return spec.millis;
      case 'share': return Math.max(1, Math.floor((canGive * spec.perMille) / 1000));
      case 'edge': return Math.max(1, canGive + spec.delta);
    }
  }

  /** A hold id, or null when there is no hold to pick. */
  private pickHold(spec: HoldPick): string | null {
    if (spec.pick === 'unknown') return randomUUID();
    const active = this.model.holds.filter((h) => this.model.holdStatus(h) === 'ACTIVE');
    const pool = spec.pick === 'active' && active.length > 0 ? active : this.model.holds;
    return pool.length === 0 ? null : pool[spec.index % pool.length].id;
  }

  private partAmount(part: PartSpec, whole: Millis): Millis | null {
    switch (part.mode) {
      case 'whole': return null;
      case 'exact': return whole;
      case 'part': return Math.floor((whole * part.perMille) / 1000);
      case 'over': return whole + part.extra;
    }
  }

  toReq(op: Op): Req | null {
    const m = this.model;
    const key = uniqueKey('prop');
    switch (op.kind) {
      case 'grant': {
        const expiresAtMs = op.expiresIn === null ? null : m.now + op.expiresIn * 1000;
        const input: Input = { accountId: this.accountId, amount: creditsInput(op.millis, op.asNumber), source: op.source, idempotencyKey: key };
        if (op.priority !== null) input.priority = op.priority;
        if (expiresAtMs !== null) input.expiresAt = new Date(expiresAtMs).toISOString();
        return { kind: 'grant', input, millis: op.millis, expiresAtMs, priority: op.priority ?? DEFAULT_PRIORITY[op.source] };
      }
      case 'charge': {
        const millis = this.amountOf(op.amount, m.freeTotal() + m.overdraftRoom());
        return { kind: 'charge', input: { accountId: this.accountId, amount: creditsInput(millis, op.asNumber), idempotencyKey: key }, millis };
      }
      case 'reserve': {
        const millis = this.amountOf(op.amount, m.freeTotal());
        const input: Input = { accountId: this.accountId, amount: fmt(millis), idempotencyKey: key };
        if (op.ttl !== null) input.ttlSeconds = op.ttl;
        return { kind: 'reserve', input, millis, ttl: op.ttl };
      }
      case 'capture': {
        const holdId = this.pickHold(op.hold);
        if (holdId === null) return null;
        const hold = m.holds.find((h) => h.id === holdId);
        const millis = this.partAmount(op.part, hold?.amount ?? 1000);
        const input: Input = { holdId, idempotencyKey: key };
        if (millis !== null) input.amount = fmt(millis);
        return { kind: 'capture', input, millis, holdId };
      }
      case 'release': {
        const holdId = this.pickHold(op.hold);
        if (holdId === null) return null;
        return { kind: 'release', input: { holdId, idempotencyKey: key }, millis: null, holdId };
      }
      case 'refund': {
        // Targets succeeded charges and captures (preferably ones with something left to refund);
        // with none yet, a grant (which must be refused).
        const open = m.debits.filter((d) => m.refundable(d) > 0);
        const pool = op.open && open.length > 0 ? open : m.debits.length > 0 ? m.debits : m.grants;
        if (pool.length === 0) return null;
        const debit = pool[op.debit % pool.length];
        const millis = this.partAmount(op.part, Math.max(m.refundable(debit), 1));
        const input: Input = { transactionId: debit.transactionId, idempotencyKey: key };
        if (millis !== null) input.amount = fmt(millis);
        return { kind: 'refund', input, millis, debit };
      }
      default:
        return null;
    }
  }

  // ---------------------------------------------------------------- the model's verdict on a request

  expect(req: Req): Expectation {
    const m = this.model;
    const txBasics = (data: TransactionFieldsFragment, type: string, amount: Millis) => {
      expect(data).toMatchObject({ type, status: 'SUCCEEDED', amount: fmt(amount), idempotencyKey: req.input.idempotencyKey });
    };
    switch (req.kind) {
      case 'grant': {
        if (req.expiresAtMs !== null && req.expiresAtMs! <= m.now) return { refused: 'BAD_USER_INPUT', stored: false };
        const amount = req.millis!;
        return {
          commit: (answer) => {
            const data = txOf(answer);
            txBasics(data, 'GRANT', amount);
            expect(data.entries).toHaveLength(1);
            expect(data.entries[0].amount).toBe(fmt(amount));
            const id = data.entries[0].bucketId;
            expect(m.buckets.has(id)).toBe(false);
            m.buckets.set(id, { id, priority: req.priority!, expiresAt: req.expiresAtMs ?? null, createdAt: m.now, remaining: amount });
            // New credits repay the debt first (a separate DEBT_REPAYMENT transaction; balance unchanged).
            const repay = Math.min(m.debt, amount);
            m.buckets.get(id)!.remaining -= repay;
            m.debt -= repay;
            if (repay > 0) count('grant repaid debt');
            m.grants.push({ transactionId: data.id, kind: 'GRANT', entries: [], returned: new Map() });
          },
        };
      }
      case 'charge': {
        const amount = req.millis!;
        const plan = m.allocate(amount);
        const room = m.overdraftRoom();
        if (plan.short > room) {
          const available = Math.max(0, m.freeTotal() + room);
          return { refused: 'INSUFFICIENT_CREDITS', stored: true, details: { required: fmt(amount), available: fmt(available), shortfall: fmt(amount - available) } };
        }
        return {
          commit: (answer) => {
            const data = txOf(answer);
            txBasics(data, 'CHARGE', -amount);
            expect(data.debtChange).toBe(fmt(plan.short));
            expect(sortEntries(entriesOf(data))).toEqual(sortEntries(plan.allocations.map((a) => ({ bucketId: a.bucketId, amount: fmt(-a.millis), originBucketId: null }))));
            for (const a of plan.allocations) m.buckets.get(a.bucketId)!.remaining -= a.millis;
            m.debt += plan.short;
            if (plan.short > 0) count('charge into overdraft');
            const entries = plan.allocations.map((a): { origin: string | null; millis: Millis } => ({ origin: a.bucketId, millis: a.millis }));
            if (plan.short > 0) entries.push({ origin: null, millis: plan.short });
            m.debits.push({ transactionId: data.id, kind: 'CHARGE', entries, returned: new Map() });
            expect(data.balanceAfter).toBe(fmt(m.figures().balance));
          },
        };
      }
      case 'reserve': {
        const ttl = req.ttl ?? HOLD_TTL_DEFAULT_SECONDS;
        if (ttl < 1 || ttl > HOLD_TTL_MAX_SECONDS) return { refused: 'BAD_USER_INPUT', stored: false };
        const amount = req.millis!;
        const plan = m.allocate(amount);
        if (plan.short > 0) {
          const available = m.freeTotal();
          return { refused: 'INSUFFICIENT_CREDITS', stored: true, details: { required: fmt(amount), available: fmt(available), shortfall: fmt(amount - available) } };
        }
        const expiresAt = m.now + ttl * 1000;
        return {
          commit: (answer) => {
            const data = holdOf(answer);
            expect(data).toMatchObject({ accountId: this.accountId, amount: fmt(amount), status: 'ACTIVE', expiresAt: new Date(expiresAt).toISOString() });
            m.holds.push({ id: data.id, amount, expiresAt, status: 'ACTIVE', allocations: plan.allocations });
          },
        };
      }
      case 'capture': {
        const hold = m.holds.find((h) => h.id === req.holdId);
        if (!hold) return { refused: 'HOLD_NOT_FOUND', stored: false };
        const amount = req.millis ?? hold.amount;
        if (amount > hold.amount) return { refused: 'BAD_USER_INPUT', stored: false };
        const status = m.holdStatus(hold);
        if (status === 'EXPIRED') return { refused: 'HOLD_EXPIRED', stored: true };
        if (status !== 'ACTIVE') return { refused: 'HOLD_NOT_FOUND', stored: true };
        // Taken from the secured buckets in burn-down order, even those that expired meanwhile.
        const ordered = [...hold.allocations].sort((x, y) => compareBurn(m.buckets.get(x.bucketId)!, m.buckets.get(y.bucketId)!));
        const taken: { bucketId: string; millis: Millis }[] = [];
        let left = amount;
        for (const a of ordered) {
          const take = Math.min(left, a.millis);
          if (take > 0) taken.push({ bucketId: a.bucketId, millis: take });
          if (take > 0 && !m.isLive(m.buckets.get(a.bucketId)!)) count('capture from an expired bucket');
          left -= take;
        }
        return {
          commit: (answer) => {
            const data = txOf(answer);
            txBasics(data, 'CAPTURE', -amount);
            expect(data.heldChange).toBe(fmt(-hold.amount));
            expect(data.holdId).toBe(hold.id);
            expect(sortEntries(entriesOf(data))).toEqual(sortEntries(taken.map((a) => ({ bucketId: a.bucketId, amount: fmt(-a.millis), originBucketId: null }))));
            for (const a of taken) m.buckets.get(a.bucketId)!.remaining -= a.millis;
            hold.status = 'CAPTURED';
            m.debits.push({ transactionId: data.id, kind: 'CAPTURE', entries: taken.map((a) => ({ origin: a.bucketId, millis: a.millis })), returned: new Map() });
          },
        };
      }
      case 'release': {
        const hold = m.holds.find((h) => h.id === req.holdId);
        if (!hold) return { refused: 'HOLD_NOT_FOUND', stored: false };
        const status = m.holdStatus(hold);
        if (status === 'EXPIRED') return { refused: 'HOLD_EXPIRED', stored: true };
        if (status !== 'ACTIVE') return { refused: 'HOLD_NOT_FOUND', stored: true };
        return {
          commit: (answer) => {
            const data = holdOf(answer);
            expect(data).toMatchObject({ id: hold.id, amount: fmt(hold.amount), status: 'RELEASED' });
            hold.status = 'RELEASED';
          },
        };
      }
      case 'refund': {
        const debit = req.debit!;
        const refundable = m.refundable(debit);
        const amount = req.millis ?? refundable;
        if (debit.kind === 'GRANT' || amount <= 0 || amount > refundable) return { refused: 'BAD_USER_INPUT', stored: false };
        // Undo the charge's entries last-taken first; an expired origin bucket is replaced by a new REFUND bucket.
        const plan: { origin: string | null; give: Millis; repay: Millis; target: string | null; priority: number }[] = []; // target: a bucket id, 'NEW' (a new REFUND bucket) or null
        let left = amount;
        let debt = m.debt;
        for (const e of [...debit.entries].reverse()) {
          if (left === 0) break;
          const give = Math.min(left, e.millis - (debit.returned.get(originKey(e.origin)) ?? 0));
          if (give <= 0) continue;
          left -= give;
          if (e.origin === null) {
            const repay = Math.min(give, debt);
            debt -= repay;
            plan.push({ origin: null, give, repay, target: give > repay ? 'NEW' : null, priority: DEFAULT_PRIORITY.REFUND });
          } else {
            const bucket = m.buckets.get(e.origin)!;
            plan.push({ origin: e.origin, give, repay: 0, target: m.isLive(bucket) ? bucket.id : 'NEW', priority: bucket.priority });
          }
        }
        expect(left).toBe(0);
        const repaid = plan.reduce((s, p) => s + p.repay, 0);
        return {
          commit: (answer) => {
            const data = txOf(answer);
            txBasics(data, 'REFUND', amount);
            expect(data.relatedTransactionId).toBe(debit.transactionId);
            expect(data.debtChange).toBe(fmt(-repaid));
            const byOrigin = new Map<string, { bucketId: string; amount: string }>();
            for (const e of data.entries) {
              expect(byOrigin.has(originKey(e.originBucketId))).toBe(false);
              byOrigin.set(originKey(e.originBucketId), e);
            }
            const expectedOrigins = plan.filter((p) => p.target !== null).map((p) => originKey(p.origin)).sort();
            expect([...byOrigin.keys()].sort()).toEqual(expectedOrigins);
            for (const p of plan) {
              m.debt -= p.repay;
              debit.returned.set(originKey(p.origin), (debit.returned.get(originKey(p.origin)) ?? 0) + p.give);
              if (p.target === null) continue;
              const entry = byOrigin.get(originKey(p.origin))!;
              expect(entry.amount).toBe(fmt(p.give - p.repay));
              if (p.target === 'NEW') {
                count(p.origin === null ? 'refund of a repaid debt part' : 'refund to a new REFUND bucket');
                expect(m.buckets.has(entry.bucketId)).toBe(false);
                m.buckets.set(entry.bucketId, {
                  id: entry.bucketId, priority: p.priority, expiresAt: m.now + REFUND_BUCKET_TTL_SECONDS * 1000, createdAt: m.now, remaining: p.give - p.repay,
                });
              } else {
                expect(entry.bucketId).toBe(p.target);
                m.buckets.get(p.target)!.remaining += p.give;
              }
            }
            expect(data.balanceAfter).toBe(fmt(m.figures().balance));
          },
        };
      }
    }
  }

  // ---------------------------------------------------------------- executing

  /** Sends a request, checks the answer against the model's verdict and applies it to the model. */
  async perform(req: Req): Promise<void> {
    const verdict = this.expect(req);
    const response = await attempt(req.kind, req.input);
    if (verdict.refused !== undefined) {
      expect({ errors: response.errors?.length, code: response.errors?.[0]?.extensions?.code }).toEqual({ errors: 1, code: verdict.refused });
      expect(response.answer).toBeNull();
      if (response.answer === null) expect((response.data as Partial<Record<string, unknown>> | null)?.[FIELD[req.kind]] ?? null).toBeNull();
      if (verdict.details) expect(response.errors?.[0].extensions).toMatchObject(verdict.details);
      this.sent.push({ req, response, stored: verdict.stored });
      count(`${req.kind} ${verdict.refused}`);
      this.effect = verdict.stored ? { kind: 'failed', code: verdict.refused } : { kind: 'none' };
      return;
    }
    if (response.answer === null) throw new Error(`expected ${req.kind} to succeed, got ${JSON.stringify(response.errors)}`);
    verdict.commit(response.answer);
    this.sent.push({ req, response, stored: true });
    count(`${req.kind} ok`);
  }

  /** Runs one operation; false when it had nothing to work on (and so changed nothing). */
  async step(op: Op): Promise<boolean> {
    const m = this.model;
    this.effect = { kind: 'any' };
    switch (op.kind) {
      case 'advance':
        t.clock.advanceSeconds(op.seconds);
        break;
      case 'advanceToExpiry': {
        const times = op.ofHold ? m.holds.map((h) => h.expiresAt) : [...m.buckets.values()].map((b) => b.expiresAt).filter((x): x is number => x !== null);
        const future = times.filter((x) => x + op.offsetMs > m.now);
        if (future.length === 0) return this.skip('(no future expiry)');
        const target = future[op.target % future.length] + op.offsetMs;
        t.clock.set(new Date(target));
        break;
      }
      case 'expiryJob':
        await t.app.services.ledger.runExpiry();
        break;
      case 'replay': {
        if (this.sent.length === 0) return this.skip('(nothing to replay)');
        const first = this.sent[op.index % this.sent.length];
        this.note(`replays ${first.req.kind} ${JSON.stringify(first.req.input)} (stored: ${first.stored})`);
        if (!first.stored) {
          // Nothing was kept under the key (refused before any effect): a re-send is judged afresh.
          await this.perform(first.req);
          break;
        }
        const again = await attempt(first.req.kind, first.req.input);
        expect(again).toEqual(first.response);
        this.effect = { kind: 'none' };
        count(`replay of a stored ${first.req.kind}`);
        break;
      }
      case 'reuseKey': {
        const stored = this.sent.filter((s) => s.stored);
        if (stored.length === 0) return this.skip('(no key to reuse)');
        const first = stored[op.index % stored.length];
        this.note(`reuses the key of ${first.req.kind} ${JSON.stringify(first.req.input)} with another comment`);
        const other = await attempt(first.req.kind, { ...first.req.input, comment: 'a different request' });
        expect(codesOf(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
        this.effect = { kind: 'none' };
        break;
      }
      case 'badAmount': {
        const response = await attempt('charge', { accountId: this.accountId, amount: op.value, idempotencyKey: uniqueKey('bad') });
        expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
        this.effect = { kind: 'none' };
        break;
      }
      default: {
        const req = this.toReq(op);
        if (!req) return this.skip('(nothing to target)');
        this.note(`${req.kind} ${JSON.stringify(req.input)}`);
        await this.perform(req);
      }
    }
    m.now = t.clock.now().getTime();
    m.normalize();
    return true;
  }

  private skip(why: string): false {
    count(`skipped ${why}`);
    this.note(why);
    return false;
  }

  private note(text: string): void {
    this.log[this.log.length - 1] += ` ${text}`;
  }

  async check(): Promise<void> {
    const [{ wallet: read }, { transactions }, { auditLedger }] = await Promise.all([
      t.op(WalletDocument, { accountId: this.accountId }),
      t.op(TransactionsDocument, { accountId: this.accountId, first: 1 }),
      t.op(AuditLedgerDocument, {}),
    ]);
    if (!read) throw new Error(`no wallet ${this.accountId}`);
    const f = this.model.figures();
    const { sequence } = read;
    const wallet = { balance: read.balance, available: read.available, held: read.held, debt: read.debt, buckets: read.buckets.map(({ id, remaining, held }) => ({ id, remaining, held })) };
    expect(wallet).toEqual({
      balance: fmt(f.balance), available: fmt(f.available), held: fmt(f.held), debt: fmt(f.debt),
      buckets: this.model.visibleBuckets(),
    });
    const newest = transactions.edges[0]?.node ?? null;
    if (this.effect.kind === 'none') {
      // Nothing written: no posted transaction, no recorded attempt.
      expect({ sequence, newest: newest?.id ?? null }).toEqual(this.last);
    } else if (this.effect.kind === 'failed') {
      // Refused attempts are recorded: FAILED, with the reason, without a sequence number.
      expect(newest).toMatchObject({ status: 'FAILED', failureCode: this.effect.code, sequence: null });
    }
    this.last = { sequence, newest: newest?.id ?? null };
    const fresh = auditLedger.violations.filter((v) => !baselineViolations.has(v));
    expect(fresh).toEqual([]);
    if (baselineViolations.size === 0) expect(auditLedger.ok).toBe(true);
  }
}

/** A transaction's entries with the fields the model predicts (it does not track bucket sources). */
function entriesOf(tx: TransactionFieldsFragment) {
  return tx.entries.map(({ bucketId, amount, originBucketId }) => ({ bucketId, amount, originBucketId }));
}

function sortEntries<T extends { bucketId: string }>(entries: T[]): T[] {
  return [...entries].sort((a, b) => (a.bucketId < b.bucketId ? -1 : a.bucketId > b.bucketId ? 1 : 0));
}

test('random ledger operations keep the wallet equal to the model and the audit clean', async () => {
  let runs = 0;
  let steps = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(
      fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }) }),
      // a few grants first, so that holds and charges have something to work on
      fc.array(grantArb, { minLength: 1, maxLength: 3 }),
      fc.array(opArb, { minLength: 1, maxLength: MAX_STEPS, size: 'max' }),
      async (overdraft, firstGrants, rest) => {
        const ops: Op[] = [...firstGrants, ...rest].slice(0, MAX_STEPS);
        runs += 1;
        const accountId = await t.createAccount('property', { overdraftLimit: fmt(overdraft) });
        const run = new Run(accountId, overdraft);
        for (const [i, op] of ops.entries()) {
          run.log.push(`#${i} ${JSON.stringify(op)} @${new Date(t.clock.now()).toISOString()}:`);
          try {
            if (!(await run.step(op))) continue;
            steps += 1;
            await run.check();
          } catch (error) {
            const f = run.model.figures();
            const trace = `overdraft ${fmt(overdraft)}\n${run.log.join('\n')}\nmodel: ${JSON.stringify({ ...f, buckets: [...run.model.buckets.values()], holds: run.model.holds })}`;
            throw new Error(`step ${i} failed: ${error instanceof Error ? error.message : String(error)}\n--- trace ---\n${trace}`, { cause: error });
          }
        }
      },
    ),
    { numRuns: NUM_RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH ? { path: PATH } : {}), endOnFailure: false },
  );
  const seen = [...stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}: ${v}`).join(', ');
  console.log(`ledger property: ${runs} runs, ${steps} steps in ${Date.now() - started} ms\n${seen}`);
}, 300_000);
