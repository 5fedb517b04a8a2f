/**
 * The ledger's rules: grants, charges, holds, captures, releases, refunds, reversals and expiry.
 * The only module that writes ledger transactions and entries. Every credit-moving operation runs
 * in one database transaction: idempotency key claimed → wallet row locked → due expiries settled →
 * buckets picked by the burn-down rule → transaction + entries written → result stored.
 * Events are handed to `publish` only after commit.
 */
import type { Database, Executor, Tx } from '../../db/client';
import type { Config } from '../../config';
import type { Clock } from '../../shared/clock';
import { AppError, ErrorCode, badInput, notFound } from '../../shared/errors';
import { formatCredits, type Millis } from '../../shared/credits';
import { newId } from '../../shared/ids';
import { assert } from '../../shared/assert';
import { isUuid } from '../../shared/validate';
import { compareBurnOrder, freeMillis } from './burn-down';
import { insufficientCredits, notInPlan, paymentRefusal, type Payment } from './payment';
import { defaultPriority, postGrant } from './grants';
import { PlanWallet, type PlanHooks } from './plan-wallet';
import { PurchaseWallet } from './purchase-wallet';
import { WalletSession, type PostEntry } from './wallet-session';
import { UseRuleRuns, type CreditUse, type UseRules } from './use-rules';
import { requestHash, runIdempotent, storedOutcome, validateIdempotencyKey, type StoredOutcome } from './idempotency';
import { CoalescingQueue } from '../../shared/coalescing-queue';
import * as repo from './ledger.repo';
import type { BucketSourceName } from '../../db/schema';
import type { HoldRow, TransactionRow, WalletRow } from './ledger.repo';

export interface Actor {
  /** Who, as recorded on ledger transactions: "key:<id>", "user:<accountId>", "system:<job>". */
  id: string;
  /** Idempotency keys are unique per scope (per API key, per user account). */
  scope: string;
}

/** The closed set lives with the table (src/db/schema.ts), where a CHECK enforces it. */
export type BucketSource = BucketSourceName;

export interface GrantRequest {
  accountId: string;
  amountMillis: Millis;
  source: BucketSource;
  expiresAt?: Date | null;
  priority?: number | null;
  comment?: string | null;
  applicableActions?: string[] | null;
  applicableModels?: string[] | null;
  costPerCredit?: string | null;
  currency?: string | null;
  idempotencyKey: string;
  /** Ledger type of the grant transaction: GRANT (admin), PURCHASE (paid), ROLLOVER, ADJUSTMENT. */
  transactionType?: 'GRANT' | 'PURCHASE' | 'ROLLOVER' | 'ADJUSTMENT';
}

/** What a generation's pricing adds to a charge or hold (recorded on the transaction). */
export interface PricingRecord {
  rateCardVersion: number;
  lineItems: { label: string; credits: string; kind?: string }[];
  /** The quote's locked price, when a quote was used. */
  quotedCredits?: string | null;
  /** Holds: the generation's params, to price the actual usage at capture. */
  params?: unknown;
}

export interface ChargeRequest {
  accountId: string;
  amountMillis: Millis;
  idempotencyKey: string;
  action?: string | null;
  model?: string | null;
  params?: unknown;
  comment?: string | null;
  quoteId?: string | null;
  pricing?: PricingRecord | null;
  vendorUsage?: unknown;
  /** A team wallet's charge for one of its members (their budget counts it). */
  memberId?: string | null;
  /** The client's fingerprint of the generation (the repeat rule counts identical ones). */
  fingerprint?: string | null;
}

export interface ReserveRequest {
  accountId: string;
  amountMillis: Millis;
  idempotencyKey: string;
  ttlSeconds?: number | null;
  action?: string | null;
  model?: string | null;
  quoteId?: string | null;
  pricing?: PricingRecord | null;
  comment?: string | null;
  /** A team wallet's hold for one of its members (counted against their budget while active). */
  memberId?: string | null;
  fingerprint?: string | null;
}

export interface CaptureRequest {
  holdId: string;
  amountMillis: Millis | null; // null: the whole hold
  idempotencyKey: string;
  /** Pricing of the actual usage, when the capture was priced from a generation. */
  pricing?: PricingRecord | null;
  comment?: string | null;
  vendorUsage?: unknown;
}

export interface RefundRequest {
  transactionId: string;
  amountMillis: Millis | null; // null: all that is still refundable
  idempotencyKey: string;
  comment?: string | null;
}

export interface ReleaseRequest {
  holdId: string;
  idempotencyKey: string;
  comment?: string | null;
}

export interface ReverseRequest {
  transactionId: string;
  idempotencyKey: string;
  comment?: string | null;
}

/** After commit: what a database transaction posted on one wallet, and the alerts raised with it (opaque to the ledger). */
export type WalletEventSink = (posted: TransactionRow[], alerts: readonly unknown[]) => void;

/** One wallet's movement in a database transaction: its posted rows, in order, and `available` before the first. */
export interface WalletMovement {
  wallet: WalletRow;
  availableBeforeMillis: Millis;
  posted: readonly TransactionRow[];
}

/**
 * Attached by the alerts module: called inside the database transaction, after its writes, with every
 * wallet that moved; returns the alerts it recorded (published with the rows after commit). It must read
 * nothing unless a level was crossed: the wallet row and the posted rows carry what it needs.
 */
export interface LowCreditHooks {
  afterWrites(tx: Tx, movements: WalletMovement[], now: Date): Promise<readonly unknown[]>;
}

/** What a pricing step decides for a charge or hold: the amount and what to record with it. */
export interface Priced {
  amountMillis: Millis;
  action?: string | null;
  model?: string | null;
  params?: unknown;
  quoteId?: string | null;
  pricing?: PricingRecord | null;
}

/**
 * Hooks other modules attach to the ledger without the ledger importing them. They run inside the
 * operation's database transaction, after the idempotency key is claimed and the wallet locked:
 * `prepare` prices the operation (an AppError result is recorded as a FAILED transaction; a thrown
 * error rolls everything back), `afterPost` runs with the posted transaction (e.g. marks a quote used).
 */
export interface ChargeHooks {
  prepare?: (tx: Tx) => Promise<Priced | AppError>;
  afterPost?: (tx: Tx, transaction: TransactionRow) => Promise<void>;
  /**
   * The hooks only read (e.g. price from the rate card), so the charge may share a database transaction
   * with others; without it a charge with hooks runs in one of its own (a quote it marks used must not
   * be rolled back by a neighbour's failure and re-run).
   */
  coalesce?: boolean;
}

/** One item of a batch: a charge as `charge` takes it, or the refusal its input already earned (validation, access). */
export type BatchCharge =
  | { input: ChargeRequest; hooks?: ChargeHooks; operation?: string; hashInput?: unknown }
  | { refusal: AppError };

/** A batch item's result: the transaction it posted (or replayed), or its refusal. */
export type BatchOutcome = { transaction: TransactionRow } | { error: unknown };

/** An atomic batch rolled back: the index of the item that failed and its refusal. */
class AtomicAbort extends Error {
  constructor(readonly index: number, readonly refusal: AppError) {
    super('atomic batch aborted');
  }
}

export interface HoldHooks {
  prepare?: (tx: Tx) => Promise<Priced | AppError>;
  afterHold?: (tx: Tx, hold: HoldRow) => Promise<void>;
}

interface QueuedCharge {
  actor: Actor;
  input: ChargeRequest;
  hooks: ChargeHooks;
  hash: string;
}

type ChargeResult = { outcome: StoredOutcome; value?: TransactionRow };

const keyOf = (item: QueuedCharge) => item.actor.scope + '\0' + item.input.idempotencyKey;

/**
 * Charges are coalesced per lane; a wallet always maps to the same lane, so its charges keep their
 * order and never wait on each other's row lock inside one process. A few lanes let batches on
 * different wallets overlap (one is in the database while the next is being built).
 */
function laneOf(accountId: string, lanes: number): string {
  let h = 0;
  for (let i = 0; i < accountId.length; i++) h = (h * 31 + accountId.charCodeAt(i)) | 0;
  return String(Math.abs(h) % lanes);
}

/** Told how charges end and how many were coalesced per batch (metrics); the ledger knows nothing more of it. */
export interface LedgerObserver {
  /** "succeeded", or the refusal's code ("error" for an unexpected failure). */
  chargeSettled?(outcome: string): void;
  chargeBatch?(size: number): void;
}

export class LedgerService {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly config: Readonly<Config>,
    private readonly publish: WalletEventSink,
    private readonly observer: LedgerObserver = {},
  ) {
    this.charges = new CoalescingQueue<QueuedCharge, ChargeResult>(
      (_lane, items) => {
        this.observer.chargeBatch?.(items.length);
        return this.runChargesIsolated(items);
      },
      (item) => Boolean(item.hooks.prepare || item.hooks.afterPost) && !item.hooks.coalesce,
      config.chargeBatchSizeMax,
    );
  }

  private readonly charges: CoalescingQueue<QueuedCharge, ChargeResult>;
  private planHooks: PlanHooks | null = null;
  private lowCreditHooks: LowCreditHooks | null = null;
  private readonly useRules: UseRules[] = [];

  /** Rules applied to every charge, hold, capture and refund in its database transaction (use-rules.ts), in attach order. */
  attachUseRules(rules: UseRules): void {
    this.useRules.push(rules);
  }

  /** The alerts module checks low-credit levels in the database transaction of every operation. */
  attachAlerts(hooks: LowCreditHooks): void {
    this.lowCreditHooks = hooks;
  }

  /** Writes what the sessions buffered, then lets the alerts module check levels; returns the alerts it raised. */
  private async flush(tx: Tx, sessions: readonly WalletSession[]): Promise<readonly unknown[]> {
    await WalletSession.finishAll(sessions);
    if (!this.lowCreditHooks) return [];
    const moved = sessions.filter((s) => s.posted.length > 0);
    if (moved.length === 0) return this.lowCreditHooks.afterWrites(tx, [], this.clock.now());
    return this.lowCreditHooks.afterWrites(tx, moved.map((s) => ({ wallet: s.wallet, availableBeforeMillis: s.availableAtOpenMillis, posted: s.posted })), moved[0].now);
  }

  /** After commit: each wallet's posted rows; the alerts go with the first batch. */
  private publishAll(sessions: readonly WalletSession[], alerts: readonly unknown[]): void {
    let pendingAlerts = alerts;
    for (const s of sessions) {
      if (s.posted.length === 0) continue;
      this.publish(s.posted, pendingAlerts);
      pendingAlerts = [];
    }
    if (pendingAlerts.length > 0) this.publish([], pendingAlerts);
  }

  /** The plans module renews due periods lazily and names the plans behind a gating refusal. */
  attachPlans(hooks: PlanHooks): void {
    this.planHooks = hooks;
  }

  private get db() {
    return this.database.db;
  }

  /** Opens the wallet under lock and settles due expiries; NOT_FOUND (rolls back) when there is none. */
  private async open(tx: Tx, accountId: string): Promise<WalletSession> {
    const session = await WalletSession.open(tx, accountId, this.clock.now());
    if (!session) throw notFound('account');
    await this.catchUp(session);
    return session;
  }

  /**
   * What time made due on a wallet just locked, in order: a plan period that ended renews first (its
   * unused allowance rolls over or expires as the plan says), then holds past their TTL and lapsed
   * buckets settle. Every operation does this, so a charge a second after a period end sees the new allowance.
   */
  private async catchUp(session: WalletSession): Promise<void> {
    const renewsAt = session.wallet.planRenewsAt;
    if (this.planHooks && renewsAt && renewsAt <= session.now) await this.planHooks.renewDue(new PlanWallet(session, 'system:renewal'));
    await session.settle('system:expiry');
  }

  /**
   * The refusal for a use the plan gates, naming the active plans that include the model or action
   * (null when the payment is not gated). Charges and holds ask inside their transaction, quotes outside.
   */
  async gatingRefusal(payment: Payment, executor: Executor = this.db): Promise<AppError | null> {
    if (!payment.gated) return null;
    return notInPlan(payment.gated, this.planHooks ? await this.planHooks.plansIncluding(executor, payment.gated) : null);
  }

  /**
   * Runs a plan operation (subscribe, change, cancel) on a locked wallet, idempotently: `work` returns
   * the id of the subscription it changed; a replay with the same key returns that id again.
   */
  async onWallet(actor: Actor, operation: string, idempotencyKey: string, input: unknown, accountId: string, work: (wallet: PlanWallet) => Promise<string>): Promise<string> {
    if (!isUuid(accountId)) throw notFound('account');
    const { outcome } = await this.runOnSessions<never>(actor, operation, idempotencyKey, input, async (tx, sessions) => {
      const session = await this.open(tx, accountId);
      sessions.push(session);
      const id = await work(new PlanWallet(session, actor.id));
      return { outcome: { kind: 'record', id } };
    });
    if (outcome.kind === 'refusal') throw AppError.fromJSON(outcome.error);
    assert(outcome.kind === 'record', 'a plan operation stores the id of what it changed');
    return outcome.id;
  }

  /**
   * Runs `work` on a locked, caught-up wallet in one database transaction (payments: a webhook event's
   * effect, a PENDING purchase's end, dunning). Not idempotent by itself: the caller makes it so (a
   * payment event's id is inserted first, in the same transaction). `prepare` runs in the transaction
   * before the wallet is locked; what it returns is handed to `work`. Events are published after commit.
   */
  async withWallet<P, T>(accountId: string, actor: string, prepare: (tx: Tx) => Promise<P>, work: (wallet: PurchaseWallet, prepared: P) => Promise<T>): Promise<T> {
    if (!isUuid(accountId)) throw notFound('account');
    const sessions: WalletSession[] = [];
    let alerts: readonly unknown[] = [];
    const result = await this.db.transaction(async (tx) => {
      const prepared = await prepare(tx);
      const session = await this.open(tx, accountId);
      sessions.push(session);
      const out = await work(new PurchaseWallet(session, actor), prepared);
      alerts = await this.flush(tx, sessions);
      return out;
    });
    this.publishAll(sessions, alerts);
    return result;
  }

  /**
   * Runs an idempotent wallet operation: `work` returns either a posted transaction/hold or a
   * refusal; a refusal is recorded (FAILED transaction) and stored as the key's result.
   */
  private async execute<T extends TransactionRow | HoldRow>(
    actor: Actor, operation: string, idempotencyKey: string, input: unknown,
    work: (tx: Tx, sessions: WalletSession[], rules: UseRuleRuns) => Promise<{ outcome: StoredOutcome; value?: T }>,
  ): Promise<T> {
    const result = await this.runOnSessions(actor, operation, idempotencyKey, input, work);
    return this.resolveOutcome<T>(result.outcome, result.value);
  }

  /** The idempotent run behind `execute`: events of the sessions `work` opened are published after commit. */
  private async runOnSessions<T>(
    actor: Actor, operation: string, idempotencyKey: string, input: unknown,
    work: (tx: Tx, sessions: WalletSession[], rules: UseRuleRuns) => Promise<{ outcome: StoredOutcome; value?: T }>,
  ): Promise<{ outcome: StoredOutcome; value?: T }> {
    const sessions: WalletSession[] = [];
    let alerts: readonly unknown[] = [];
    const result = await runIdempotent<T>(this.db, this.clock, {
      scope: actor.scope, key: idempotencyKey, operation, input,
      keyTtlSeconds: this.config.idempotencyKeyTtlSeconds, keyLengthMax: this.config.idempotencyKeyLengthMax,
    }, async (tx) => {
      const rules = UseRuleRuns.begin(this.useRules, tx, this.clock.now());
      const out = await work(tx, sessions, rules);
      const ruleAlerts = await rules.flush();
      alerts = distinct([...await this.flush(tx, sessions), ...ruleAlerts]);
      return out;
    });
    if (result.fresh) this.publishAll(sessions, alerts);
    return result;
  }

  private async resolveOutcome<T>(outcome: StoredOutcome, value: T | undefined): Promise<T> {
    if (outcome.kind === 'refusal') throw AppError.fromJSON(outcome.error);
    if (value !== undefined) return value;
    assert(outcome.kind !== 'record', 'a record outcome belongs to onWallet');
    if (outcome.kind === 'transaction') {
      const row = await repo.findTransaction(this.db, outcome.id);
      assert(row, 'stored idempotent transaction exists');
      return row as T;
    }
    return reviveHold(outcome.snapshot) as T;
  }

  private refuse(session: WalletSession, error: AppError, fields: Omit<Parameters<WalletSession['recordFailure']>[0], 'failureCode' | 'failureMessage'>, use?: { rules: UseRuleRuns; use: CreditUse }): { outcome: StoredOutcome } {
    const transactionId = session.recordFailure({ ...fields, failureCode: error.code, failureMessage: error.message });
    use?.rules.refused(session, use.use, error, transactionId);
    return { outcome: { kind: 'refusal', error: error.toJSON(), transactionId } };
  }

  // ---------------------------------------------------------------- grants

  async grant(actor: Actor, input: GrantRequest): Promise<TransactionRow> {
    return this.execute<TransactionRow>(actor, 'grantCredits', input.idempotencyKey, input, async (tx, sessions) => {
      // Checked after the key is claimed: a replay of a grant whose expiresAt has passed since returns the
      // stored result (a fresh request is still refused, and the throw rolls the key claim back).
      if (input.expiresAt && input.expiresAt <= this.clock.now()) throw badInput('expiresAt must be in the future', 'expiresAt');
      const session = await this.open(tx, input.accountId);
      sessions.push(session);
      const { transaction: granted } = await postGrant(session, {
        source: input.source, amountMillis: input.amountMillis, expiresAt: input.expiresAt ?? null, priority: input.priority,
        applicableActions: input.applicableActions, applicableModels: input.applicableModels, costPerCredit: input.costPerCredit,
        currency: input.currency, type: input.transactionType ?? 'GRANT', actor: actor.id, comment: input.comment ?? null,
        idempotencyKey: input.idempotencyKey,
      });
      return { outcome: { kind: 'transaction', id: granted.id }, value: granted };
    });
  }

  // ---------------------------------------------------------------- charges

  /**
   * Charges go through their lane's queue: concurrent charges (on one or many wallets) are coalesced into one
   * database transaction (see shared/coalescing-queue.ts); each keeps its own idempotency key and result.
   */
  async charge(actor: Actor, input: ChargeRequest, hooks: ChargeHooks = {}, operation = 'charge', hashInput: unknown = input): Promise<TransactionRow> {
    try {
      validateIdempotencyKey(input.idempotencyKey, this.config.idempotencyKeyLengthMax);
      const outcome = await this.charges.submit(laneOf(input.accountId, this.config.chargeLanes), { actor, input, hooks, hash: requestHash(operation, hashInput) });
      const charged = await this.resolveOutcome<TransactionRow>(outcome.outcome, outcome.value);
      this.observer.chargeSettled?.('succeeded');
      return charged;
    } catch (error) {
      this.observer.chargeSettled?.(error instanceof AppError ? error.code : 'error');
      throw error;
    }
  }

  /**
   * Many charges in one request, each with its own idempotency key and result, in input order.
   * Not atomic: every item goes through its wallet's lane like a single charge (submitted in input order,
   * so a wallet's items keep their order, and coalesced into few database transactions); items succeed
   * or fail one by one. Atomic: one database transaction for all of them; the first item that fails
   * (a refusal, an unknown account, a key reused) rolls everything back and every other item reports
   * BATCH_ABORTED naming it. Nothing of an aborted batch is written (not even its refused attempt), so
   * it can be sent again with the same keys.
   */
  async chargeBatch(actor: Actor, charges: readonly BatchCharge[], atomic: boolean): Promise<BatchOutcome[]> {
    if (atomic) return this.chargeAtomically(actor, charges);
    const settled = await Promise.allSettled(charges.map((c) => ('refusal' in c
      ? Promise.reject(c.refusal)
      : this.charge(actor, c.input, c.hooks, c.operation, c.hashInput))));
    return settled.map((s): BatchOutcome => (s.status === 'fulfilled' ? { transaction: s.value } : { error: s.reason as unknown }));
  }

  private async chargeAtomically(actor: Actor, charges: readonly BatchCharge[]): Promise<BatchOutcome[]> {
    const aborted = (index: number, refusal: AppError): BatchOutcome[] => charges.map((_c, i) => ({
      error: i === index ? refusal : new AppError(ErrorCode.BATCH_ABORTED, `not charged: item ${index} of this atomic batch failed (${refusal.code})`, { failedIndex: index, failedCode: refusal.code }),
    }));
    const items: QueuedCharge[] = [];
    const seen = new Set<string>();
    for (const [i, c] of charges.entries()) {
      if ('refusal' in c) return aborted(i, c.refusal);
      try {
        validateIdempotencyKey(c.input.idempotencyKey, this.config.idempotencyKeyLengthMax);
      } catch (error) {
        if (error instanceof AppError) return aborted(i, error);
        throw error;
      }
      const item = { actor, input: c.input, hooks: c.hooks ?? {}, hash: requestHash(c.operation ?? 'charge', c.hashInput ?? c.input) };
      // One result per key: a key twice in one all-or-nothing batch is a mistake, not a replay.
      if (seen.has(keyOf(item))) return aborted(i, badInput('an idempotency key appears twice in this atomic batch', 'idempotencyKey'));
      seen.add(keyOf(item));
      items.push(item);
    }
    try {
      const results = await this.runCharges(items, true);
      return Promise.all(results.map(async (r) => {
        if (r instanceof Error) return { error: r };
        const transaction = await this.resolveOutcome<TransactionRow>(r.outcome, r.value);
        this.observer.chargeSettled?.('succeeded');
        return { transaction };
      }));
    } catch (error) {
      if (!(error instanceof AtomicAbort)) throw error;
      this.observer.chargeSettled?.(error.refusal.code);
      return aborted(error.index, error.refusal);
    }
  }

  /**
   * A batch that fails as a whole (e.g. one charge carries text the database refuses) rolled back and
   * wrote nothing: its charges then run one by one, so a bad request never fails the charges it was
   * coalesced with.
   */
  private async runChargesIsolated(items: QueuedCharge[]): Promise<(ChargeResult | Error)[]> {
    try {
      return await this.runCharges(items);
    } catch (error) {
      if (items.length === 1) throw error;
      const results: (ChargeResult | Error)[] = [];
      for (const item of items) {
        try {
          results.push((await this.runCharges([item]))[0]);
        } catch (alone) {
          results.push(alone instanceof Error ? alone : new Error(String(alone)));
        }
      }
      return results;
    }
  }

  /**
   * One database transaction for a batch of charges on any wallets: keys claimed in one statement,
   * wallets locked in id order and their buckets loaded in two, every write flushed in multi-row
   * statements, results stored in one. Charges on one wallet run in arrival order.
   */
  private async runCharges(items: QueuedCharge[], atomic = false): Promise<(ChargeResult | Error)[]> {
    const results: (ChargeResult | Error | null)[] = items.map(() => null);
    const sessions: WalletSession[] = [];
    const released = new Set<string>();
    let alerts: readonly unknown[] = [];
    await this.db.transaction(async (tx) => {
      const now = this.clock.now();
      const expiresAt = new Date(now.getTime() + this.config.idempotencyKeyTtlSeconds * 1000);
      const firstOfKey = new Map<string, number>();
      items.forEach((item, i) => { if (!firstOfKey.has(keyOf(item))) firstOfKey.set(keyOf(item), i); });
      const claimed = await repo.claimIdempotencyKeys(tx, [...firstOfKey].map(([, i]) => ({
        scope: items[i].actor.scope, key: items[i].input.idempotencyKey, requestHash: items[i].hash, response: null, createdAt: now, expiresAt,
      })));
      const fresh = [...firstOfKey].filter(([key]) => claimed.has(key)).map(([, i]) => i).sort((a, b) => a - b);
      // All or nothing: a replayed item counts with its stored result, read here so a stored refusal aborts.
      if (atomic) for (const [i, item] of items.entries()) if (!claimed.has(keyOf(item))) results[i] = await this.storedOrError(tx, item);
      if (atomic) abortOnFailure(results);
      if (fresh.length === 0) return;
      const opened = await WalletSession.openMany(tx, fresh.map((i) => items[i].input.accountId), now);
      const unknown = fresh.filter((i) => !opened.has(items[i].input.accountId));
      if (atomic && unknown.length > 0) throw new AtomicAbort(unknown[0], notFound('account'));
      for (const i of unknown) {
        results[i] = notFound('account');
        released.add(keyOf(items[i]));
      }
      // An unknown account's request has no effect: its key is released, as a thrown NOT_FOUND would.
      await repo.releaseIdempotencyKeys(tx, unknown.map((i) => ({ scope: items[i].actor.scope, key: items[i].input.idempotencyKey })));
      for (const session of opened.values()) {
        sessions.push(session);
        await this.catchUp(session);
      }
      const charged = fresh.filter((i) => opened.has(items[i].input.accountId));
      const rules = UseRuleRuns.begin(this.useRules, tx, now);
      await rules.load(charged.map((i) => ({ accountId: items[i].input.accountId, memberId: items[i].input.memberId ?? null })));
      for (const i of charged) {
        results[i] = atomic ? await this.chargeOneOrAbort(tx, opened.get(items[i].input.accountId)!, items[i], rules, i) : await this.chargeOne(tx, opened.get(items[i].input.accountId)!, items[i], rules);
      }
      const ruleAlerts = await rules.flush();
      alerts = distinct([...await this.flush(tx, sessions), ...ruleAlerts]);
      await repo.storeIdempotencyResponses(tx, charged.map((i) => ({
        scope: items[i].actor.scope, key: items[i].input.idempotencyKey, response: (results[i] as ChargeResult).outcome,
      })));
    });
    this.publishAll(sessions, alerts);
    // Keys that were claimed before (or twice in this batch): their stored first result.
    return Promise.all(items.map(async (item, i) => {
      const result = results[i];
      if (result) return result;
      // A later request with a key this batch released (its first request named an unknown account) runs on its own.
      if (released.has(keyOf(item))) return (await this.runCharges([item]))[0];
      return this.storedOrError(this.db, item);
    }));
  }

  /** A key claimed earlier: its stored result, or the error (IDEMPOTENCY_KEY_REUSED) a replay gets. */
  private async storedOrError(executor: Executor, item: QueuedCharge): Promise<ChargeResult | Error> {
    try {
      return { outcome: await storedOutcome(executor, item.actor.scope, item.input.idempotencyKey, item.hash) };
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** An atomic batch's charge: a refusal (returned or thrown by its pricing) rolls the whole batch back. */
  private async chargeOneOrAbort(tx: Tx, session: WalletSession, item: QueuedCharge, rules: UseRuleRuns, index: number): Promise<ChargeResult> {
    let result: ChargeResult;
    try {
      result = await this.chargeOne(tx, session, item, rules);
    } catch (error) {
      if (error instanceof AppError) throw new AtomicAbort(index, error);
      throw error;
    }
    if (result.outcome.kind === 'refusal') throw new AtomicAbort(index, AppError.fromJSON(result.outcome.error));
    return result;
  }

  private async chargeOne(tx: Tx, session: WalletSession, item: QueuedCharge, rules: UseRuleRuns): Promise<{ outcome: StoredOutcome; value?: TransactionRow }> {
    const { actor, hooks } = item;
    const { input, refusal } = await applyPricing(tx, item.input, hooks.prepare);
    const fields = {
      type: 'CHARGE' as const, actor: actor.id, action: input.action ?? null, model: input.model ?? null,
      params: input.params ?? null, comment: input.comment ?? null, idempotencyKey: input.idempotencyKey,
      quoteId: input.quoteId ?? null, pricing: input.pricing ?? null, vendorUsage: input.vendorUsage ?? null,
      requestedMillis: input.amountMillis, memberId: input.memberId ?? null,
    };
    if (refusal) return this.refuse(session, refusal, fields);
    const use: CreditUse = {
      kind: 'CHARGE', amountMillis: input.amountMillis, memberId: fields.memberId, action: fields.action, model: fields.model,
      params: fields.params, fingerprint: input.fingerprint ?? null,
    };
    const ruled = await rules.check(session, use);
    if (ruled) return this.refuse(session, ruled, fields, { rules, use });
    const payment = session.planPayment({ action: input.action, model: input.model }, input.amountMillis, 'CHARGE');
    const cannotPay = paymentRefusal(payment, input.amountMillis);
    if (cannotPay) return this.refuse(session, (await this.gatingRefusal(payment, tx)) ?? cannotPay, fields, { rules, use });
    const entries: PostEntry[] = payment.allocations.map((a) => ({ bucketId: a.bucketId, millis: -a.millis }));
    if (payment.debtMillis > 0) entries.push({ bucketId: null, millis: -payment.debtMillis });
    const posted = await session.post({ ...fields, entries });
    rules.record(session, use, posted);
    await hooks.afterPost?.(tx, posted);
    return { outcome: { kind: 'transaction', id: posted.id }, value: posted };
  }

  // ---------------------------------------------------------------- holds

  async reserve(actor: Actor, input: ReserveRequest, hooks: HoldHooks = {}, hashInput: unknown = input): Promise<HoldRow> {
    const ttlSeconds = input.ttlSeconds ?? this.config.holdTtlSecondsDefault;
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > this.config.holdTtlSecondsMax) {
      throw badInput(`ttlSeconds must be between 1 and ${this.config.holdTtlSecondsMax}`, 'ttlSeconds');
    }
    return this.execute<HoldRow>(actor, 'reserveCredits', input.idempotencyKey, hashInput, async (tx, sessions, rules) => {
      const session = await this.open(tx, input.accountId);
      sessions.push(session);
      await rules.load([{ accountId: input.accountId, memberId: input.memberId ?? null }]);
      const { input: priced, refusal } = await applyPricing(tx, input, hooks.prepare);
      input = priced;
      const fields = {
        type: 'HOLD' as const, actor: actor.id, action: input.action ?? null, model: input.model ?? null,
        comment: input.comment ?? null, idempotencyKey: input.idempotencyKey, quoteId: input.quoteId ?? null,
        pricing: input.pricing ?? null, requestedMillis: input.amountMillis, memberId: input.memberId ?? null,
      };
      if (refusal) return this.refuse(session, refusal, fields);
      const use: CreditUse = {
        kind: 'HOLD', amountMillis: input.amountMillis, memberId: fields.memberId, action: fields.action, model: fields.model,
        params: input.pricing?.params ?? null, fingerprint: input.fingerprint ?? null,
      };
      const ruled = await rules.check(session, use);
      if (ruled) return this.refuse(session, ruled, fields, { rules, use });
      const payment = session.planPayment({ action: input.action, model: input.model }, input.amountMillis, 'HOLD');
      const cannotPay = paymentRefusal(payment, input.amountMillis);
      if (cannotPay) return this.refuse(session, (await this.gatingRefusal(payment, tx)) ?? cannotPay, fields, { rules, use });
      const hold: HoldRow = {
        id: newId(), accountId: input.accountId, amountMillis: input.amountMillis, status: 'ACTIVE',
        action: input.action ?? null, model: input.model ?? null, quoteId: input.quoteId ?? null,
        pricing: input.pricing ?? null, memberId: fields.memberId, expiresAt: new Date(session.now.getTime() + ttlSeconds * 1000),
        createdAt: session.now, closedAt: null,
      };
      await repo.insertHold(tx, hold, payment.allocations.map((a) => ({ holdId: hold.id, bucketId: a.bucketId, amountMillis: a.millis })));
      for (const a of payment.allocations) session.adjustHeld(a.bucketId, a.millis);
      const posted = await session.post({ ...fields, entries: [], heldChangeMillis: input.amountMillis, holdId: hold.id });
      rules.record(session, use, posted);
      await hooks.afterHold?.(tx, hold);
      return { outcome: { kind: 'hold', id: hold.id, snapshot: snapshotHold(hold) }, value: hold };
    });
  }

  /** Locks the hold's wallet, then the hold; refusals for holds that are not active. */
  private async openHold(tx: Tx, holdId: string): Promise<{ session: WalletSession; hold: HoldRow; lapsed: boolean }> {
    const peek = await repo.findHold(tx, holdId);
    if (!peek) throw new AppError(ErrorCode.HOLD_NOT_FOUND, 'no hold with this id');
    // Whether the hold had lapsed is decided before settle() marks it EXPIRED.
    const lapsed = peek.status === 'ACTIVE' && peek.expiresAt <= this.clock.now();
    const session = await this.open(tx, peek.accountId);
    const hold = await repo.findHold(tx, holdId, true);
    assert(hold, 'hold exists under its wallet lock');
    return { session, hold, lapsed: lapsed || hold.status === 'EXPIRED' };
  }

  /**
   * `sent`: what the client asked to capture (an amount, or a generation priced into `amountMillis`).
   * The idempotency key is matched against that, never against a computed amount.
   */
  async capture(actor: Actor, input: CaptureRequest, sent: { amountMillis: Millis | null; generation: unknown }): Promise<TransactionRow> {
    const hashInput = { holdId: input.holdId, amount: sent.amountMillis, generation: sent.generation, comment: input.comment ?? null, vendorUsage: input.vendorUsage ?? null };
    return this.execute<TransactionRow>(actor, 'captureHold', input.idempotencyKey, hashInput, async (tx, sessions, rules) => {
      const { session, hold, lapsed } = await this.openHold(tx, input.holdId);
      sessions.push(session);
      const amount = input.amountMillis ?? hold.amountMillis;
      const fields = {
        type: 'CAPTURE' as const, actor: actor.id, action: hold.action, model: hold.model, holdId: hold.id,
        quoteId: hold.quoteId, pricing: input.pricing ?? hold.pricing, comment: input.comment ?? null,
        idempotencyKey: input.idempotencyKey, vendorUsage: input.vendorUsage ?? null, requestedMillis: amount,
        memberId: hold.memberId,
      };
      if (amount > hold.amountMillis) {
        throw badInput(`the capture (${formatCredits(amount)}) exceeds the hold (${formatCredits(hold.amountMillis)})`, 'amount');
      }
      if (lapsed) return this.refuse(session, new AppError(ErrorCode.HOLD_EXPIRED, 'the hold expired; its credits were returned', { holdStatus: 'EXPIRED' }), fields);
      if (hold.status !== 'ACTIVE') return this.refuse(session, holdClosed(hold), fields);
      const allocations = await repo.holdAllocationsOf(tx, [hold.id]);
      // Take from the secured buckets in burn-down order, even if one expired meanwhile.
      const ordered = allocations
        .map((a) => ({ a, b: session.buckets.get(a.bucketId)! }))
        .sort((x, y) => compareBurnOrder(x.b, y.b));
      const entries: PostEntry[] = [];
      let left = amount;
      for (const { a } of ordered) {
        session.adjustHeld(a.bucketId, -a.amountMillis);
        const take = Math.min(left, a.amountMillis);
        if (take > 0) entries.push({ bucketId: a.bucketId, millis: -take });
        left -= take;
      }
      assert(left === 0, 'a capture up to the hold is covered by what the hold secured');
      await repo.closeHold(tx, hold.id, 'CAPTURED', session.now);
      const posted = await session.post({ ...fields, entries, heldChangeMillis: -hold.amountMillis });
      // A capture up to the hold never fails (the hold secured it): the rules only count it.
      await rules.load([{ accountId: session.accountId, memberId: hold.memberId }]);
      rules.record(session, { kind: 'CAPTURE', amountMillis: amount, memberId: hold.memberId, action: hold.action, model: hold.model, params: null, fingerprint: null, hold }, posted);
      await session.expireLapsedBuckets('system:expiry');
      return { outcome: { kind: 'transaction', id: posted.id }, value: posted };
    });
  }

  async release(actor: Actor, input: ReleaseRequest): Promise<HoldRow> {
    return this.execute<HoldRow>(actor, 'releaseHold', input.idempotencyKey, input, async (tx, sessions) => {
      const { session, hold, lapsed } = await this.openHold(tx, input.holdId);
      sessions.push(session);
      const fields = {
        type: 'RELEASE' as const, actor: actor.id, action: hold.action, model: hold.model, holdId: hold.id,
        comment: input.comment ?? null, idempotencyKey: input.idempotencyKey, requestedMillis: hold.amountMillis,
        memberId: hold.memberId,
      };
      if (lapsed) return this.refuse(session, new AppError(ErrorCode.HOLD_EXPIRED, 'the hold expired; its credits were already returned', { holdStatus: 'EXPIRED' }), fields);
      if (hold.status !== 'ACTIVE') return this.refuse(session, holdClosed(hold), fields);
      const allocations = await repo.holdAllocationsOf(tx, [hold.id]);
      for (const a of allocations) session.adjustHeld(a.bucketId, -a.amountMillis);
      await repo.closeHold(tx, hold.id, 'RELEASED', session.now);
      await session.post({ ...fields, entries: [], heldChangeMillis: -hold.amountMillis });
      await session.expireLapsedBuckets('system:expiry');
      const released: HoldRow = { ...hold, status: 'RELEASED', closedAt: session.now };
      return { outcome: { kind: 'hold', id: hold.id, snapshot: snapshotHold(released) }, value: released };
    });
  }

  // ---------------------------------------------------------------- refunds and reversals

  async refund(actor: Actor, input: RefundRequest): Promise<TransactionRow> {
    return this.execute<TransactionRow>(actor, 'refund', input.idempotencyKey, input, async (tx, sessions, rules) => {
      const original = await repo.findTransaction(tx, input.transactionId);
      if (!original) throw notFound('transaction');
      if (original.status !== 'SUCCEEDED' || (original.type !== 'CHARGE' && original.type !== 'CAPTURE') || original.amountMillis >= 0) {
        throw badInput('only a succeeded CHARGE or CAPTURE can be refunded', 'transactionId');
      }
      const session = await this.open(tx, original.accountId);
      sessions.push(session);
      const posted = await this.returnCredits(session, original, input.amountMillis, 'REFUND', actor, input.idempotencyKey, input.comment ?? null, rules);
      return { outcome: { kind: 'transaction', id: posted.id }, value: posted };
    });
  }

  /**
   * Gives back up to what is still refundable of a charge, undoing its entries last-taken first:
   * the debt part reduces debt; a bucket still live gets its credits back; a bucket that expired
   * meanwhile is replaced by a new REFUND bucket (expiring after `refundBucketTtlSeconds`).
   */
  private async returnCredits(session: WalletSession, original: TransactionRow, amountMillis: Millis | null, type: 'REFUND' | 'REVERSAL', actor: Actor, idempotencyKey: string, comment: string | null, rules: UseRuleRuns): Promise<TransactionRow> {
    const tx = session.tx;
    const related = await repo.relatedTransactions(tx, original.id);
    if (related.some((t) => t.type === 'REVERSAL')) throw badInput('this transaction was reversed', 'transactionId');
    const originalEntries = await repo.entriesByTransactionIds(tx, [original.id]);
    const refundEntries = await repo.entriesByTransactionIds(tx, related.map((t) => t.id));
    // What each origin (bucket id, or "DEBT") has had back so far.
    const returned = new Map<string, number>();
    for (const e of refundEntries) {
      const origin = e.originBucketId ?? 'DEBT';
      returned.set(origin, (returned.get(origin) ?? 0) + e.amountMillis);
    }
    const refundable = -original.amountMillis - related.reduce((s, t) => s + t.amountMillis, 0);
    if (type === 'REVERSAL' && refundable !== -original.amountMillis) throw badInput('a partly refunded charge cannot be reversed; refund the rest instead', 'transactionId');
    const amount = amountMillis ?? refundable;
    if (amount <= 0 || amount > refundable) {
      throw badInput(`at most ${formatCredits(refundable)} credits of this transaction can still be refunded`, 'amount');
    }
    const missing = originalEntries.filter((e) => e.bucketId && !session.buckets.has(e.bucketId)).map((e) => e.bucketId!);
    for (const b of await repo.bucketsByIds(tx, missing)) session.addBucket({ ...b, heldActiveMillis: 0, heldStaleMillis: 0 });
    const entries: PostEntry[] = [];
    let left = amount;
    for (const entry of [...originalEntries].reverse()) {
      if (left === 0) break;
      const origin = entry.bucketId ?? 'DEBT';
      const give = Math.min(left, -entry.amountMillis - (returned.get(origin) ?? 0));
      if (give <= 0) continue;
      left -= give;
      if (entry.bucketId === null) {
        const repay = Math.min(give, session.wallet.debtMillis);
        if (repay > 0) entries.push({ bucketId: null, millis: repay, originBucketId: null });
        if (give > repay) entries.push({ bucketId: await this.refundBucket(session, null, give - repay), millis: give - repay, originBucketId: null });
        continue;
      }
      const bucket = session.buckets.get(entry.bucketId)!;
      const target = session.isLive(bucket) ? bucket.id : await this.refundBucket(session, bucket, give);
      entries.push({ bucketId: target, millis: give, originBucketId: entry.bucketId });
    }
    assert(left === 0, 'refund fully allocated to the original entries');
    const posted = await session.post({
      type, entries, actor: actor.id, relatedTransactionId: original.id, action: original.action, model: original.model,
      idempotencyKey, comment, requestedMillis: amount, memberId: original.memberId,
    });
    // A member's charge given back is no longer theirs to count (their budget, reports by member).
    await rules.load([{ accountId: session.accountId, memberId: original.memberId }]);
    rules.record(session, { kind: 'REFUND', amountMillis: amount, memberId: original.memberId, action: original.action, model: original.model, params: null, fingerprint: null, original }, posted);
    return posted;
  }

  /** A new REFUND bucket for credits whose original bucket expired (or for a refunded debt part). */
  private async refundBucket(session: WalletSession, like: { priority: number; applicableActions: string[] | null; applicableModels: string[] | null } | null, amountMillis: Millis): Promise<string> {
    const ttl = this.config.refundBucketTtlSeconds;
    const bucket = {
      id: newId(), accountId: session.accountId, source: 'REFUND' as const, amountMillis, remainingMillis: 0, // the entry posts the credits
      priority: like?.priority ?? defaultPriority('REFUND'), effectiveAt: session.now,
      expiresAt: ttl === null ? null : new Date(session.now.getTime() + ttl * 1000),
      applicableActions: like?.applicableActions ?? null, applicableModels: like?.applicableModels ?? null,
      costPerCredit: null, currency: null, createdAt: session.now,
    };
    await repo.insertBucket(session.tx, bucket);
    session.addBucket({ ...bucket, heldActiveMillis: 0, heldStaleMillis: 0 });
    return bucket.id;
  }

  static readonly REVERSIBLE = ['GRANT', 'PURCHASE', 'ADJUSTMENT', 'ROLLOVER', 'CHARGE', 'CAPTURE', 'REFUND'];

  async reverse(actor: Actor, input: ReverseRequest): Promise<TransactionRow> {
    return this.execute<TransactionRow>(actor, 'reverseTransaction', input.idempotencyKey, input, async (tx, sessions, rules) => {
      const original = await repo.findTransaction(tx, input.transactionId);
      if (!original) throw notFound('transaction');
      if (original.status !== 'SUCCEEDED' || !LedgerService.REVERSIBLE.includes(original.type)) {
        throw badInput(`only a succeeded ${LedgerService.REVERSIBLE.join(', ')} transaction can be reversed`, 'transactionId');
      }
      const session = await this.open(tx, original.accountId);
      sessions.push(session);
      if (original.type === 'CHARGE' || original.type === 'CAPTURE') {
        const posted = await this.returnCredits(session, original, null, 'REVERSAL', actor, input.idempotencyKey, input.comment ?? null, rules);
        return { outcome: { kind: 'transaction', id: posted.id }, value: posted };
      }
      const related = await repo.relatedTransactions(tx, original.id);
      if (related.some((t) => t.type === 'REVERSAL')) throw badInput('this transaction was already reversed', 'transactionId');
      // Credits that came in go back out of the same buckets; debt that was reduced grows again.
      const entries = await repo.entriesByTransactionIds(tx, [original.id]);
      const fields = {
        type: 'REVERSAL' as const, actor: actor.id, relatedTransactionId: original.id, idempotencyKey: input.idempotencyKey,
        comment: input.comment ?? null, requestedMillis: -original.amountMillis,
      };
      for (const e of entries) {
        if (!e.bucketId) continue;
        const bucket = session.buckets.get(e.bucketId);
        const free = bucket ? freeMillis(bucket) : 0;
        if (free < e.amountMillis) {
          return this.refuse(session, insufficientCredits(e.amountMillis, free, 'the credits of this transaction were already spent, held or expired'), fields);
        }
      }
      const posted = await session.post({ ...fields, entries: entries.map((e) => ({ bucketId: e.bucketId, millis: -e.amountMillis })) });
      return { outcome: { kind: 'transaction', id: posted.id }, value: posted };
    });
  }

  async findHold(id: string): Promise<HoldRow | undefined> {
    return repo.findHold(this.db, id);
  }

  /** An account's transactions, newest first: up to `limit` before position `beforePos` (keyset pagination). */
  async history(accountId: string, filter: repo.HistoryFilter, beforePos: number | null, limit: number): Promise<TransactionRow[]> {
    return repo.history(this.db, accountId, filter, beforePos, limit);
  }

  // ---------------------------------------------------------------- jobs

  /**
   * Releases holds past their TTL and expires lapsed buckets for wallets nobody touched.
   * Each wallet is settled under its row lock, so two processes never write the same EXPIRE twice.
   */
  async runExpiry(batchSize = this.config.jobBatchSize): Promise<number> {
    const accountIds = await repo.accountsNeedingExpiry(this.db, this.clock.now(), batchSize);
    let settled = 0;
    for (const accountId of accountIds) if (await this.settleWallet(accountId)) settled += 1;
    await repo.deleteExpiredIdempotencyKeys(this.db, this.clock.now());
    return settled;
  }

  /**
   * Brings one wallet up to date in its own database transaction (a due renewal, lapsed holds and
   * buckets), as the next operation on it would; returns whether anything was posted. The renewal
   * job and reads of a wallet whose period ended use it.
   */
  async settleWallet(accountId: string): Promise<boolean> {
    const sessions: WalletSession[] = [];
    let alerts: readonly unknown[] = [];
    await this.db.transaction(async (tx) => {
      const session = await WalletSession.open(tx, accountId, this.clock.now());
      if (!session) return;
      sessions.push(session);
      await this.catchUp(session);
      alerts = await this.flush(tx, sessions);
    });
    this.publishAll(sessions, alerts);
    return sessions.some((s) => s.posted.length > 0);
  }
}

/** Runs a pricing hook: its priced fields merged into the input, or the refusal it decided. */
async function applyPricing<T extends object>(tx: Tx, input: T, prepare: ((tx: Tx) => Promise<Priced | AppError>) | undefined): Promise<{ input: T; refusal: AppError | null }> {
  const priced = prepare ? await prepare(tx) : null;
  if (priced instanceof AppError) return { input, refusal: priced };
  return { input: priced ? { ...input, ...priced } : input, refusal: null };
}

/** An atomic batch stops at its first failed item (by input order). */
function abortOnFailure(results: readonly (ChargeResult | Error | null)[]): void {
  for (const [i, r] of results.entries()) {
    if (r instanceof AppError) throw new AtomicAbort(i, r);
    if (r instanceof Error) throw r;
    if (r?.outcome.kind === 'refusal') throw new AtomicAbort(i, AppError.fromJSON(r.outcome.error));
  }
}

/** Each alert once: a rule's alerts raised through the alerts service also come back from its hook. */
function distinct(alerts: readonly unknown[]): unknown[] {
  return [...new Set(alerts)];
}

function holdClosed(hold: HoldRow): AppError {
  return new AppError(ErrorCode.HOLD_NOT_FOUND, `no active hold with this id: it was ${hold.status.toLowerCase()}`, { holdStatus: hold.status });
}

function snapshotHold(hold: HoldRow): Record<string, unknown> {
  return { ...hold, expiresAt: hold.expiresAt.toISOString(), createdAt: hold.createdAt.toISOString(), closedAt: hold.closedAt?.toISOString() ?? null };
}

function reviveHold(snapshot: Record<string, unknown>): HoldRow {
  const s = snapshot as Record<string, string | null>;
  return {
    ...(snapshot as unknown as HoldRow),
    expiresAt: new Date(s.expiresAt!), createdAt: new Date(s.createdAt!), closedAt: s.closedAt ? new Date(s.closedAt) : null,
  };
}
