/**
 * Property test of the ledger through GraphQL: random sequences of grants, charges, holds, captures,
 * releases, refunds, clock moves, expiry-job runs and idempotent replays against one wallet, checked
 * after every step against a small in-memory model of the wallet (integer millicredits, buckets with
 * remaining/expiry/priority, holds with the buckets they secured, the burn-down rule of PRODUCT.md §1).
 *
 * Plans too: three monthly plans created for the file (allowances 8 / 15.5 / 31.337 credits, rollover
 * NONE / CAPPED at 4 / FULL, overdraft limits 0 / 3 / 8). Runs subscribe, change plan (up: at once with
 * floor(difference × time left / period length) millicredits; down: scheduled for the period end),
 * cancel (at the period end or at once), and move the clock across period ends (to just before one,
 * onto it, past it, or several periods on), after which the renewal happens lazily at the next read
 * or operation of the wallet, or from the renewal or expiry job. The model renews eagerly at each
 * period end: the unused part (free, not secured by a hold active at the period end) of the period's
 * allowance buckets (upgrades included) rolls over by the ending plan's policy into a ROLLOVER bucket
 * expiring at the end of the next period; the rest of the period's plan credits expires; the next
 * (or scheduled) plan's allowance is granted and repays debt first. A wallet with no overdraft limit of
 * its own takes its plan's. The plan transactions a step must post (GRANT, ROLLOVER, EXPIRE,
 * DEBT_REPAYMENT: type, amount, debt change, key, entries) are matched with the ledger, and
 * account.subscription (plan, scheduled plan, period, cancellation, newest periods) with the model.
 *
 * Purchases too: three credit packs created for the file (7.5, 20 expiring a day after payment, 3.333
 * credits). A pack is bought (PENDING: nothing moves), then the provider's signed webhook arrives over
 * HTTP, once, twice in a row or three times at once: paid (a PURCHASE bucket, repaying debt first),
 * declined (FAILED, nothing), or with an amount that is not the price (recorded for review, nothing). A
 * refund or chargeback of a paid purchase takes back what is free in its bucket; the rest of the pack
 * becomes debt, but for what expired unused (sometimes the clock first moves past the expiry of the
 * purchased credits, so only the webhook settles it). Taking back an unpaid or already taken-back
 * purchase, and an event delivered again, change nothing.
 *
 * Teams too: the run's account is a TEAM with two members, each with a random budget (or none);
 * charges and holds name a member (or none). The model counts each member's use per budget period
 * (the plan period, or the UTC month without a plan): charges and captures add, refunds of a charge of
 * the current period give back; a charge or hold beyond used + active holds + amount > budget is
 * BUDGET_EXCEEDED (recorded). After every step, per member: teamMember.budgetUsed equals the model's
 * (the sum of its succeeded charges and captures less refunds, in the period) and never exceeds the budget.
 *
 * After every step: wallet { balance available held debt overdraftLimit buckets } equals the model,
 * and auditLedger finds no violation. Refusals the model predicts must come back with the predicted code
 * (INSUFFICIENT_CREDITS with required/available/shortfall, HOLD_NOT_FOUND, HOLD_EXPIRED,
 * BAD_USER_INPUT, NOT_FOUND, IDEMPOTENCY_KEY_REUSED); a refusal decided under the wallet lock is recorded
 * as a FAILED attempt without a sequence, anything refused earlier and every replay write nothing at all.
 * A replay (same key, same input) returns exactly the first answer (a plan operation: the subscription
 * it changed, as it is now); one that was not kept (refused before any effect) is judged afresh.
 *
 * The model treats expiry eagerly (an expired bucket keeps only what active holds secured on it; a
 * hold past its TTL secures nothing), which is what the server must show whether or not the expiry
 * job or a later wallet operation has settled it yet.
 *
 * One server for the file, a fresh account per run (its subscription canceled at the end of the run).
 * Knobs (env): PROPERTY_SEED (default random), PROPERTY_PATH (with the seed: replay the shrunk case
 * fast-check printed), PROPERTY_RUNS (default 30), PROPERTY_STEPS (max steps per run, default 25),
 * PROPERTY_NO_SHRINK=1 (report the first failing run as it is: shrinking replays many runs, slowly).
 * Each run starts at a date of the 1990s (and moves on by months): the expiry and renewal jobs settle
 * every wallet of the database whose time has come, so on a PostgreSQL shared with other test
 * processes this file must not reach their wallets (theirs live at later dates). Their jobs, run at
 * the same time, could still reach ours (jest --runInBand runs files one after the other: no issue).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  AccountSubscriptionDocument, AuditLedgerDocument, CancelSubscriptionDocument, CaptureHoldDocument, ChangePlanDocument, ChargeDocument,
  CreateCreditPackDocument, CreatePlanDocument, CreditsApiError, GrantCreditsDocument, PurchaseCreditsDocument, PurchaseDocument, RefundDocument,
  ReleaseHoldDocument, ReserveCreditsDocument, SubscribeDocument,
  TransactionsDocument, WalletDocument, type CancelSubscriptionInput, type CaptureInput, type ChangePlanInput, type ChargeInput,
  type GrantCreditsInput, type GraphQLErrorPayload, type HoldFieldsFragment, type PeriodFieldsFragment, type RefundInput, type ReleaseInput,
  type ReserveInput, type SubscribeInput, type SubscriptionFieldsFragment, type TransactionFieldsFragment,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { purchaseSteps, WEBHOOK_SECRET, type WebhookBody } from '../helpers/purchases';

// ------------------------------------------------------------------ configuration

const REFUND_BUCKET_TTL_SECONDS = 300; // short, so refund buckets also expire within a run
const HOLD_TTL_DEFAULT_SECONDS = 900;
const HOLD_TTL_MAX_SECONDS = 24 * 3600;
/** Keys outlive every run (the clock moves by months; their expiry is not this test's subject). */
const IDEMPOTENCY_KEY_TTL_SECONDS = 100 * 365 * 24 * 3600;
const CLOCK_START = '1991-01-31T09:30:00.000Z';
const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 30);
const MAX_STEPS = Number(process.env.PROPERTY_STEPS ?? 25);
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined;
const PATH = process.env.PROPERTY_PATH || undefined;
/** Transactions read to learn what a renewal in a step posted before the step's request (a step renews at most 3 periods). */
const TX_PAGE = 40;
/** Subscription periods read per check. */
const PERIOD_PAGE = 4;

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

const iso = (ms: number) => new Date(ms).toISOString();

// ------------------------------------------------------------------ plans (independent of src/)

type Rollover = 'NONE' | 'CAPPED' | 'FULL';

interface PlanSpec {
  name: string;
  allowance: Millis;
  rollover: Rollover;
  cap: Millis | null;
  overdraft: Millis;
  price: string;
}

/** Monthly plans, cheapest first: a change to a later one is an upgrade, to an earlier one a downgrade. */
const PLAN_SPECS: readonly PlanSpec[] = [
  { name: 'Property Basic', allowance: 8_000, rollover: 'NONE', cap: null, overdraft: 0, price: '5.00' },
  { name: 'Property Plus', allowance: 15_500, rollover: 'CAPPED', cap: 4_000, overdraft: 3_000, price: '12.00' },
  { name: 'Property Pro', allowance: 31_337, rollover: 'FULL', cap: null, overdraft: 8_000, price: '25.00' },
];
/**
 * Credit packs created for the file: bought with purchaseCredits and paid (or not) by a signed webhook;
 * the credits of the second expire a day after the payment, so some are refunded or charged back expired.
 */
const PACK_SPECS: readonly { credits: Millis; price: string; days: number | null }[] = [
  { credits: 7_500, price: '0.99', days: null },
  { credits: 20_000, price: '9.99', days: 1 },
  { credits: 3_333, price: '0.50', days: null },
];
let packCodes: string[] = [];

/** The index standing for a plan code that does not exist. */
const UNKNOWN_PLAN = PLAN_SPECS.length;
/** Codes of PLAN_SPECS as created for this file, then the unknown one. */
let planCodes: string[] = [];
const codeOf = (plan: number) => planCodes[plan];

/**
 * Period boundary `months` after the anchor: the anchor's day of month and time of day, the day
 * clamped to the last day of a shorter month (31 Jan → 28/29 Feb → 31 Mar).
 */
function monthsAfter(anchor: number, months: number): number {
  const a = new Date(anchor);
  const first = new Date(Date.UTC(a.getUTCFullYear(), a.getUTCMonth() + months, 1, a.getUTCHours(), a.getUTCMinutes(), a.getUTCSeconds(), a.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  first.setUTCDate(Math.min(a.getUTCDate(), lastDay));
  return first.getTime();
}

function rolledOver(spec: PlanSpec, unused: Millis): Millis {
  if (unused <= 0 || spec.rollover === 'NONE') return 0;
  return spec.rollover === 'FULL' ? unused : Math.min(unused, spec.cap!);
}

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
  /** The team member it is for (an index of the run's members), or null. */
  member?: number | null;
}

/** A succeeded CHARGE or CAPTURE (or a grant, which must not be refundable). */
interface MDebit {
  transactionId: string;
  kind: 'CHARGE' | 'CAPTURE' | 'GRANT';
  /** In posting order: buckets in the order they paid, then the debt part (origin null). */
  entries: { origin: string | null; millis: Millis }[];
  /** What each origin (bucket id, or "DEBT") has had back. */
  returned: Map<string, Millis>;
  /** The team member it was for, and when it was posted (refunds give budget back within its period). */
  member?: number | null;
  at?: number;
}

/** A member of the run's team: its budget and what the model counted in its budget period. */
interface MMember {
  id: string;
  budget: Millis | null;
  periodKey: string;
  used: Millis;
}

/** A purchase of the run: the webhook's outcome, and the grant and bucket when paid. */
interface MPurchase {
  id: string;
  price: { amount: string; currency: string };
  millis: Millis;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  grantId: string | null;
  bucketId: string | null;
  reversed: boolean;
}

/** A granted allowance as account.subscription.periods lists it. */
interface MPeriod {
  kind: 'START' | 'RENEWAL' | 'UPGRADE' | 'RESTORED'; // RESTORED: dunning (not modelled here)
  start: number;
  end: number;
  allowance: Millis;
  plan: number;
}

interface MSub {
  /** Learned from the answer to subscribe. */
  id: string | null;
  plan: number;
  scheduled: number | null;
  anchor: number;
  index: number;
  start: number;
  end: number;
  cancelAtPeriodEnd: boolean;
  status: 'ACTIVE' | 'CANCELED';
  canceledAt: number | null;
  createdAt: number;
  /** The current period's allowance buckets (its grant and any upgrades): what may roll over. */
  allowanceBuckets: string[];
  /** The credits rolled over into the current period (they expire at its end and never roll again). */
  rolloverIn: string | null;
  periods: MPeriod[];
}

/** A plan transaction the server must post (bucket ids may be the model's placeholders until matched). */
interface PlanTx {
  type: 'GRANT' | 'ROLLOVER' | 'EXPIRE' | 'DEBT_REPAYMENT';
  amount: Millis;
  debtChange: Millis;
  idempotencyKey: string | null;
  entries: { bucketId: string | null; millis: Millis }[];
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

const PLACEHOLDER = 'model:';
const isPlaceholder = (id: string) => id.startsWith(PLACEHOLDER);

class WalletModel {
  debt: Millis = 0;
  readonly buckets = new Map<string, MBucket>();
  readonly holds: MHold[] = [];
  readonly debits: MDebit[] = [];
  readonly grants: MDebit[] = [];
  /** Every subscription of the account, oldest first; only the last can be live. */
  readonly subs: MSub[] = [];
  /** Plan transactions predicted since the ledger was last matched with the model, in posting order. */
  readonly planTxs: PlanTx[] = [];
  /** Plan buckets of periods whose subscription was canceled at once (credits returned to them are live again until they expire). */
  readonly canceledPlanBuckets = new Set<string>();
  /** What expired unused from each bucket (a refunded or charged-back purchase does not owe it again). */
  readonly expiredFrom = new Map<string, Millis>();
  /** Buckets the model created under a placeholder id, by the id the server gave them. */
  private readonly renamed = new Map<string, string>();
  private placeholders = 0;

  /** ownOverdraft: the wallet's own overdraft limit; null = its plan's (0 without a plan). */
  constructor(public now: number, readonly ownOverdraft: Millis | null) {}

  get live(): MSub | null {
    const last = this.subs[this.subs.length - 1];
    return last?.status === 'ACTIVE' ? last : null;
  }

  get overdraftLimit(): Millis {
    if (this.ownOverdraft !== null) return this.ownOverdraft;
    const live = this.live;
    return live ? PLAN_SPECS[live.plan].overdraft : 0;
  }

  /** The server's id of a bucket the model may know by a placeholder. */
  real(id: string): string {
    return this.renamed.get(id) ?? id;
  }

  isLive(b: MBucket): boolean {
    return b.expiresAt === null || b.expiresAt > this.now;
  }

  /**
   * Moves the model to `now`: every period that ended by then renews, in order, as of its end (the
   * server renews later, at the next read or operation, but must come to the same); then holds past
   * their TTL and lapsed buckets expire. Returns how many periods renewed.
   */
  advanceTo(now: number): number {
    let renewed = 0;
    for (let live = this.live; live && live.end <= now; live = this.live) {
      this.renew(live, now);
      renewed += 1;
    }
    if (renewed > 1) count('several periods renewed at once');
    this.now = now;
    this.normalize();
    return renewed;
  }

  /** Holds past their TTL are expired; expired buckets keep only what active holds secured. */
  normalize(): void {
    for (const h of this.holds) if (h.status === 'ACTIVE' && h.expiresAt <= this.now) h.status = 'EXPIRED';
    for (const b of this.buckets.values()) {
      if (this.isLive(b)) continue;
      const kept = Math.min(b.remaining, this.heldOn(b.id));
      if (kept < b.remaining) this.expiredFrom.set(b.id, (this.expiredFrom.get(b.id) ?? 0) + b.remaining - kept);
      b.remaining = kept;
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

  /** What holds that are still active at `at` secured on a bucket (holds the model has not expired yet). */
  heldAt(bucketId: string, at: number): Millis {
    let held = 0;
    for (const h of this.holds) {
      if (h.status !== 'ACTIVE' || h.expiresAt <= at) continue;
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
      .map((b) => ({ id: b.id, remaining: fmt(b.remaining), held: fmt(this.heldOn(b.id)), expiresAt: b.expiresAt === null ? null : iso(b.expiresAt) }));
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

  // -------------------------------------------------------------- plans

  /** A new bucket, known by a placeholder id until the ledger shows the server's. */
  private newBucket(priority: number, expiresAt: number, createdAt: number, remaining: Millis): string {
    const id = `${PLACEHOLDER}${++this.placeholders}`;
    this.buckets.set(id, { id, priority, expiresAt, createdAt, remaining });
    return id;
  }

  /** Gives a placeholder bucket the server's id. */
  rename(placeholder: string, id: string): void {
    const bucket = this.buckets.get(placeholder)!;
    this.buckets.delete(placeholder);
    bucket.id = id;
    this.buckets.set(id, bucket);
    const swap = (x: string) => (x === placeholder ? id : x);
    for (const s of this.subs) {
      s.allowanceBuckets = s.allowanceBuckets.map(swap);
      if (s.rolloverIn !== null) s.rolloverIn = swap(s.rolloverIn);
    }
    if (this.canceledPlanBuckets.delete(placeholder)) this.canceledPlanBuckets.add(id);
    this.renamed.set(placeholder, id);
  }

  /** A plan allowance (START, RENEWAL, UPGRADE) for the rest of `s`'s current period; it repays debt first. */
  private grantAllowance(s: MSub, kind: MPeriod['kind'], start: number, amount: Millis, key: string | null, at: number): void {
    s.periods.push({ kind, start, end: s.end, allowance: amount, plan: s.plan });
    if (amount <= 0) return;
    const id = this.newBucket(DEFAULT_PRIORITY.PLAN_ALLOWANCE, s.end, at, amount);
    s.allowanceBuckets.push(id);
    this.planTxs.push({ type: 'GRANT', amount, debtChange: 0, idempotencyKey: key, entries: [{ bucketId: id, millis: amount }] });
    const repay = Math.min(this.debt, amount);
    if (repay > 0) {
      this.buckets.get(id)!.remaining -= repay;
      this.debt -= repay;
      count(`${kind.toLowerCase()} allowance repaid debt`);
      this.planTxs.push({ type: 'DEBT_REPAYMENT', amount: 0, debtChange: -repay, idempotencyKey: null, entries: [{ bucketId: id, millis: -repay }, { bucketId: null, millis: repay }] });
    }
  }

  /** Expires what is free now (not secured by a hold still active at `at`) of a period's plan credits. */
  private expirePlanCredits(s: MSub, at: number): void {
    const entries: PlanTx['entries'] = [];
    let total = 0;
    for (const id of [...s.allowanceBuckets, ...(s.rolloverIn === null ? [] : [s.rolloverIn])]) {
      const bucket = this.buckets.get(id)!;
      const free = bucket.remaining - this.heldAt(id, at);
      if (free <= 0) continue;
      bucket.remaining -= free;
      total += free;
      entries.push({ bucketId: id, millis: -free });
    }
    if (entries.length > 0) this.planTxs.push({ type: 'EXPIRE', amount: -total, debtChange: 0, idempotencyKey: null, entries });
  }

  subscribe(plan: number, key: string): MSub {
    const s: MSub = {
      id: null, plan, scheduled: null, anchor: this.now, index: 0, start: this.now, end: monthsAfter(this.now, 1),
      cancelAtPeriodEnd: false, status: 'ACTIVE', canceledAt: null, createdAt: this.now, allowanceBuckets: [], rolloverIn: null, periods: [],
    };
    this.subs.push(s);
    this.grantAllowance(s, 'START', this.now, PLAN_SPECS[plan].allowance, key, this.now);
    return s;
  }

  /** An upgrade's credits: the difference of the allowances for the part of the period left, rounded down. */
  upgrade(s: MSub, target: number, key: string): Millis {
    const difference = PLAN_SPECS[target].allowance - PLAN_SPECS[s.plan].allowance;
    const extra = Number((BigInt(difference) * BigInt(s.end - this.now)) / BigInt(s.end - s.start));
    s.plan = target;
    s.scheduled = null;
    s.cancelAtPeriodEnd = false;
    this.grantAllowance(s, 'UPGRADE', this.now, extra, key, this.now);
    return extra;
  }

  cancelNow(s: MSub): void {
    for (const id of [...s.allowanceBuckets, ...(s.rolloverIn === null ? [] : [s.rolloverIn])]) this.canceledPlanBuckets.add(id);
    this.expirePlanCredits(s, this.now);
    s.status = 'CANCELED';
    s.canceledAt = this.now;
    s.cancelAtPeriodEnd = false;
    s.scheduled = null;
  }

  /**
   * The end of `s`'s current period, as the server must handle it at `at` (when it gets to it): a
   * cancellation takes effect; otherwise the unused allowance rolls over (its amount as of the period
   * end), the rest of the period's plan credits expires and the next period's allowance is granted.
   */
  private renew(s: MSub, at: number): void {
    const end = s.end;
    if (s.cancelAtPeriodEnd) {
      this.expirePlanCredits(s, at);
      s.status = 'CANCELED';
      s.canceledAt = end;
      s.cancelAtPeriodEnd = false;
      count('canceled at the period end');
      return;
    }
    const ending = PLAN_SPECS[s.plan];
    let unused = 0;
    for (const id of s.allowanceBuckets) {
      unused += this.buckets.get(id)!.remaining - this.heldAt(id, end);
      if (this.heldAt(id, end) !== this.heldAt(id, at)) count('a hold secured allowance at the period end and lapsed before the renewal');
    }
    const moved = rolledOver(ending, unused);
    const next = s.scheduled ?? s.plan;
    if (s.scheduled !== null) count('scheduled downgrade took effect');
    const nextEnd = monthsAfter(s.anchor, s.index + 2);
    let rolloverIn: string | null = null;
    if (moved > 0) {
      count(`rollover ${ending.rollover}${moved < unused ? ' (capped)' : ''}`);
      // Taken from the allowance buckets in burn-down order, each as far as its free credits go.
      const entries: PlanTx['entries'] = [];
      let left = moved;
      for (const b of s.allowanceBuckets.map((id) => this.buckets.get(id)!).sort(compareBurn)) {
        const take = Math.min(left, b.remaining - this.heldAt(b.id, at));
        if (take <= 0) continue;
        b.remaining -= take;
        left -= take;
        entries.push({ bucketId: b.id, millis: -take });
      }
      rolloverIn = this.newBucket(DEFAULT_PRIORITY.ROLLOVER, nextEnd, at, moved);
      entries.push({ bucketId: rolloverIn, millis: moved });
      this.planTxs.push({ type: 'ROLLOVER', amount: 0, debtChange: 0, idempotencyKey: null, entries });
    }
    this.expirePlanCredits(s, at);
    s.plan = next;
    s.scheduled = null;
    s.index += 1;
    s.start = end;
    s.end = nextEnd;
    s.allowanceBuckets = [];
    s.rolloverIn = rolloverIn;
    count('renewal');
    this.grantAllowance(s, 'RENEWAL', end, PLAN_SPECS[next].allowance, null, at);
  }

  /** The subscription as the API must show it. */
  subView(s: MSub) {
    return {
      id: s.id, status: s.status, currentPeriodStart: iso(s.start), currentPeriodEnd: iso(s.end), cancelAtPeriodEnd: s.cancelAtPeriodEnd,
      canceledAt: s.canceledAt === null ? null : iso(s.canceledAt), plan: codeOf(s.plan), scheduledPlan: s.scheduled === null ? null : codeOf(s.scheduled),
    };
  }
}

/** The fields of a subscription the model predicts. */
function subFields(data: SubscriptionFieldsFragment) {
  return {
    id: data.id, status: data.status, currentPeriodStart: data.currentPeriodStart, currentPeriodEnd: data.currentPeriodEnd,
    cancelAtPeriodEnd: data.cancelAtPeriodEnd, canceledAt: data.canceledAt, plan: data.plan.code, scheduledPlan: data.scheduledPlan?.code ?? null,
  };
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
  | { kind: 'charge'; amount: AmountSpec; asNumber: boolean; member?: number | null }
  | { kind: 'reserve'; amount: AmountSpec; ttl: number | null; member?: number | null }
  | { kind: 'capture'; hold: HoldPick; part: PartSpec }
  | { kind: 'release'; hold: HoldPick }
  | { kind: 'refund'; debit: number; open: boolean; part: PartSpec }
  | { kind: 'advance'; seconds: number }
  | { kind: 'advanceToExpiry'; target: number; ofHold: boolean; offsetMs: 0 | 1 }
  | { kind: 'expiryJob' }
  | { kind: 'replay'; index: number }
  | { kind: 'reuseKey'; index: number }
  | { kind: 'badAmount'; value: string | number }
  | { kind: 'subscribe'; plan: number }
  | { kind: 'changePlan'; plan: number }
  | { kind: 'cancel'; atPeriodEnd: boolean | null } // null: not sent (true by default)
  | AdvancePeriodOp
  // the clock to `before` seconds before the period end, then a hold that outlasts it by `extra` seconds
  | { kind: 'holdOverPeriodEnd'; before: number; extra: number; amount: AmountSpec }
  // a pack bought, then the provider's webhook: paid, declined, or an amount that is not the price (for review)
  | { kind: 'buy'; pack: number; outcome: 'paid' | 'failed' | 'wrongAmount'; deliveries: Deliveries }
  // a refund or chargeback of a purchase (preferably a paid one not taken back yet)
  // (`late`: first the clock to `late` seconds past the expiry of the purchased credits, when they expire later)
  | { kind: 'takeBack'; index: number; type: 'payment.refunded' | 'payment.disputed'; paidOnly: boolean; deliveries: Deliveries; late: number | null }
  // an event delivered before, delivered again
  | { kind: 'redeliver'; index: number };

/** How often a webhook event is delivered: once, twice in a row, or three times at once. */
type Deliveries = 'once' | 'again' | 'concurrent';

/**
 * The clock to the current period's end: `before` it by `seconds` (holds may then outlast it), `at`
 * it (+ `ms`), `after` it by days and seconds, or `later`: `periods` more periods on. Then the renewal
 * happens at the check's wallet `read`, at a `subscription` read, in the `renewals` or `expiry` job,
 * or in a `charge` (amount as for a charge) before it pays. Without a subscription: days and seconds on.
 */
interface AdvancePeriodOp {
  kind: 'advancePeriod';
  to: 'before' | 'at' | 'after' | 'later';
  seconds: number;
  ms: 0 | 1;
  days: number;
  periods: 1 | 2;
  then: 'read' | 'subscription' | 'renewals' | 'expiry' | 'charge';
  charge: AmountSpec;
}

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

/** A plan of PLAN_SPECS, now and then one that does not exist. */
const planPick = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: PLAN_SPECS.length - 1 }) }, { weight: 1, arbitrary: fc.constant(UNKNOWN_PLAN) });

const advancePeriodArb: fc.Arbitrary<AdvancePeriodOp> = fc.record({
  kind: fc.constant('advancePeriod' as const),
  to: fc.oneof(
    { weight: 4, arbitrary: fc.constant('before' as const) },
    { weight: 2, arbitrary: fc.constant('at' as const) },
    { weight: 3, arbitrary: fc.constant('after' as const) },
    { weight: 1, arbitrary: fc.constant('later' as const) },
  ),
  seconds: fc.oneof(fc.integer({ min: 1, max: 900 }), fc.constantFrom(1, 60, 300, 600), fc.integer({ min: 1, max: 12 }).map((h) => h * 3600)),
  ms: fc.constantFrom(0 as const, 1 as const),
  days: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  periods: fc.constantFrom(1 as const, 2 as const),
  then: fc.constantFrom('read' as const, 'subscription' as const, 'renewals' as const, 'expiry' as const, 'charge' as const),
  charge: amountSpec(25_000),
});

const deliveriesArb: fc.Arbitrary<Deliveries> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('once' as const) }, { weight: 1, arbitrary: fc.constant('again' as const) }, { weight: 1, arbitrary: fc.constant('concurrent' as const) },
);

/** Which member of the team a charge or hold is for: none (the operator's), or one of the two. */
const memberPick = fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(1) });
/** A member's budget: none, or up to 30 credits (0 refuses every use). */
const budgetArb = fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 30_000 }) });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: grantArb },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('charge' as const), amount: amountSpec(25_000), asNumber: fc.boolean(), member: memberPick }) },
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('reserve' as const), amount: amountSpec(20_000), member: memberPick,
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
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('subscribe' as const), plan: planPick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('changePlan' as const), plan: planPick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), atPeriodEnd: fc.constantFrom(true, false, null) }) },
  { weight: 7, arbitrary: advancePeriodArb },
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('buy' as const), pack: fc.integer({ min: 0, max: PACK_SPECS.length - 1 }),
    outcome: fc.oneof({ weight: 6, arbitrary: fc.constant('paid' as const) }, { weight: 2, arbitrary: fc.constant('failed' as const) }, { weight: 1, arbitrary: fc.constant('wrongAmount' as const) }),
    deliveries: deliveriesArb,
  }) },
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('takeBack' as const), index: fc.nat(), type: fc.constantFrom('payment.refunded' as const, 'payment.disputed' as const),
    paidOnly: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), deliveries: deliveriesArb,
    late: fc.option(fc.constantFrom(0, 1, 60, 86_400), { freq: 2, nil: null }),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('redeliver' as const), index: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({
    kind: fc.constant('holdOverPeriodEnd' as const), before: fc.oneof(fc.integer({ min: 1, max: 3600 }), fc.constantFrom(1, 60)),
    extra: fc.oneof(fc.integer({ min: 1, max: 900 }), fc.constantFrom(1, 60)), amount: amountSpec(20_000),
  }) },
);

// ------------------------------------------------------------------ requests

type PlanReqKind = 'subscribe' | 'changePlan' | 'cancel';
type ReqKind = 'grant' | 'charge' | 'reserve' | 'capture' | 'release' | 'refund' | PlanReqKind;
const isPlanKind = (kind: ReqKind): kind is PlanReqKind => kind === 'subscribe' || kind === 'changePlan' || kind === 'cancel';
/** The field each kind's mutation answers in. */
const FIELD: Record<ReqKind, string> = {
  grant: 'grantCredits', charge: 'charge', reserve: 'reserveCredits', capture: 'captureHold', release: 'releaseHold', refund: 'refund',
  subscribe: 'subscribe', changePlan: 'changePlan', cancel: 'cancelSubscription',
};
/**
 * An input as sent. Inputs are built loosely: amounts are sometimes JSON numbers (the Credits scalar
 * takes them; its generated type says string), and bad ones are sent on purpose.
 */
type Input = Record<string, unknown>;

/** A mutation's result: a ledger transaction, a hold for reserve and release, a subscription for plan operations. */
type Answer = { tx: TransactionFieldsFragment } | { hold: HoldFieldsFragment } | { sub: SubscriptionFieldsFragment };

const txOf = (answer: Answer): TransactionFieldsFragment => {
  if (!('tx' in answer)) throw new Error(`expected a transaction, got ${JSON.stringify(answer)}`);
  return answer.tx;
};
const holdOf = (answer: Answer): HoldFieldsFragment => {
  if (!('hold' in answer)) throw new Error(`expected a hold, got ${JSON.stringify(answer)}`);
  return answer.hold;
};
const subOf = (answer: Answer | null): SubscriptionFieldsFragment => {
  if (answer === null || !('sub' in answer)) throw new Error(`expected a subscription, got ${JSON.stringify(answer)}`);
  return answer.sub;
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
    case 'subscribe': return { sub: (await t.op(SubscribeDocument, { input: input as SubscribeInput })).subscribe };
    case 'changePlan': return { sub: (await t.op(ChangePlanDocument, { input: input as ChangePlanInput })).changePlan };
    case 'cancel': return { sub: (await t.op(CancelSubscriptionDocument, { input: input as CancelSubscriptionInput })).cancelSubscription };
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
  /** subscribe / changePlan: the plan's index (UNKNOWN_PLAN: a code that does not exist). */
  plan?: number;
  /** cancel: as the server takes it (true when not sent). */
  atPeriodEnd?: boolean;
  /** charge, reserve: the team member (an index of the run's members), or null. */
  member?: number | null;
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
const payments = purchaseSteps(() => t);
/** What the runs exercised (printed at the end, to see that the interesting cases do come up). */
const stats = new Map<string, number>();
const count = (what: string) => stats.set(what, (stats.get(what) ?? 0) + 1);
let baselineViolations = new Set<string>();

beforeAll(async () => {
  t = await startTestApp({
    refundBucketTtlSeconds: REFUND_BUCKET_TTL_SECONDS, holdTtlSecondsDefault: HOLD_TTL_DEFAULT_SECONDS, holdTtlSecondsMax: HOLD_TTL_MAX_SECONDS,
    idempotencyKeyTtlSeconds: IDEMPOTENCY_KEY_TTL_SECONDS, paymentWebhookSecret: WEBHOOK_SECRET,
  });
  t.clock.set(new Date(CLOCK_START));
  // A shared PostgreSQL may hold other files' data; only violations this file causes are its concern.
  baselineViolations = new Set((await t.audit()).violations);
  planCodes = [];
  for (const spec of PLAN_SPECS) {
    const code = uniqueKey('prop-plan').toLowerCase();
    await t.op(CreatePlanDocument, {
      input: {
        code, name: spec.name, price: { amount: spec.price, currency: 'USD' }, interval: 'MONTH', intervalCount: 1, allowance: fmt(spec.allowance),
        rollover: spec.rollover, rolloverCap: spec.cap === null ? null : fmt(spec.cap), overdraftLimit: fmt(spec.overdraft),
      },
    });
    planCodes.push(code);
  }
  planCodes.push(uniqueKey('no-such-plan').toLowerCase());
  packCodes = [];
  for (const spec of PACK_SPECS) {
    const code = uniqueKey('prop-pack').toLowerCase();
    await t.op(CreateCreditPackDocument, {
      input: { code, name: `Property pack ${fmt(spec.credits)}`, credits: fmt(spec.credits), price: { amount: spec.price, currency: 'USD' }, expiresAfterDays: spec.days },
    });
    packCodes.push(code);
  }
});
afterAll(async () => { await t?.close(); });

class Run {
  readonly model: WalletModel;
  readonly sent: Sent[] = [];
  readonly log: string[] = [];
  private effect: LedgerEffect = { kind: 'any' };
  private last: { sequence: number; newest: string | null } = { sequence: 0, newest: null };
  /** The sequence up to which the ledger has been matched with the model's plan transactions. */
  private reconciled = 0;
  /** Whether the step sent a plan operation (whose own transactions are then plan transactions). */
  private planStep = false;
  /** The run's purchases, and every webhook event delivered for them. */
  private readonly purchases: MPurchase[] = [];
  private readonly events: WebhookBody[] = [];

  /** overdraft: the wallet's own limit, or null for its plan's. members: the team's members and their budgets. */
  constructor(readonly accountId: string, overdraft: Millis | null, readonly members: MMember[] = []) {
    this.model = new WalletModel(t.clock.now().getTime(), overdraft);
  }

  // ---------------------------------------------------------------- member budgets (the model's)

  /** The budget period now: the live plan period (key: its end), or the UTC month. */
  private budgetPeriod(): { key: string; start: number } {
    const m = this.model;
    const live = m.live;
    if (live && live.end > m.now) return { key: iso(live.end), start: live.start };
    const month = new Date(m.now);
    return { key: iso(m.now).slice(0, 7), start: Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1) };
  }

  /** The member's count moved into the current period (a new period starts from 0). */
  private memberNow(index: number): MMember {
    const member = this.members[index];
    const { key } = this.budgetPeriod();
    if (member.periodKey !== key) {
      member.periodKey = key;
      member.used = 0;
    }
    return member;
  }

  /** The member's active holds (not captured, released or past their TTL). */
  private heldBy(index: number): Millis {
    return this.model.holds.filter((h) => h.member === index && this.model.holdStatus(h) === 'ACTIVE').reduce((sum, h) => sum + h.amount, 0);
  }

  /** BUDGET_EXCEEDED as the server must answer a use of `amount` by a member, or null when the budget allows it. */
  private budgetRefusal(index: number | null | undefined, amount: Millis): Expectation | null {
    if (index === null || index === undefined) return null;
    const member = this.memberNow(index);
    const held = this.heldBy(index);
    if (member.budget === null || member.used + held + amount <= member.budget) return null;
    count('budget exceeded');
    return {
      refused: 'BUDGET_EXCEEDED', stored: true, details: {
        memberId: member.id, budget: fmt(member.budget), used: fmt(member.used), held: fmt(held),
        remaining: fmt(Math.max(0, member.budget - member.used - held)),
      },
    };
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
        const input: Input = { accountId: this.accountId, amount: creditsInput(millis, op.asNumber), idempotencyKey: key };
        if (op.member !== undefined && op.member !== null) input.memberId = this.members[op.member].id;
        return { kind: 'charge', input, millis, member: op.member ?? null };
      }
      case 'reserve': {
        const millis = this.amountOf(op.amount, m.freeTotal());
        const input: Input = { accountId: this.accountId, amount: fmt(millis), idempotencyKey: key };
        if (op.ttl !== null) input.ttlSeconds = op.ttl;
        if (op.member !== undefined && op.member !== null) input.memberId = this.members[op.member].id;
        return { kind: 'reserve', input, millis, ttl: op.ttl, member: op.member ?? null };
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
      case 'subscribe':
      case 'changePlan':
        return { kind: op.kind, input: { accountId: this.accountId, planCode: codeOf(op.plan), idempotencyKey: key }, millis: null, plan: op.plan };
      case 'cancel': {
        const input: Input = { accountId: this.accountId, idempotencyKey: key };
        if (op.atPeriodEnd !== null) input.atPeriodEnd = op.atPeriodEnd;
        return { kind: 'cancel', input, millis: null, atPeriodEnd: op.atPeriodEnd ?? true };
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
        const overBudget = this.budgetRefusal(req.member, amount);
        if (overBudget) return overBudget;
        const plan = m.allocate(amount);
        const room = m.overdraftRoom();
        if (plan.short > room) {
          const available = Math.max(0, m.freeTotal() + room);
          return { refused: 'INSUFFICIENT_CREDITS', stored: true, details: { required: fmt(amount), available: fmt(available), shortfall: fmt(amount - available) } };
        }
        return {
          commit: (answer) => {
            // A renewal in the same step made buckets the model knew by placeholders when it decided this.
            for (const a of plan.allocations) a.bucketId = m.real(a.bucketId);
            const data = txOf(answer);
            txBasics(data, 'CHARGE', -amount);
            expect(data.debtChange).toBe(fmt(plan.short));
            expect(sortEntries(entriesOf(data))).toEqual(sortEntries(plan.allocations.map((a) => ({ bucketId: a.bucketId, amount: fmt(-a.millis), originBucketId: null }))));
            for (const a of plan.allocations) m.buckets.get(a.bucketId)!.remaining -= a.millis;
            m.debt += plan.short;
            if (plan.short > 0) count('charge into overdraft');
            const entries = plan.allocations.map((a): { origin: string | null; millis: Millis } => ({ origin: a.bucketId, millis: a.millis }));
            if (plan.short > 0) entries.push({ origin: null, millis: plan.short });
            m.debits.push({ transactionId: data.id, kind: 'CHARGE', entries, returned: new Map(), member: req.member ?? null, at: m.now });
            if (req.member !== undefined && req.member !== null) this.memberNow(req.member).used += amount;
            expect(data.balanceAfter).toBe(fmt(m.figures().balance));
          },
        };
      }
      case 'reserve': {
        const ttl = req.ttl ?? HOLD_TTL_DEFAULT_SECONDS;
        if (ttl < 1 || ttl > HOLD_TTL_MAX_SECONDS) return { refused: 'BAD_USER_INPUT', stored: false };
        const amount = req.millis!;
        const overBudget = this.budgetRefusal(req.member, amount);
        if (overBudget) return overBudget;
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
            m.holds.push({ id: data.id, amount, expiresAt, status: 'ACTIVE', allocations: plan.allocations, member: req.member ?? null });
            if (m.live && expiresAt > m.live.end) count('hold over the period end');
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
            m.debits.push({ transactionId: data.id, kind: 'CAPTURE', entries: taken.map((a) => ({ origin: a.bucketId, millis: a.millis })), returned: new Map(), member: hold.member ?? null, at: m.now });
            // A capture is never refused by the budget (the hold secured it): it counts in the period it happens.
            if (hold.member !== undefined && hold.member !== null) this.memberNow(hold.member).used += amount;
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
            if (hold.allocations.some((a) => m.canceledPlanBuckets.has(a.bucketId) && m.isLive(m.buckets.get(a.bucketId)!))) count('hold released into a plan bucket canceled at once');
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
            // A refund of a member's charge or capture of the current budget period gives it back (never below 0).
            if (debit.member !== undefined && debit.member !== null) {
              const member = this.memberNow(debit.member);
              const period = this.budgetPeriod();
              const inPeriod = /^\d{4}-\d{2}$/.test(period.key) ? iso(debit.at!).slice(0, 7) === period.key : debit.at! >= period.start;
              if (inPeriod) member.used = Math.max(0, member.used - amount);
              count(inPeriod ? 'member refund in period' : 'member refund of an earlier period');
            }
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
                if (m.canceledPlanBuckets.has(p.target)) count('refund into a plan bucket canceled at once');
              }
            }
            expect(data.balanceAfter).toBe(fmt(m.figures().balance));
          },
        };
      }
      case 'subscribe': {
        const plan = req.plan!;
        if (plan === UNKNOWN_PLAN) return { refused: 'NOT_FOUND', stored: false };
        if (m.live) return { refused: 'BAD_USER_INPUT', stored: false };
        return {
          commit: (answer) => {
            const data = subOf(answer);
            expect(m.subs.some((s) => s.id === data.id)).toBe(false);
            const s = m.subscribe(plan, req.input.idempotencyKey as string);
            s.id = data.id;
            if (m.subs.length > 1) count('subscribed again after a cancellation');
            expect(data.accountId).toBe(this.accountId);
            expect(subFields(data)).toEqual(m.subView(s));
          },
        };
      }
      case 'changePlan': {
        const s = m.live;
        if (!s) return { refused: 'BAD_USER_INPUT', stored: false };
        const plan = req.plan!;
        if (plan === UNKNOWN_PLAN) return { refused: 'NOT_FOUND', stored: false };
        if (plan === s.plan && s.scheduled === null && !s.cancelAtPeriodEnd) return { refused: 'BAD_USER_INPUT', stored: false };
        return {
          commit: (answer) => {
            if (plan === s.plan) {
              count(s.cancelAtPeriodEnd ? 'change to the current plan undid a cancellation' : 'change to the current plan undid a downgrade');
              s.scheduled = null;
              s.cancelAtPeriodEnd = false;
            } else if (PLAN_SPECS[plan].allowance > PLAN_SPECS[s.plan].allowance) {
              const extra = m.upgrade(s, plan, req.input.idempotencyKey as string);
              count(extra > 0 ? 'upgrade' : 'upgrade with nothing left to prorate');
            } else {
              count('downgrade scheduled');
              s.scheduled = plan;
              s.cancelAtPeriodEnd = false;
            }
            expect(subFields(subOf(answer))).toEqual(m.subView(s));
          },
        };
      }
      case 'cancel': {
        const s = m.live;
        if (!s) return { refused: 'BAD_USER_INPUT', stored: false };
        return {
          commit: (answer) => {
            if (req.atPeriodEnd) {
              count('cancel at the period end');
              s.cancelAtPeriodEnd = true;
              s.scheduled = null;
            } else {
              count('cancel at once');
              m.cancelNow(s);
            }
            expect(subFields(subOf(answer))).toEqual(m.subView(s));
          },
        };
      }
    }
  }

  // ---------------------------------------------------------------- executing

  /** Sends a request, checks the answer against the model's verdict and applies it to the model. */
  async perform(req: Req): Promise<void> {
    if (isPlanKind(req.kind)) this.planStep = true;
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
    // The request renewed a period first (the model did so in this step): learn the new buckets' ids.
    if (this.model.planTxs.length > 0) this.reconcile(await this.newestTransactions());
    verdict.commit(response.answer);
    this.sent.push({ req, response, stored: true });
    count(`${req.kind} ok`);
  }

  /** Runs one operation; false when it had nothing to work on (and so changed nothing). */
  async step(op: Op): Promise<boolean> {
    const m = this.model;
    this.effect = { kind: 'any' };
    this.planStep = false;
    switch (op.kind) {
      case 'advancePeriod':
        if (!(await this.advancePeriod(op))) return false;
        break;
      case 'holdOverPeriodEnd': {
        const s = m.live;
        if (!s) return this.skip('(no subscription)');
        const target = Math.max(m.now, s.end - op.before * 1000);
        t.clock.set(new Date(target));
        m.advanceTo(target);
        const req = this.toReq({ kind: 'reserve', amount: op.amount, ttl: Math.ceil((s.end - target) / 1000) + op.extra })!;
        this.note(`to ${iso(target)}, then ${req.kind} ${JSON.stringify(req.input)}`);
        await this.perform(req);
        break;
      }
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
        if (isPlanKind(first.req.kind)) {
          // The answer is the subscription the operation changed, as it is now.
          const data = subOf(again.answer);
          expect(data.id).toBe(subOf(first.response.answer).id);
          const s = m.subs.find((x) => x.id === data.id)!;
          expect(subFields(data)).toEqual(m.subView(s));
        } else {
          expect(again).toEqual(first.response);
        }
        this.effect = { kind: 'none' };
        count(`replay of a stored ${first.req.kind}`);
        break;
      }
      case 'reuseKey': {
        const stored = this.sent.filter((s) => s.stored);
        if (stored.length === 0) return this.skip('(no key to reuse)');
        const first = stored[op.index % stored.length];
        const changed = first.req.kind === 'cancel' ? { atPeriodEnd: !first.req.atPeriodEnd }
          : isPlanKind(first.req.kind) ? { planCode: codeOf((first.req.plan! + 1) % PLAN_SPECS.length) }
            : { comment: 'a different request' };
        this.note(`reuses the key of ${first.req.kind} ${JSON.stringify(first.req.input)} with ${JSON.stringify(changed)}`);
        const other = await attempt(first.req.kind, { ...first.req.input, ...changed });
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
      case 'buy':
        await this.buy(op);
        break;
      case 'takeBack':
        if (this.purchases.length === 0) return this.skip('(no purchase)');
        await this.takeBack(op);
        break;
      case 'redeliver': {
        if (this.events.length === 0) return this.skip('(no event delivered)');
        const body = this.events[op.index % this.events.length];
        this.note(`delivers ${body.type} ${body.id} again`);
        expect(await this.deliver(body, 'once')).toEqual(['IGNORED']);
        expect(await this.postedInStep()).toEqual([]);
        count('event delivered again');
        break;
      }
      default: {
        const req = this.toReq(op);
        if (!req) return this.skip('(nothing to target)');
        this.note(`${req.kind} ${JSON.stringify(req.input)}`);
        await this.perform(req);
      }
    }
    m.advanceTo(t.clock.now().getTime());
    return true;
  }

  // ---------------------------------------------------------------- purchases

  /** Delivers a signed webhook event (`how` often); each answers 200; returns the outcomes, the one that acted first. */
  private async deliver(body: WebhookBody, how: Deliveries): Promise<string[]> {
    this.events.push(body);
    const one = async () => {
      const response = await payments.deliver(body);
      expect(response.status).toBe(200);
      return String(response.body.outcome);
    };
    const outcomes = how === 'once' ? [await one()] : how === 'again' ? [await one(), await one()] : await Promise.all([one(), one(), one()]);
    // One delivery takes effect (or is recorded for review, or ignored); the others find its event id.
    const first = outcomes.find((o) => o !== 'IGNORED') ?? 'IGNORED';
    expect(outcomes.filter((o) => o !== 'IGNORED').length).toBeLessThanOrEqual(1);
    if (how !== 'once') count(`event delivered ${how === 'again' ? 'twice' : 'three times at once'}`);
    return [first, ...outcomes.filter((o) => o === 'IGNORED').slice(first === 'IGNORED' ? 1 : 0)];
  }

  /** Transactions the step posted (oldest first), leaving out what time made due (renewals, expiry, lapsed holds). */
  private async postedInStep(): Promise<TransactionFieldsFragment[]> {
    return (await this.newestTransactions())
      .filter((tx) => tx.sequence !== null && tx.sequence > this.last.sequence && tx.actor !== 'system:expiry' && tx.actor !== 'system:renewal')
      .reverse();
  }

  /** A pack bought (PENDING: nothing moves), then the provider's webhook; a payment grants the pack once, debt repaid first. */
  private async buy(op: Extract<Op, { kind: 'buy' }>): Promise<void> {
    const m = this.model;
    const spec = PACK_SPECS[op.pack];
    const { purchaseCredits: bought } = await t.op(PurchaseCreditsDocument, {
      input: { accountId: this.accountId, packCode: packCodes[op.pack], idempotencyKey: uniqueKey('prop-buy') },
    });
    expect(bought).toMatchObject({ status: 'PENDING', credits: fmt(spec.credits), price: { amount: spec.price, currency: 'USD' }, transaction: null });
    const body = payments.event(bought, op.outcome === 'failed' ? 'payment.failed' : 'payment.succeeded');
    if (op.outcome === 'wrongAmount') body.data.amount = '0.01';
    this.note(`buys ${fmt(spec.credits)}, ${op.outcome}, delivered ${op.deliveries}`);
    const outcomes = await this.deliver(body, op.deliveries);
    const { purchase } = await t.op(PurchaseDocument, { id: bought.id });
    const posted = await this.postedInStep();
    const record: MPurchase = { id: bought.id, price: bought.price, millis: spec.credits, status: 'PENDING', grantId: null, bucketId: null, reversed: false };
    this.purchases.push(record);
    if (op.outcome !== 'paid') {
      expect(outcomes[0]).toBe(op.outcome === 'failed' ? 'APPLIED' : 'REVIEW');
      expect(purchase).toMatchObject({ status: op.outcome === 'failed' ? 'FAILED' : 'PENDING', transaction: null });
      expect(posted).toEqual([]);
      record.status = purchase!.status as MPurchase['status'];
      count(op.outcome === 'failed' ? 'purchase failed' : 'purchase event for review');
      return;
    }
    expect(outcomes[0]).toBe('APPLIED');
    const repay = Math.min(m.debt, spec.credits);
    expect(posted.map((tx) => tx.type)).toEqual(repay > 0 ? ['PURCHASE', 'DEBT_REPAYMENT'] : ['PURCHASE']);
    const [grant] = posted;
    expect(purchase).toMatchObject({ status: 'SUCCEEDED', transaction: { id: grant.id, type: 'PURCHASE', amount: fmt(spec.credits) } });
    expect(grant.entries).toHaveLength(1);
    const bucketId = grant.entries[0].bucketId;
    expect(m.buckets.has(bucketId)).toBe(false);
    m.buckets.set(bucketId, {
      id: bucketId, priority: DEFAULT_PRIORITY.PURCHASE, expiresAt: spec.days === null ? null : m.now + spec.days * 86_400_000, createdAt: m.now,
      remaining: spec.credits - repay,
    });
    m.debt -= repay;
    Object.assign(record, { status: 'SUCCEEDED', grantId: grant.id, bucketId });
    count(repay > 0 ? 'purchase paid, repaid debt' : 'purchase paid');
  }

  /**
   * A refund or chargeback by the provider: a paid purchase not taken back yet gives back what is free of
   * its bucket; the rest of the pack becomes debt, but for what expired unused. Anything else changes nothing.
   */
  private async takeBack(op: Extract<Op, { kind: 'takeBack' }>): Promise<void> {
    const m = this.model;
    const open = this.purchases.filter((p) => p.status === 'SUCCEEDED' && !p.reversed);
    const pool = op.paidOnly && open.length > 0 ? open : this.purchases;
    const target = pool[op.index % pool.length];
    const expiresAt = target.bucketId === null ? null : m.buckets.get(target.bucketId)!.expiresAt;
    if (op.late !== null && expiresAt !== null && expiresAt + op.late * 1000 > m.now) {
      // Nothing settles the lapsed credits before the webhook does.
      t.clock.set(new Date(expiresAt + op.late * 1000));
      m.advanceTo(expiresAt + op.late * 1000);
      this.note(`at ${iso(m.now)}`);
      count('take-back after the credits expired');
    }
    this.note(`${op.type} of ${target.status}${target.reversed ? ' (taken back)' : ''} purchase ${target.id}, delivered ${op.deliveries}`);
    const outcomes = await this.deliver(payments.event(target, op.type), op.deliveries);
    const posted = await this.postedInStep();
    if (target.status !== 'SUCCEEDED' || target.reversed) {
      expect(outcomes[0]).toBe(target.reversed ? 'IGNORED' : 'REVIEW');
      expect(posted).toEqual([]);
      count(target.reversed ? 'taken back again: ignored' : 'take-back of an unpaid purchase: review');
      return;
    }
    expect(outcomes[0]).toBe('APPLIED');
    const bucket = m.buckets.get(target.bucketId!)!;
    const take = Math.min(target.millis, Math.max(0, bucket.remaining - m.heldOn(bucket.id)));
    const expired = m.expiredFrom.get(bucket.id) ?? 0;
    const owed = Math.max(0, target.millis - take - expired);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ type: 'REVERSAL', amount: fmt(-(take + owed)), debtChange: fmt(owed), relatedTransactionId: target.grantId });
    const { purchase } = await t.op(PurchaseDocument, { id: target.id });
    expect(purchase).toMatchObject({ status: 'SUCCEEDED', reversalTransaction: { id: posted[0].id } });
    bucket.remaining -= take;
    m.debt += owed;
    target.reversed = true;
    count(`${op.type === 'payment.refunded' ? 'refunded' : 'charged back'}${owed > 0 ? ', spent credits became debt' : ''}${expired > 0 ? ', some had expired' : ''}`);
  }

  /** The clock across (or up to) the current period's end; then what makes the server renew. */
  private async advancePeriod(op: AdvancePeriodOp): Promise<boolean> {
    const m = this.model;
    const s = m.live;
    let target: number;
    if (!s) target = m.now + op.days * 86_400_000 + op.seconds * 1000;
    else if (op.to === 'before') target = s.end - op.seconds * 1000;
    else if (op.to === 'at') target = s.end + op.ms;
    else if (op.to === 'after') target = s.end + op.days * 86_400_000 + op.seconds * 1000;
    else target = monthsAfter(s.anchor, s.index + 1 + op.periods) + op.seconds * 1000;
    if (target <= m.now) return this.skip('(the period end is nearer than that)');
    this.note(`to ${iso(target)}${s ? ` (period end ${iso(s.end)})` : ''}`);
    t.clock.set(new Date(target));
    const renewed = m.advanceTo(target);
    switch (op.then) {
      case 'read':
        break; // the check reads the wallet first
      case 'subscription': {
        const { account } = await t.op(AccountSubscriptionDocument, { id: this.accountId, periods: 1 });
        if (m.live) expect(account?.subscription?.currentPeriodEnd).toBe(iso(m.live.end));
        break;
      }
      case 'renewals': {
        const wallets = await t.app.services.plans.runRenewals(5);
        if (m.planTxs.length > 0) expect(wallets).toBeGreaterThanOrEqual(1);
        break;
      }
      case 'expiry':
        await t.app.services.ledger.runExpiry();
        break;
      case 'charge': {
        const req = this.toReq({ kind: 'charge', amount: op.charge, asNumber: false })!;
        this.note(`then ${req.kind} ${JSON.stringify(req.input)}`);
        await this.perform(req);
        break;
      }
    }
    if (renewed > 0) count(`renewed, then ${op.then}`);
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

  /** The account's newest transactions (FAILED attempts included), newest first. */
  private async newestTransactions(first = TX_PAGE): Promise<TransactionFieldsFragment[]> {
    const { transactions } = await t.op(TransactionsDocument, { accountId: this.accountId, first: Math.min(first, 100) });
    return transactions.edges.map((e) => e.node);
  }

  /**
   * Matches the plan transactions posted since the last match with those the model predicted, in
   * order, and learns the ids of the buckets they created. Plan transactions: a renewal's (actor
   * system:renewal, whoever triggered it) and, in a step that sent a plan operation, all but those
   * of the expiry sweep.
   */
  reconcile(newestFirst: TransactionFieldsFragment[]): void {
    const m = this.model;
    const fresh = newestFirst.filter((tx) => tx.sequence !== null && tx.sequence > this.reconciled).reverse();
    expect(fresh.map((tx) => tx.sequence)).toEqual(fresh.map((_, i) => this.reconciled + 1 + i)); // none missed
    const posted = fresh.filter((tx) => tx.actor === 'system:renewal' || (this.planStep && tx.actor !== 'system:expiry'));
    const expected = m.planTxs.splice(0);
    expect(posted.map((tx) => ({ type: tx.type, amount: tx.amount, debtChange: tx.debtChange, idempotencyKey: tx.idempotencyKey })))
      .toEqual(expected.map((e) => ({ type: e.type, amount: fmt(e.amount), debtChange: fmt(e.debtChange), idempotencyKey: e.idempotencyKey })));
    for (const [i, e] of expected.entries()) {
      const tx = posted[i];
      expect(tx.status).toBe('SUCCEEDED');
      // At most one new bucket per transaction: the grant's, or the one a rollover fills.
      const made = e.entries.filter((x) => x.bucketId !== null && isPlaceholder(m.real(x.bucketId)));
      const unknown = tx.entries.filter((x) => !m.buckets.has(x.bucketId));
      expect(unknown.length).toBe(made.length);
      if (made.length === 1) {
        expect(unknown[0].bucketSource).toBe(e.type === 'ROLLOVER' ? 'ROLLOVER' : 'PLAN_ALLOWANCE');
        m.rename(made[0].bucketId!, unknown[0].bucketId);
      }
      // Entries on buckets (the debt's side of a repayment shows in debtChange).
      expect(sortEntries(tx.entries.map((x) => ({ bucketId: x.bucketId, amount: x.amount }))))
        .toEqual(sortEntries(e.entries.flatMap((x) => (x.bucketId === null ? [] : [{ bucketId: m.real(x.bucketId), amount: fmt(x.millis) }]))));
      if (e.type === 'GRANT') m.grants.push({ transactionId: tx.id, kind: 'GRANT', entries: [], returned: new Map() });
    }
    if (fresh.length > 0) this.reconciled = fresh[fresh.length - 1].sequence!;
  }

  async check(): Promise<void> {
    const m = this.model;
    // First the wallet: reading it renews a period that ended (what the model did already).
    const { wallet: read } = await t.op(WalletDocument, { accountId: this.accountId });
    if (!read) throw new Error(`no wallet ${this.accountId}`);
    // What was posted since the last match (and a refused attempt or two), the audit, the subscription.
    const [transactions, { auditLedger }, subscription] = await Promise.all([
      this.newestTransactions(read.sequence - this.reconciled + 2),
      t.op(AuditLedgerDocument, {}),
      m.subs.length > 0 || this.planStep ? t.op(AccountSubscriptionDocument, { id: this.accountId, periods: PERIOD_PAGE }) : null,
    ]);
    this.reconcile(transactions);
    const f = m.figures();
    const { sequence } = read;
    expect(this.reconciled).toBe(sequence);
    const wallet = {
      balance: read.balance, available: read.available, held: read.held, debt: read.debt, overdraftLimit: read.overdraftLimit,
      buckets: read.buckets.map(({ id, remaining, held, expiresAt }) => ({ id, remaining, held, expiresAt })),
    };
    expect(wallet).toEqual({
      balance: fmt(f.balance), available: fmt(f.available), held: fmt(f.held), debt: fmt(f.debt), overdraftLimit: fmt(m.overdraftLimit),
      buckets: m.visibleBuckets(),
    });
    const newest = transactions[0] ?? null;
    if (this.effect.kind === 'none') {
      // Nothing written: no posted transaction, no recorded attempt.
      expect({ sequence, newest: newest?.id ?? null }).toEqual(this.last);
    } else if (this.effect.kind === 'failed') {
      // Refused attempts are recorded: FAILED, with the reason, without a sequence number.
      expect(newest).toMatchObject({ status: 'FAILED', failureCode: this.effect.code, sequence: null });
    }
    this.last = { sequence, newest: newest?.id ?? null };
    if (subscription) this.checkSubscription(subscription.account?.subscription ?? null);
    await this.checkMembers();
    const fresh = auditLedger.violations.filter((v) => !baselineViolations.has(v));
    expect(fresh).toEqual([]);
    if (baselineViolations.size === 0) expect(auditLedger.ok).toBe(true);
  }

  /** Per member: budgetUsed is the model's count of this period, never above the budget. */
  private async checkMembers(): Promise<void> {
    if (this.members.length === 0) return;
    const { account } = await t.ok<{ account: { members: { accountId: string; budget: string | null; budgetUsed: string }[] } }>(
      `query($id: ID) { account(id: $id) { members { accountId budget budgetUsed } } }`, { id: this.accountId });
    const expected = this.members.map((_, i) => {
      const member = this.memberNow(i);
      return { accountId: member.id, budget: member.budget === null ? null : fmt(member.budget), budgetUsed: fmt(member.used) };
    });
    expect([...account.members].sort((a, b) => (a.accountId < b.accountId ? -1 : 1))).toEqual(expected.sort((a, b) => (a.accountId < b.accountId ? -1 : 1)));
    for (const member of this.members) if (member.budget !== null) expect(member.used).toBeLessThanOrEqual(member.budget);
  }

  /** account.subscription: the live subscription, or else the latest one; its newest periods. */
  private checkSubscription(got: (SubscriptionFieldsFragment & { periods: PeriodFieldsFragment[] }) | null): void {
    const m = this.model;
    if (m.subs.length === 0) {
      expect(got).toBeNull();
      return;
    }
    if (!got) throw new Error('expected a subscription');
    // Two canceled subscriptions made at the same instant are equally "latest".
    const latest = m.subs[m.subs.length - 1];
    const candidates = m.live ? [m.live] : m.subs.filter((x) => x.createdAt === latest.createdAt);
    const s = candidates.find((x) => x.id === got.id);
    if (!s) throw new Error(`account.subscription is ${got.id}, expected one of ${candidates.map((x) => x.id).join(', ')}`);
    expect(subFields(got)).toEqual(m.subView(s));
    // The newest periods, newest first; rows that start at the same instant in any order.
    const row = (p: { kind: string; start: string; end: string; allowance: string; plan: string }) => `${p.start} ${p.kind} ${p.end} ${p.allowance} ${p.plan}`;
    const want = s.periods.map((p) => ({ kind: p.kind, start: iso(p.start), end: iso(p.end), allowance: fmt(p.allowance), plan: codeOf(p.plan) }))
      .sort((a, b) => (row(a) < row(b) ? 1 : -1));
    const cutoff = want.length > PERIOD_PAGE ? want[PERIOD_PAGE - 1].start : '';
    const sorted = (rows: typeof want) => rows.filter((p) => p.start > cutoff).map(row).sort();
    expect(sorted(got.periods.map((p) => ({ kind: p.kind, start: p.start, end: p.end, allowance: p.allowance, plan: p.plan.code })))).toEqual(sorted(want));
  }

  /** Ends the run's subscription at once, so no later job renews it. */
  async cleanUp(): Promise<void> {
    if (!this.model.live) return;
    await attempt('cancel', { accountId: this.accountId, atPeriodEnd: false, idempotencyKey: uniqueKey('prop-end') });
  }
}

/** A transaction's entries with the fields the model predicts (it does not track bucket sources). */
function entriesOf(tx: TransactionFieldsFragment) {
  return tx.entries.map(({ bucketId, amount, originBucketId }) => ({ bucketId, amount, originBucketId }));
}

/**
 * Where a run starts: `months` after CLOCK_START's month, `minutes` into it or (monthEnd) into its last
 * day. Runs do not depend on each other's clocks (a shrunk case replays alone with the same dates);
 * the clock goes back for a new run, which only meets its own new account.
 */
function startOfRun(start: { months: number; monthEnd: boolean; minutes: number }): number {
  const origin = new Date(CLOCK_START);
  const month = origin.getUTCMonth() + start.months;
  if (!start.monthEnd) return Date.UTC(origin.getUTCFullYear(), month, 1) + start.minutes * 60_000;
  return Date.UTC(origin.getUTCFullYear(), month + 1, 0) + (start.minutes % (24 * 60)) * 60_000; // day 0 of the next month: this one's last
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
      // the wallet's own overdraft limit, or none (its plan's then)
      fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 20_000 }) }, { weight: 3, arbitrary: fc.constant(null) }),
      // where the clock starts: a month of the 10 years from CLOCK_START, some time in it or on its last day (periods anchored on the 31st, 30th, 29th...)
      fc.record({ months: fc.integer({ min: 0, max: 10 * 12 - 1 }), monthEnd: fc.boolean(), minutes: fc.integer({ min: 0, max: 28 * 24 * 60 - 1 }) }),
      // a few grants first, so that holds and charges have something to work on, and most often a subscription
      fc.array(grantArb, { minLength: 1, maxLength: 3 }),
      fc.option(fc.integer({ min: 0, max: PLAN_SPECS.length - 1 }), { freq: 3, nil: null }),
      fc.array(opArb, { minLength: 1, maxLength: MAX_STEPS, size: 'max' }),
      // the team's two members' budgets
      fc.tuple(budgetArb, budgetArb),
      async (overdraft, start, firstGrants, firstPlan, rest, budgets) => {
        const first: Op[] = firstPlan === null ? firstGrants : [...firstGrants, { kind: 'subscribe', plan: firstPlan }];
        const ops: Op[] = [...first, ...rest].slice(0, MAX_STEPS);
        runs += 1;
        t.clock.set(new Date(startOfRun(start)));
        const accountId = await t.createAccount('property', { kind: 'TEAM', ...(overdraft === null ? {} : { overdraftLimit: fmt(overdraft) }) });
        const members: MMember[] = [];
        for (const [i, budget] of budgets.entries()) {
          const id = await t.createAccount('property member');
          await t.ok(`mutation($i: AddTeamMemberInput!) { addTeamMember(input: $i) { accountId } }`, {
            i: { teamId: accountId, accountId: id, role: i === 0 ? 'OWNER' : 'MEMBER', budget: budget === null ? null : fmt(budget) },
          });
          members.push({ id, budget, periodKey: '', used: 0 });
        }
        const run = new Run(accountId, overdraft, members);
        try {
          for (const [i, op] of ops.entries()) {
            run.log.push(`#${i} ${JSON.stringify(op)} @${new Date(t.clock.now()).toISOString()}:`);
            try {
              if (!(await run.step(op))) continue;
              steps += 1;
              await run.check();
            } catch (error) {
              const m = run.model;
              const trace = `overdraft ${overdraft === null ? "the plan's" : fmt(overdraft)}, budgets ${JSON.stringify(budgets)}\n${run.log.join('\n')}\nmodel: ${JSON.stringify({
                ...m.figures(), buckets: [...m.buckets.values()], holds: m.holds, subscriptions: m.subs,
              })}`;
              throw new Error(`step ${i} failed: ${error instanceof Error ? error.message : String(error)}\n--- trace ---\n${trace}`, { cause: error });
            }
          }
        } finally {
          await run.cleanUp();
        }
      },
    ),
    { numRuns: NUM_RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), ...(PATH ? { path: PATH } : {}), endOnFailure: process.env.PROPERTY_NO_SHRINK === "1" },
  );
  const seen = [...stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}: ${v}`).join(', ');
  console.log(`ledger property: ${runs} runs, ${steps} steps in ${Date.now() - started} ms\n${seen}`);
}, Math.max(300_000, NUM_RUNS * 10_000));

test('a hold over a period end: what rolls over does not depend on how late the renewal runs', async () => {
  // Pro (FULL rollover): 10 of its 31.337 are held from a minute before the period end to a minute after.
  const renewedAfter = async (touchedBeforeTheHoldLapsed: boolean) => {
    t.clock.set(new Date('1999-03-31T12:00:00.000Z'));
    const accountId = await t.createAccount('property', { overdraftLimit: '0' });
    const { subscribe } = await t.op(SubscribeDocument, { input: { accountId, planCode: codeOf(2), idempotencyKey: uniqueKey('prop') } });
    const end = Date.parse(subscribe.currentPeriodEnd);
    t.clock.set(new Date(end - 60_000));
    await t.op(ReserveCreditsDocument, { input: { accountId, amount: '10', ttlSeconds: 120, idempotencyKey: uniqueKey('prop') } });
    if (touchedBeforeTheHoldLapsed) {
      t.clock.set(new Date(end + 30_000));
      await t.wallet(accountId);
    }
    t.clock.set(new Date(end + 300_000));
    const { buckets, balance } = await t.wallet(accountId);
    await t.op(CancelSubscriptionDocument, { input: { accountId, atPeriodEnd: false, idempotencyKey: uniqueKey('prop-end') } });
    return { balance, buckets: buckets.map((b) => `${b.source} ${b.remaining}`) };
  };
  // The held 10 were not unused at the period end: they expire when the hold lapses, the rest rolls over.
  const expected = { balance: '52.674', buckets: ['ROLLOVER 21.337', 'PLAN_ALLOWANCE 31.337'] }; // burn-down order: rolled-over credits first
  expect(await renewedAfter(true)).toEqual(expected);
  expect(await renewedAfter(false)).toEqual(expected);
  expect((await t.audit()).violations.filter((v) => !baselineViolations.has(v))).toEqual([]);
});

test('a refund of purchased credits that expired unused owes nothing for them, even when nothing swept the expiry first', async () => {
  // The second pack's 20 credits last a day; 5 are spent, then the rest lapses; the refund comes 2 days later.
  t.clock.set(new Date('1999-06-10T12:00:00.000Z'));
  const accountId = await t.createAccount('property', { overdraftLimit: '0' });
  const { purchaseCredits: bought } = await t.op(PurchaseCreditsDocument, { input: { accountId, packCode: packCodes[1], idempotencyKey: uniqueKey('prop-buy') } });
  expect((await payments.deliver(payments.event(bought))).body.outcome).toBe('APPLIED');
  await t.op(ChargeDocument, { input: { accountId, amount: '5', idempotencyKey: uniqueKey('prop') } });
  t.clock.advanceSeconds(2 * 86_400);
  expect((await payments.deliver(payments.event(bought, 'payment.refunded'))).body.outcome).toBe('APPLIED');
  const [reversal, expiry] = await t.history(accountId);
  expect({ type: expiry.type, amount: expiry.amount }).toEqual({ type: 'EXPIRE', amount: '-15' });
  expect({ type: reversal.type, amount: reversal.amount, debtChange: reversal.debtChange }).toEqual({ type: 'REVERSAL', amount: '-5', debtChange: '5' });
  expect(await t.wallet(accountId)).toMatchObject({ balance: '-5', debt: '5' });
});
