/**
 * Plans: the catalogue (versioned terms), subscriptions and their periods. Credits move only
 * through the ledger (PlanWallet, under the wallet's row lock); this file decides what moves and why.
 *
 * - Every plan operation on an account (subscribe, change, cancel, renew) runs under the wallet's
 *   row lock, so it is serialized with the account's charges and with other instances.
 * - A renewal happens in one database transaction per subscription, lazily at the next operation on
 *   the wallet (the ledger calls `renewDue`) or from the job; a unique index on (subscription,
 *   period start) makes a second grant for the same period impossible.
 * - Time comes from the injectable clock (the ledger's session `now`), never the database.
 */
import type { Database, Executor, Tx } from '../../db/client';
import type { Config } from '../../config';
import type { Clock } from '../../shared/clock';
import { AppError, badInput, notFound } from '../../shared/errors';
import { formatCredits, type Millis } from '../../shared/credits';
import { newId } from '../../shared/ids';
import { assert } from '../../shared/assert';
import { isUuid } from '../../shared/validate';
import type { Actor, LedgerService, PlanHooks, PlanShape, PlanWallet, PurchaseWallet } from '../ledger';
import type { AlertsService } from '../alerts';
import { formatMoney, roundHalfUp } from '../../shared/money';
import { period } from './periods';
import { isUpgrade, percentLeft, rolloverMillis, upgradeProrationMillis, validateCode, validateTerms, type PlanTerms } from './plan-rules';
import * as repo from './plans.repo';
import type { PeriodRow, PlanVersionRow, PlanWithTerms, SubscriptionRow } from './plans.repo';

/** One renewal run on a wallet catches up at most this many periods; the next operation or job run goes on. */
export const CATCH_UP_PERIODS_MAX = 100;
/** Renewals the job runs at once (each its own database transaction). */
const RENEWAL_CONCURRENCY = 4;
/** One job run renews at most this many batches (the next run goes on). */
const RENEWAL_BATCHES_PER_RUN_MAX = 50;
export const PERIODS_LISTED_MAX = 100;

export interface PlanChanges extends Partial<PlanTerms> {
  active?: boolean;
}

export interface SubscriptionRequest {
  accountId: string;
  planCode: string;
  idempotencyKey: string;
}

/** A plan period (or an upgrade's part of one) to be paid; the purchases module asks the provider. */
export interface PeriodPaymentRequest {
  accountId: string;
  subscriptionId: string;
  periodStart: Date;
  priceMinor: bigint;
  currency: string;
  now: Date;
}

/** Attached by the purchases module (plans does not import it). */
export interface PeriodBilling {
  requestPeriodPayment(tx: Tx, request: PeriodPaymentRequest): Promise<void>;
}

export interface CancelRequest {
  accountId: string;
  atPeriodEnd: boolean;
  idempotencyKey: string;
}

const day = (d: Date) => d.toISOString().replace('.000Z', 'Z');
const span = (start: Date, end: Date) => `${day(start)} → ${day(end)}`;

function shapeOf(code: string, terms: PlanVersionRow, renewsAt: Date): PlanShape {
  return {
    planCode: code, tier: terms.tier, models: terms.models, actions: terms.actions,
    overdraftLimitMillis: terms.overdraftLimitMillis, lowCreditThresholdsMillis: terms.lowCreditThresholds,
    lowCreditThresholdPercents: terms.lowCreditThresholdPercents, allowanceMillis: terms.allowanceMillis, renewsAt,
  };
}

function archived(code: string): AppError {
  return badInput(`plan "${code}" is archived and takes no new subscribers; choose an active plan (see plans)`, 'planCode');
}

export class PlansService implements PlanHooks {
  private billing: PeriodBilling | null = null;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly ledger: LedgerService,
    private readonly config: Readonly<Config>,
    private readonly alerts: AlertsService,
  ) {}

  /** The purchases module takes plan payments (without it, paid plans are not billed: tests of plans alone). */
  attachBilling(billing: PeriodBilling): void {
    this.billing = billing;
  }

  private get db() {
    return this.database.db;
  }

  // ------------------------------------------------------------ catalogue

  async create(code: string, terms: PlanTerms, active: boolean): Promise<PlanWithTerms> {
    validateCode(code);
    const valid = validateTerms(terms);
    const now = this.clock.now();
    const plan = { id: newId(), code, active, version: 1, createdAt: now, updatedAt: now };
    const version: PlanVersionRow = { id: newId(), planId: plan.id, version: 1, ...valid, createdAt: now };
    const created = await this.db.transaction((tx) => repo.insertPlan(tx, plan, version));
    if (!created) throw badInput(`a plan with code "${code}" already exists; choose another code or updatePlan`, 'code');
    return { plan, terms: version };
  }

  /**
   * New terms become a new version (subscribers get it from their next period); `active` alone archives
   * or restores the plan without a new version.
   */
  async update(code: string, changes: PlanChanges): Promise<PlanWithTerms> {
    return this.db.transaction(async (tx) => {
      const current = await repo.planByCode(tx, code, true);
      if (!current) throw notFound('plan');
      const { active, ...termChanges } = changes;
      const defined = Object.fromEntries(Object.entries(termChanges).filter(([, v]) => v !== undefined)) as Partial<PlanTerms>;
      // Leaving CAPPED drops the cap unless one is given (which validateTerms then refuses).
      if (defined.rollover && defined.rollover !== 'CAPPED' && defined.rolloverCapMillis === undefined) defined.rolloverCapMillis = null;
      const now = this.clock.now();
      let { plan, terms } = current;
      if (Object.keys(defined).length > 0) {
        const { id: _id, planId: _planId, version: _version, createdAt: _createdAt, ...oldTerms } = terms;
        const valid = validateTerms({ ...oldTerms, ...defined });
        terms = { id: newId(), planId: plan.id, version: plan.version + 1, ...valid, createdAt: now };
        await repo.insertPlanVersion(tx, terms);
        plan = { ...plan, version: terms.version };
      }
      plan = { ...plan, active: active ?? plan.active, updatedAt: now };
      await repo.updatePlanRow(tx, plan.id, { active: plan.active, version: plan.version, updatedAt: now });
      return { plan, terms };
    });
  }

  async list(includeArchived: boolean): Promise<PlanWithTerms[]> {
    return repo.listPlans(this.db, includeArchived);
  }

  async find(code: string): Promise<PlanWithTerms | null> {
    return (await repo.planByCode(this.db, code)) ?? null;
  }

  /** An active plan by id or code, for a new account's subscription: NOT_FOUND, or BAD_USER_INPUT when archived. */
  async findForSubscribing(id: string | null, code: string | null): Promise<PlanWithTerms> {
    if (!id) return activePlan(this.db, code ?? '');
    const found = isUuid(id) ? (await repo.plansByIds(this.db, [id]))[0] : undefined;
    if (!found) throw notFound('plan');
    if (!found.plan.active) throw archived(found.plan.code);
    return found;
  }

  async plansByIds(ids: readonly string[]): Promise<PlanWithTerms[]> {
    return repo.plansByIds(this.db, ids);
  }

  async versionsByIds(ids: readonly string[]): Promise<PlanVersionRow[]> {
    return repo.versionsByIds(this.db, ids);
  }

  /** PlanHooks: active plans that include a gated model or action, cheapest first. */
  async plansIncluding(executor: Executor, gated: { field: 'model' | 'action'; value: string }): Promise<{ code: string; name: string }[]> {
    return repo.activePlansIncluding(executor, gated.field, gated.value);
  }

  // ------------------------------------------------------------ subscriptions

  /** Starts an ACTIVE subscription with a period anchored now; its allowance is granted at once. */
  async subscribe(actor: Actor, request: SubscriptionRequest): Promise<SubscriptionRow> {
    const id = await this.ledger.onWallet(actor, 'subscribe', request.idempotencyKey, request, request.accountId, async (wallet) => {
      const tx = wallet.tx;
      const target = await activePlan(tx, request.planCode);
      const live = await repo.liveSubscription(tx, wallet.accountId);
      if (live) throw badInput('the account already has an active subscription; use changePlan to move it to another plan, or cancelSubscription first', 'accountId');
      const first = period(wallet.now, target.terms.interval, target.terms.intervalCount, 0);
      const subscription: SubscriptionRow = {
        id: newId(), accountId: wallet.accountId, planId: target.plan.id, planVersionId: target.terms.id, status: 'ACTIVE',
        anchorAt: first.start, periodIndex: 0, currentPeriodStart: first.start, currentPeriodEnd: first.end,
        cancelAtPeriodEnd: false, scheduledPlanId: null, canceledAt: null, createdAt: wallet.now, updatedAt: wallet.now,
        pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null, paymentRetries: 0, withheldMillis: 0,
      };
      await repo.insertSubscription(tx, subscription);
      await this.grantPeriod(wallet, subscription, target, 'START', first.start, first.end, null, request.idempotencyKey);
      await this.bill(wallet, subscription, first.start, target.terms.priceMinor, target.terms.currency);
      await wallet.shape(shapeOf(target.plan.code, target.terms, first.end));
      return subscription.id;
    });
    return this.subscriptionById(id);
  }

  /**
   * An upgrade takes effect at once (the prorated difference of the allowances is granted now); a
   * downgrade or a change of billing interval waits for the period end (scheduledPlan). Changing to
   * the current plan undoes a scheduled change or cancellation.
   */
  async changePlan(actor: Actor, request: SubscriptionRequest): Promise<SubscriptionRow> {
    const id = await this.ledger.onWallet(actor, 'changePlan', request.idempotencyKey, request, request.accountId, async (wallet) => {
      const tx = wallet.tx;
      const subscription = await liveSubscription(tx, wallet.accountId, 'the account has no active subscription; subscribe first');
      // Paying an upgrade's difference must not stand in for the unpaid period.
      if (subscription.status === 'PAST_DUE') {
        throw badInput(`the subscription is past due since ${day(subscription.pastDueSince!)}: its payment is retried until ${day(subscription.graceEndsAt!)}; change the plan once it is paid, or cancel`, 'accountId');
      }
      const target = await activePlan(tx, request.planCode);
      const base = { ...subscription, updatedAt: wallet.now };
      if (target.plan.id === subscription.planId) {
        if (!subscription.scheduledPlanId && !subscription.cancelAtPeriodEnd) {
          throw badInput(`the subscription is already on plan "${request.planCode}"; choose another plan`, 'planCode');
        }
        await repo.updateSubscription(tx, { ...base, scheduledPlanId: null, cancelAtPeriodEnd: false });
        return subscription.id;
      }
      const [current] = await repo.versionsByIds(tx, [subscription.planVersionId]);
      if (!isUpgrade(current, target.terms)) {
        await repo.updateSubscription(tx, { ...base, scheduledPlanId: target.plan.id, cancelAtPeriodEnd: false });
        return subscription.id;
      }
      const { currentPeriodStart: start, currentPeriodEnd: end } = subscription;
      const extra = upgradeProrationMillis(current.allowanceMillis, target.terms.allowanceMillis, start, end, wallet.now);
      const why = `upgrade ${current.name} → ${target.terms.name} with ${percentLeft(start, end, wallet.now)} of the period ${span(start, end)} left: `
        + `the prorated difference of the allowances (${formatCredits(target.terms.allowanceMillis - current.allowanceMillis)} × the part left)`;
      const upgraded: SubscriptionRow = { ...base, planId: target.plan.id, planVersionId: target.terms.id, scheduledPlanId: null, cancelAtPeriodEnd: false };
      await this.grantPeriod(wallet, upgraded, target, 'UPGRADE', wallet.now, end, null, request.idempotencyKey, extra, why);
      // The price difference for the part of the period left, rounded half up (a different currency: billed from the next period).
      if (target.terms.currency === current.currency && target.terms.priceMinor > current.priceMinor) {
        const length = BigInt(end.getTime() - start.getTime());
        const left = BigInt(Math.max(0, end.getTime() - wallet.now.getTime()));
        const due = length > 0n ? roundHalfUp((target.terms.priceMinor - current.priceMinor) * left, length) : 0n;
        await this.bill(wallet, upgraded, start, due, current.currency);
      }
      await repo.updateSubscription(tx, upgraded);
      await wallet.shape(shapeOf(target.plan.code, target.terms, end));
      return subscription.id;
    });
    return this.subscriptionById(id);
  }

  /**
   * At the period end (default): the subscription ends at its next renewal, whose allowance is not
   * granted. At once: it ends now and the unused plan credits of the current period (allowance and
   * rolled-over credits) expire now; purchased and granted credits stay.
   */
  async cancel(actor: Actor, request: CancelRequest): Promise<SubscriptionRow> {
    const id = await this.ledger.onWallet(actor, 'cancelSubscription', request.idempotencyKey, request, request.accountId, async (wallet) => {
      const tx = wallet.tx;
      const subscription = await liveSubscription(tx, wallet.accountId, 'the account has no active subscription to cancel');
      if (request.atPeriodEnd) {
        await repo.updateSubscription(tx, { ...subscription, cancelAtPeriodEnd: true, scheduledPlanId: null, updatedAt: wallet.now });
        return subscription.id;
      }
      const [current] = await repo.versionsByIds(tx, [subscription.planVersionId]);
      const grants = await repo.periodsEndingAt(tx, subscription.id, subscription.currentPeriodEnd);
      await wallet.expire(planBucketsOf(grants), (m) => `subscription to ${current.name} canceled at once: ${formatCredits(m)} unused plan credits of the period ${span(subscription.currentPeriodStart, subscription.currentPeriodEnd)} expired`);
      await repo.updateSubscription(tx, { ...subscription, status: 'CANCELED', canceledAt: wallet.now, cancelAtPeriodEnd: false, scheduledPlanId: null, updatedAt: wallet.now });
      await wallet.shape(null);
      return subscription.id;
    });
    return this.subscriptionById(id);
  }

  /**
   * PlanHooks: renews every period of the wallet's subscription that ended by now, oldest first (at
   * most CATCH_UP_PERIODS_MAX), each as if it had run on time: the ending period's unused allowance
   * rolls over (up to the cap) or expires, the next period's allowance is granted (repaying debt
   * first), and the period is recorded with the plan version it was granted from.
   */
  async renewDue(wallet: PlanWallet): Promise<void> {
    const tx = wallet.tx;
    const live = await repo.liveSubscription(tx, wallet.accountId);
    if (!live) {
      await wallet.shape(null); // a renewal time without a live subscription: nothing to renew
      return;
    }
    let subscription: SubscriptionRow = live;
    let [terms] = await repo.versionsByIds(tx, [subscription.planVersionId]);
    let [plan] = await repo.plansByIds(tx, [subscription.planId]); // with its current terms
    // PAST_DUE: the period does not renew while its payment is owed; the grace period's end is what comes due.
    if (live.status === 'PAST_DUE') {
      if (live.graceEndsAt! <= wallet.now) await this.endGrace(wallet, live, terms);
      else await wallet.shape(shapeOf(plan.plan.code, terms, live.graceEndsAt!));
      return;
    }
    for (let renewed = 0; subscription.currentPeriodEnd <= wallet.now && renewed < CATCH_UP_PERIODS_MAX; renewed += 1) {
      const ending: SubscriptionRow = subscription;
      const endingSpan = span(ending.currentPeriodStart, ending.currentPeriodEnd);
      const grants = await repo.periodsEndingAt(tx, ending.id, ending.currentPeriodEnd);
      const allowance = grants.map((g) => g.bucketId).filter((id): id is string => id !== null);
      if (ending.cancelAtPeriodEnd) {
        await wallet.expire(planBucketsOf(grants), (m) => `subscription to ${terms.name} ended at the period end: ${formatCredits(m)} unused plan credits of the period ${endingSpan} expired`);
        subscription = { ...ending, status: 'CANCELED', canceledAt: ending.currentPeriodEnd, cancelAtPeriodEnd: false, updatedAt: wallet.now };
        await repo.updateSubscription(tx, subscription);
        await wallet.shape(null);
        return;
      }
      // The next period's terms: the scheduled plan's, or the same plan's current version (`plan` already holds it).
      const nextPlanId = ending.scheduledPlanId ?? ending.planId;
      const next = nextPlanId === plan.plan.id ? plan : (await repo.plansByIds(tx, [nextPlanId]))[0];
      // The same schedule continues from the anchor (the 31st comes back after a short month); a new one starts now.
      const sameSchedule = next.terms.interval === terms.interval && next.terms.intervalCount === terms.intervalCount;
      const anchorAt = sameSchedule ? ending.anchorAt : ending.currentPeriodEnd;
      const index = sameSchedule ? ending.periodIndex + 1 : 0;
      const p = period(anchorAt, next.terms.interval, next.terms.intervalCount, index);
      assert(p.start.getTime() === ending.currentPeriodEnd.getTime(), 'a period starts where the previous one ended');
      // Unused as of the period end: what a hold active then secured is not, even if the hold lapsed since.
      const moved = rolloverMillis(terms.rollover, terms.rolloverCapMillis, await wallet.freeMillisAt(allowance, ending.currentPeriodEnd));
      const rollover = await wallet.rollOver(allowance, moved, p.end,
        `${formatCredits(moved)} unused of the ${terms.name} allowance of the period ${endingSpan} rolled over (rollover ${terms.rollover}`
        + `${terms.rolloverCapMillis !== null ? ` up to ${formatCredits(terms.rolloverCapMillis)}` : ''}); they expire at the end of the next period, ${day(p.end)}`);
      await wallet.expire(planBucketsOf(grants), (m) => `${formatCredits(m)} plan credits of the period ${endingSpan} expired at its end: `
        + `allowance the rollover rule (${terms.rollover}) does not carry, and credits that already rolled over once`);
      subscription = {
        ...ending, planId: next.plan.id, planVersionId: next.terms.id, scheduledPlanId: null, anchorAt, periodIndex: index,
        currentPeriodStart: p.start, currentPeriodEnd: p.end, updatedAt: wallet.now,
      };
      await this.grantPeriod(wallet, subscription, next, 'RENEWAL', p.start, p.end, rollover?.bucketId ?? null, null);
      await this.bill(wallet, subscription, p.start, next.terms.priceMinor, next.terms.currency);
      terms = next.terms;
      plan = next;
    }
    await repo.updateSubscription(tx, subscription);
    await wallet.shape(shapeOf(plan.plan.code, terms, subscription.currentPeriodEnd));
  }

  /** Grants a period's allowance (or an upgrade's part of one) and records it with its plan version. */
  private async grantPeriod(
    wallet: PlanWallet, subscription: SubscriptionRow, plan: PlanWithTerms, kind: PeriodRow['kind'], start: Date, end: Date,
    rolloverBucketId: string | null, idempotencyKey: string | null, amountMillis: Millis = plan.terms.allowanceMillis, why?: string,
  ): Promise<void> {
    const comment = why ?? `${plan.terms.name} allowance for the period ${span(start, end)} (plan ${plan.plan.code} v${plan.terms.version}, ${kind === 'START' ? 'new subscription' : 'renewal'})`;
    const granted = await wallet.grantAllowance(amountMillis, end, comment, idempotencyKey);
    await repo.insertPeriod(wallet.tx, {
      id: newId(), subscriptionId: subscription.id, accountId: wallet.accountId, kind, periodStart: start, periodEnd: end,
      planVersionId: plan.terms.id, allowanceMillis: amountMillis, bucketId: granted.bucketId, transactionId: granted.transaction?.id ?? null,
      rolloverBucketId, createdAt: wallet.now,
    });
  }

  /** Asks for a plan period's payment (nothing when the plan is free or no billing is attached). */
  private async bill(wallet: PlanWallet, subscription: SubscriptionRow, periodStart: Date, priceMinor: bigint, currency: string): Promise<void> {
    if (priceMinor <= 0n || !this.billing) return;
    await this.billing.requestPeriodPayment(wallet.tx, {
      accountId: wallet.accountId, subscriptionId: subscription.id, periodStart, priceMinor, currency, now: wallet.now,
    });
  }

  // ------------------------------------------------------------ dunning

  /**
   * A plan period's payment failed (or got no answer in time). The first failure makes the subscription
   * PAST_DUE with a grace period and a retry schedule; a failed retry schedules the next one. With the
   * allowance withheld during grace, the period's unused plan credits are taken out until it is paid.
   * A payment for a period that is no longer the current one changes nothing.
   */
  async periodPaymentFailed(wallet: PurchaseWallet, subscriptionId: string, periodStart: Date, reason: string): Promise<void> {
    const tx = wallet.tx;
    const live = await repo.liveSubscription(tx, wallet.accountId);
    if (!live || live.id !== subscriptionId || live.currentPeriodStart.getTime() !== periodStart.getTime()) return;
    const [terms] = await repo.versionsByIds(tx, [live.planVersionId]);
    const [plan] = await repo.plansByIds(tx, [live.planId]);
    let subscription: SubscriptionRow;
    if (live.status === 'ACTIVE') {
      const graceEndsAt = new Date(wallet.now.getTime() + this.config.dunningGraceDays * 86_400_000);
      let withheld = 0;
      if (this.config.dunningAllowanceDuringGrace === 'withheld') {
        const grants = await repo.periodsEndingAt(tx, live.id, live.currentPeriodEnd);
        const taken = await wallet.expire(planBucketsOf(grants), (m) => `${formatCredits(m)} plan credits of the period ${span(live.currentPeriodStart, live.currentPeriodEnd)} withheld: its payment failed; they come back when it is paid`);
        withheld = taken ? -taken.amountMillis : 0;
      }
      subscription = {
        ...live, status: 'PAST_DUE', pastDueSince: wallet.now, graceEndsAt, paymentRetries: 0, withheldMillis: withheld,
        nextPaymentRetryAt: this.retryAt(wallet.now, 0, graceEndsAt), updatedAt: wallet.now,
      };
    } else {
      subscription = { ...live, nextPaymentRetryAt: this.retryAt(live.pastDueSince!, live.paymentRetries, live.graceEndsAt!), updatedAt: wallet.now };
    }
    await repo.updateSubscription(tx, subscription);
    await wallet.shape(shapeOf(plan.plan.code, terms, subscription.graceEndsAt!));
    const retry = subscription.nextPaymentRetryAt ? `the next attempt is at ${day(subscription.nextPaymentRetryAt)}` : 'no attempts are left';
    await this.alerts.raise(tx, {
      accountId: wallet.accountId, kind: 'PAYMENT_FAILED', thresholdMillis: null, availableMillis: wallet.figures().availableMillis,
      message: `The payment of ${formatMoney(terms.priceMinor, terms.currency)} ${terms.currency} for ${terms.name} failed (${reason}); ${retry}. `
        + `Unless it is paid by ${day(subscription.graceEndsAt!)}, the subscription ${this.fallbackWords()}.`,
    }, wallet.now);
  }

  /**
   * A plan period was paid: a PAST_DUE subscription is ACTIVE again, and withheld credits come back.
   * Returns why a person should look (a payment for a period that is no longer current), or null.
   */
  async periodPaid(wallet: PurchaseWallet, subscriptionId: string, periodStart: Date): Promise<string | null> {
    const tx = wallet.tx;
    const live = await repo.liveSubscription(tx, wallet.accountId);
    if (!live || live.id !== subscriptionId || live.currentPeriodStart.getTime() > periodStart.getTime()) {
      return 'paid for a subscription period that is no longer current (canceled, downgraded or renewed since)';
    }
    if (live.status !== 'PAST_DUE' || live.currentPeriodStart.getTime() !== periodStart.getTime()) return null;
    const [plan] = await repo.plansByIds(tx, [live.planId]);
    const [terms] = await repo.versionsByIds(tx, [live.planVersionId]);
    const paid: SubscriptionRow = {
      ...live, status: 'ACTIVE', pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null, paymentRetries: 0, withheldMillis: 0, updatedAt: wallet.now,
    };
    if (live.withheldMillis > 0 && live.currentPeriodEnd > wallet.now) {
      await this.grantPeriod(wallet, paid, { plan: plan.plan, terms }, 'RESTORED', wallet.now, live.currentPeriodEnd, null, null, live.withheldMillis,
        `${formatCredits(live.withheldMillis)} plan credits withheld while the payment was past due, back now that the period ${span(live.currentPeriodStart, live.currentPeriodEnd)} is paid`);
    }
    await repo.updateSubscription(tx, paid);
    await wallet.shape(shapeOf(plan.plan.code, terms, live.currentPeriodEnd)); // a period that ended meanwhile renews next
    return null;
  }

  /** The dunning job: a new payment attempt for a PAST_DUE subscription whose retry is due; false when none was. */
  async retryPayment(wallet: PurchaseWallet): Promise<boolean> {
    const live = await repo.liveSubscription(wallet.tx, wallet.accountId);
    if (!live || live.status !== 'PAST_DUE' || !live.nextPaymentRetryAt || live.nextPaymentRetryAt > wallet.now) return false;
    const [terms] = await repo.versionsByIds(wallet.tx, [live.planVersionId]);
    const retried: SubscriptionRow = { ...live, paymentRetries: live.paymentRetries + 1, nextPaymentRetryAt: null, updatedAt: wallet.now };
    await repo.updateSubscription(wallet.tx, retried);
    await this.bill(wallet, retried, live.currentPeriodStart, terms.priceMinor, terms.currency);
    return true;
  }

  async accountsDueForPaymentRetry(now: Date, limit: number): Promise<string[]> {
    return repo.accountsDueForPaymentRetry(this.db, now, limit);
  }

  /** When retry `index` (0-based) is due: the schedule's day after the first failure, if before the grace end. */
  private retryAt(pastDueSince: Date, index: number, graceEndsAt: Date): Date | null {
    const days = this.config.dunningRetryDays[index];
    if (days === undefined) return null;
    const at = new Date(pastDueSince.getTime() + days * 86_400_000);
    return at < graceEndsAt ? at : null;
  }

  private fallbackWords(): string {
    return this.config.dunningFallbackPlan ? `moves to the ${this.config.dunningFallbackPlan} plan` : 'ends';
  }

  /**
   * The grace period ended unpaid: the unpaid period's unused plan credits expire, and the subscription
   * moves to the fallback plan (a new period from the grace end) or, when there is no such active plan, ends.
   */
  private async endGrace(wallet: PlanWallet, live: SubscriptionRow, terms: PlanVersionRow): Promise<void> {
    const tx = wallet.tx;
    const at = live.graceEndsAt!;
    const grants = await repo.periodsEndingAt(tx, live.id, live.currentPeriodEnd);
    await wallet.expire(planBucketsOf(grants), (m) => `${formatCredits(m)} unused plan credits of the unpaid period ${span(live.currentPeriodStart, live.currentPeriodEnd)} expired: `
      + `the grace period ended on ${day(at)} without payment`);
    const fallback = this.config.dunningFallbackPlan ? await repo.planByCode(tx, this.config.dunningFallbackPlan) : undefined;
    const cleared = { pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null, paymentRetries: 0, withheldMillis: 0, cancelAtPeriodEnd: false, scheduledPlanId: null, updatedAt: wallet.now };
    let what: string;
    if (fallback && fallback.plan.active && fallback.plan.id !== live.planId && fallback.terms.priceMinor === 0n) {
      const first = period(at, fallback.terms.interval, fallback.terms.intervalCount, 0);
      const moved: SubscriptionRow = {
        ...live, ...cleared, status: 'ACTIVE', planId: fallback.plan.id, planVersionId: fallback.terms.id, anchorAt: first.start, periodIndex: 0,
        currentPeriodStart: first.start, currentPeriodEnd: first.end,
      };
      await repo.updateSubscription(tx, moved);
      await this.grantPeriod(wallet, moved, fallback, 'START', first.start, first.end, null, null, fallback.terms.allowanceMillis,
        `${fallback.terms.name} allowance for the period ${span(first.start, first.end)}: ${terms.name} was not paid by the end of its grace period`);
      await wallet.shape(shapeOf(fallback.plan.code, fallback.terms, first.end));
      what = `moved to ${fallback.terms.name}`;
    } else {
      await repo.updateSubscription(tx, { ...live, ...cleared, status: 'CANCELED', canceledAt: at });
      await wallet.shape(null);
      what = 'ended';
    }
    await this.alerts.raise(tx, {
      accountId: wallet.accountId, kind: 'PLAN_DOWNGRADED', thresholdMillis: null, availableMillis: 0,
      message: `The ${terms.name} payment was not made by the end of the grace period (${day(at)}): the subscription ${what}.`,
    }, wallet.now);
  }

  // ------------------------------------------------------------ reads and the job

  async subscriptionById(id: string): Promise<SubscriptionRow> {
    const [row] = await repo.subscriptionsByIds(this.db, [id]);
    assert(row, 'a subscription just written exists');
    return row;
  }

  /**
   * Each account's live subscription, or else its latest one (null: never subscribed). A live one whose
   * period ended is renewed first (as the next operation on its wallet would), so a read never shows a
   * period that is over.
   */
  async subscriptionsOf(accountIds: readonly string[]): Promise<(SubscriptionRow | null)[]> {
    const ids = accountIds.filter(isUuid);
    let rows = await repo.latestSubscriptions(this.db, ids);
    const now = this.clock.now();
    const due = rows.filter((r) => (r.status === 'ACTIVE' && r.currentPeriodEnd <= now) || (r.status === 'PAST_DUE' && r.graceEndsAt! <= now));
    if (due.length > 0) {
      for (const r of due) await this.ledger.settleWallet(r.accountId);
      rows = await repo.latestSubscriptions(this.db, ids);
    }
    const byAccount = new Map(rows.map((r) => [r.accountId, r]));
    return accountIds.map((id) => byAccount.get(id) ?? null);
  }

  async periodsOf(subscriptionId: string, limit: number): Promise<PeriodRow[]> {
    return repo.periodsOf(this.db, subscriptionId, Math.min(limit, PERIODS_LISTED_MAX));
  }

  /**
   * The renewal job: wallets whose period ended, earliest first, in batches of `batchSize`; each renewal
   * in its own database transaction under the wallet lock (another instance doing the same waits, then
   * finds nothing due). Returns how many wallets had something posted (a renewal, or an expiry settled with it).
   */
  async runRenewals(batchSize: number): Promise<number> {
    let renewed = 0;
    for (let batch = 0; batch < RENEWAL_BATCHES_PER_RUN_MAX; batch += 1) {
      const accountIds = await repo.accountsDueForRenewal(this.db, this.clock.now(), batchSize);
      let next = 0;
      const worker = async () => {
        while (next < accountIds.length) {
          const accountId = accountIds[next++];
          if (await this.ledger.settleWallet(accountId)) renewed += 1;
        }
      };
      await Promise.all(Array.from({ length: Math.min(RENEWAL_CONCURRENCY, accountIds.length) }, worker));
      if (accountIds.length < batchSize) break;
    }
    return renewed;
  }
}

/** An active plan by code: NOT_FOUND, or BAD_USER_INPUT when archived. */
async function activePlan(executor: Executor, code: string): Promise<PlanWithTerms> {
  const found = await repo.planByCode(executor, code);
  if (!found) throw notFound('plan');
  if (!found.plan.active) throw archived(code);
  return found;
}

/** The account's live subscription, or BAD_USER_INPUT saying what to do instead. */
async function liveSubscription(executor: Executor, accountId: string, missing: string): Promise<SubscriptionRow> {
  const found = await repo.liveSubscription(executor, accountId);
  if (!found) throw badInput(missing, 'accountId');
  return found;
}

/** The plan credits of a period: its allowance buckets and the rollover that came into it. */
function planBucketsOf(grants: PeriodRow[]): string[] {
  return grants.flatMap((g) => [g.bucketId, g.rolloverBucketId]).filter((id): id is string => id !== null);
}
