/**
 * Buying credits: the pack catalogue, the volume price of custom amounts, purchases and their payment
 * outcomes (signed webhooks), off-session payments (auto top-up, plan periods) and auto top-up.
 *
 * - A purchase is PENDING until the provider's webhook says how it ended; the wallet does not change before.
 * - Each webhook event id takes effect once: its id is inserted first, in the same database transaction
 *   as its effect (a concurrent duplicate waits on that row, then finds it and changes nothing).
 * - Credits move only through the ledger (PurchaseWallet, under the wallet's row lock), which also
 *   serializes a payment with the wallet's charges and makes SUCCEEDED happen once per purchase.
 * - Time comes from the injectable clock.
 */
import type { Database, Tx } from '../../db/client';
import type { Config } from '../../config';
import type { Clock } from '../../shared/clock';
import { AppError, ErrorCode, badInput, notFound } from '../../shared/errors';
import { formatCredits, type Millis } from '../../shared/credits';
import { costPerCredit, formatMoney, formatUnitPrice } from '../../shared/money';
import { newId } from '../../shared/ids';
import { logger } from '../../shared/logger';
import { isUuid } from '../../shared/validate';
import { readWallets, transactionsByIds, walletFigures, type Actor, type LedgerService, type PurchaseWallet, type TransactionRow } from '../ledger';
import type { AlertsService } from '../alerts';
import type { PeriodBilling, PeriodPaymentRequest, PlansService } from '../plans';
import { requestHash } from '../ledger/idempotency';
import {
  PURCHASE_CREDITS_MAX, checkPurchasable, describeTier, invalid, packProblems, priceCustom, priceTableProblems,
  type PackTerms, type PriceTable, type Problem,
} from './purchase-rules';
import type { PaymentProvider, PaymentRequest } from './providers/payment-provider';
import * as repo from './purchases.repo';
import type { AutoTopUpRow, PackRow, PurchaseRow } from './purchases.repo';

/** After this many failed auto top-ups in a row, auto top-up turns itself off (and says so in an alert). */
export const AUTO_TOP_UP_FAILURES_MAX = 3;
export const AUTO_TOP_UP_PER_MONTH_MAX = 100;
/** How often this instance re-reads the enabled auto top-up rules (another instance may have changed one). */
const AUTO_TOP_UP_RULES_REFRESH_MS = 10_000;
/** Off-session payments asked of the provider per run, and PENDING purchases canceled per run. */
const PAYMENTS_PER_RUN_MAX = 200;
export const REVIEW_EVENTS_LISTED_MAX = 100;
export const EVENTS_PER_PURCHASE_MAX = 100;
const PAYMENTS_ACTOR = 'system:payments';

export interface PackChanges {
  name?: string;
  creditsMillis?: Millis;
  priceMinor?: bigint;
  currency?: string;
  expiresAfterDays?: number | null;
  active?: boolean;
}

export interface PurchaseInput {
  accountId: string;
  packCode: string | null;
  creditsMillis: Millis | null;
  idempotencyKey: string;
}

export interface AutoTopUpInput {
  accountId: string;
  enabled: boolean;
  belowMillis: Millis;
  packCode: string | null;
  targetBalanceMillis: Millis | null;
  maxPerMonth: number;
}

/** A webhook event as the route parsed it (signature already verified). */
export interface PaymentEvent {
  id: string;
  type: string;
  purchaseId: string | null;
  amount: string | null;
  currency: string | null;
  payload: unknown;
}

export interface EventResult {
  outcome: repo.PaymentEventRow['outcome'];
  reason: string | null;
}

/** What a second delivery of an event id answers. */
const DUPLICATE_EVENT: EventResult = { outcome: 'IGNORED', reason: 'event already received' };

export class PurchasesService implements PeriodBilling {
  private provider: PaymentProvider | null = null;
  /** Enabled auto top-up rules: account → its `below` level. The charge path reads only this map. */
  private autoTopUpRules = new Map<string, Millis>();
  private autoTopUpRulesAt = 0;
  private autoTopUpRulesLoading: Promise<void> | null = null;
  private paymentsKicked = false;
  /** Wallets whose billing transaction the next payment-request run waits for. */
  private readonly walletsBilling = new Set<string>();
  private readonly autoTopUpChecks = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly config: Readonly<Config>,
    private readonly ledger: LedgerService,
    private readonly plans: PlansService,
    private readonly alerts: AlertsService,
  ) {}

  private get db() {
    return this.database.db;
  }

  attachProvider(provider: PaymentProvider): void {
    this.provider = provider;
  }

  get paymentProvider(): PaymentProvider {
    if (!this.provider) throw new Error('no payment provider attached');
    return this.provider;
  }

  // ------------------------------------------------------------ packs

  async createPack(code: string, terms: PackTerms, active: boolean, priceProblem: Problem | null = null): Promise<PackRow> {
    const problems = packProblems(terms, code, priceProblem);
    if (problems.length > 0) throw invalid('invalid credit pack', problems);
    const now = this.clock.now();
    const pack: PackRow = { id: newId(), code, ...terms, name: terms.name.trim(), active, createdAt: now, updatedAt: now };
    const created = await this.db.transaction((tx) => repo.insertPack(tx, pack));
    if (!created) throw badInput(`a credit pack with code "${code}" already exists; choose another code or updateCreditPack`, 'code');
    return pack;
  }

  /** Changes apply to purchases made from now on (a purchase keeps what it was sold); `active: false` archives. */
  async updatePack(code: string, changes: PackChanges, priceProblem: Problem | null = null): Promise<PackRow> {
    return this.db.transaction(async (tx) => {
      const pack = await repo.packByCode(tx, code, true);
      if (!pack) throw notFound('credit pack');
      const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as PackChanges;
      const next: PackRow = { ...pack, ...defined, updatedAt: this.clock.now() };
      const problems = packProblems(next, undefined, priceProblem);
      if (problems.length > 0) throw invalid('invalid credit pack', problems);
      next.name = next.name.trim();
      await repo.updatePack(tx, next);
      return next;
    });
  }

  async listPacks(includeArchived: boolean): Promise<PackRow[]> {
    return repo.listPacks(this.db, includeArchived);
  }

  async packsByIds(ids: readonly string[]): Promise<PackRow[]> {
    return repo.packsByIds(this.db, ids);
  }

  // ------------------------------------------------------------ custom amounts

  async setPriceTable(table: PriceTable): Promise<repo.PriceTableRow> {
    const problems = priceTableProblems(table);
    if (problems.length > 0) throw invalid('invalid credit price tiers', problems);
    return this.db.transaction((tx) => repo.insertPriceTable(tx, { id: newId(), ...table, createdAt: this.clock.now() }));
  }

  async priceTable(): Promise<repo.PriceTableRow | null> {
    return (await repo.currentPriceTable(this.db)) ?? null;
  }

  /** The price of a custom amount: BAD_USER_INPUT outside the table's bounds. */
  async creditPrice(millis: Millis): Promise<{ minor: bigint; currency: string; unitPrice: string; tier: string }> {
    const table = checkPurchasable((await this.priceTable()) ?? null, millis);
    const price = priceCustom(table, millis);
    return { minor: price.minor, currency: table.currency, unitPrice: formatUnitPrice(price.unitMicros), tier: describeTier(table, price.tierIndex) };
  }

  // ------------------------------------------------------------ purchases

  /**
   * A PENDING purchase of a pack or a custom amount, with its checkout link; nothing moves until the
   * provider confirms. The same idempotency key returns the same purchase (IDEMPOTENCY_KEY_REUSED when
   * the request differs).
   */
  async purchase(actor: Actor, input: PurchaseInput): Promise<PurchaseRow> {
    if ((input.packCode === null) === (input.creditsMillis === null)) throw badInput('give exactly one of packCode and credits', 'packCode');
    if (!input.idempotencyKey.trim() || input.idempotencyKey.length > this.config.idempotencyKeyLengthMax) {
      throw badInput(`idempotencyKey must be 1 to ${this.config.idempotencyKeyLengthMax} characters`, 'idempotencyKey');
    }
    if (!isUuid(input.accountId)) throw notFound('account');
    const hash = requestHash('purchaseCredits', { accountId: input.accountId, packCode: input.packCode, credits: input.creditsMillis });
    const now = this.clock.now();
    const reused = () => new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'this idempotency key was already used with a different request');
    const purchase = await this.db.transaction(async (tx) => {
      // A replay answers with what was stored, even if the pack was archived or the prices changed since.
      const earlier = await repo.purchaseByKey(tx, actor.scope, input.idempotencyKey);
      if (earlier) {
        if (earlier.requestHash !== hash) throw reused();
        return earlier;
      }
      const sold = input.packCode !== null ? await this.packSale(tx, input.packCode) : await this.customSale(tx, input.creditsMillis!);
      const id = newId();
      const request = { purchaseId: id, accountId: input.accountId, amount: formatMoney(sold.priceMinor, sold.currency), currency: sold.currency, description: sold.description };
      const { purchase: stored, fresh } = await repo.insertPurchase(tx, {
        id, accountId: input.accountId, kind: sold.kind, packId: sold.packId, creditsMillis: sold.creditsMillis, priceMinor: sold.priceMinor,
        currency: sold.currency, expiresAfterDays: sold.expiresAfterDays, status: 'PENDING', provider: this.paymentProvider.name,
        checkoutUrl: this.paymentProvider.checkoutUrl(request), subscriptionId: null, periodStart: null, requestedAt: now,
        transactionId: null, reversalTransactionId: null, failureReason: null, idempotencyScope: actor.scope,
        idempotencyKey: input.idempotencyKey, requestHash: hash,
        expiresAt: new Date(now.getTime() + this.config.purchasePendingTtlSeconds * 1000), createdAt: now, updatedAt: now,
      }).catch((error: unknown) => { throw accountMissing(error); });
      if (!fresh && stored.requestHash !== hash) throw reused(); // a concurrent request with the key got there first
      return stored;
    });
    return purchase;
  }

  private async packSale(tx: Tx, code: string) {
    const pack = await repo.packByCode(tx, code);
    if (!pack || !pack.active) throw notFound('credit pack');
    return {
      kind: 'PACK' as const, packId: pack.id, creditsMillis: pack.creditsMillis, priceMinor: pack.priceMinor, currency: pack.currency,
      expiresAfterDays: pack.expiresAfterDays, description: `${pack.name}: ${formatCredits(pack.creditsMillis)} credits`,
    };
  }

  private async customSale(tx: Tx, millis: Millis) {
    const table = checkPurchasable((await repo.currentPriceTable(tx)) ?? null, millis);
    const price = priceCustom(table, millis);
    return {
      kind: 'CUSTOM' as const, packId: null, creditsMillis: millis, priceMinor: price.minor, currency: table.currency, expiresAfterDays: null,
      description: `${formatCredits(millis)} credits at ${formatUnitPrice(price.unitMicros)} ${table.currency} each`,
    };
  }

  async purchaseById(id: string): Promise<PurchaseRow | null> {
    return isUuid(id) ? ((await repo.purchaseById(this.db, id)) ?? null) : null;
  }

  async purchasesOf(accountId: string, beforePos: number | null, limit: number): Promise<PurchaseRow[]> {
    return isUuid(accountId) ? repo.purchasesOf(this.db, accountId, beforePos, limit) : [];
  }

  async eventsForReview(purchaseId: string | null): Promise<repo.PaymentEventRow[]> {
    return repo.eventsForReview(this.db, purchaseId, REVIEW_EVENTS_LISTED_MAX);
  }

  /** Each purchase's webhook events, oldest first (at most EVENTS_PER_PURCHASE_MAX each). */
  async eventsOf(purchaseIds: readonly string[]): Promise<repo.PaymentEventRow[][]> {
    const byPurchase = new Map<string, repo.PaymentEventRow[]>(purchaseIds.map((id) => [id, []]));
    for (const event of await repo.eventsOfPurchases(this.db, purchaseIds)) {
      const list = byPurchase.get(event.purchaseId!);
      if (list && list.length < EVENTS_PER_PURCHASE_MAX) list.push(event);
    }
    return purchaseIds.map((id) => byPurchase.get(id)!);
  }

  /** What the checkout page shows of a purchase. */
  async describeForCheckout(purchaseId: string): Promise<{ request: PaymentRequest; status: string } | null> {
    const purchase = await this.purchaseById(purchaseId);
    if (!purchase) return null;
    return { request: requestOf(purchase), status: purchase.status };
  }

  // ------------------------------------------------------------ webhook events

  /**
   * Applies one verified webhook event, exactly once per (provider, event id). An event that cannot be
   * matched to a purchase (unknown id, different amount or currency) changes nothing and is recorded
   * for review; the caller still answers 200 so the provider stops retrying.
   */
  async applyEvent(provider: string, event: PaymentEvent): Promise<EventResult> {
    const now = this.clock.now();
    const row: repo.NewPaymentEventRow = {
      provider, eventId: event.id, type: event.type, purchaseId: event.purchaseId, outcome: 'APPLIED', reason: null,
      payload: event.payload, receivedAt: now,
    };
    const purchase = event.purchaseId && isUuid(event.purchaseId) ? await repo.purchaseById(this.db, event.purchaseId) : undefined;
    if (!purchase) {
      const result: EventResult = { outcome: 'REVIEW', reason: event.purchaseId ? `no purchase with id ${event.purchaseId}` : 'the event names no purchase' };
      const fresh = await this.db.transaction((tx) => repo.claimEvent(tx, { ...row, ...result }));
      return fresh ? result : DUPLICATE_EVENT;
    }
    const result = await this.ledger.withWallet(purchase.accountId, PAYMENTS_ACTOR, (tx) => repo.claimEvent(tx, row), async (wallet, fresh): Promise<EventResult> => {
      if (!fresh) return DUPLICATE_EVENT;
      const outcome = await this.applyToPurchase(wallet, event);
      if (outcome.outcome !== 'APPLIED' || outcome.reason) await repo.settleEvent(wallet.tx, provider, event.id, outcome.outcome, outcome.reason);
      return outcome;
    });
    return result;
  }

  private async applyToPurchase(wallet: PurchaseWallet, event: PaymentEvent): Promise<EventResult> {
    const purchase = (await repo.purchaseById(wallet.tx, event.purchaseId!, true))!;
    const price = formatMoney(purchase.priceMinor, purchase.currency);
    if (event.amount !== price || event.currency !== purchase.currency) {
      return { outcome: 'REVIEW', reason: `the event says ${event.amount} ${event.currency}; the purchase is ${price} ${purchase.currency}` };
    }
    switch (event.type) {
      case 'payment.succeeded': {
        if (purchase.status === 'SUCCEEDED') return { outcome: 'IGNORED', reason: 'the purchase is already paid' };
        // A payment that arrives after the purchase failed or was canceled still took the money: it is honored.
        const review = await this.fulfil(wallet, purchase);
        if (review) return { outcome: 'REVIEW', reason: review };
        return { outcome: 'APPLIED', reason: purchase.status === 'PENDING' ? null : `paid after it was ${purchase.status.toLowerCase()}: honored` };
      }
      case 'payment.failed':
        if (purchase.status !== 'PENDING') return { outcome: 'IGNORED', reason: `the purchase is already ${purchase.status.toLowerCase()}` };
        await this.settleUnpaid(wallet, purchase, 'FAILED', 'the payment failed');
        return { outcome: 'APPLIED', reason: null };
      case 'payment.refunded':
      case 'payment.disputed':
        return this.takeBack(wallet, purchase, event.type === 'payment.refunded' ? 'refunded' : 'charged back');
      default:
        return { outcome: 'IGNORED', reason: `event type ${event.type} is not one this server acts on` };
    }
  }

  /** The payment arrived: credits are granted (or the plan period is paid), once. Returns why a person should look, or null. */
  private async fulfil(wallet: PurchaseWallet, purchase: PurchaseRow): Promise<string | null> {
    const now = wallet.now;
    if (purchase.kind === 'PLAN_PERIOD') {
      await repo.updatePurchase(wallet.tx, purchase.id, { status: 'SUCCEEDED', updatedAt: now });
      return this.plans.periodPaid(wallet, purchase.subscriptionId!, purchase.periodStart!);
    }
    const price = formatMoney(purchase.priceMinor, purchase.currency);
    const what = purchase.kind === 'AUTO_TOP_UP' ? 'auto top-up' : purchase.kind === 'PACK' ? 'credit pack' : 'credits';
    const granted = await wallet.grantPurchase({
      amountMillis: purchase.creditsMillis, costPerCredit: costPerCredit(purchase.priceMinor, purchase.creditsMillis, purchase.currency),
      currency: purchase.currency, expiresAt: purchase.expiresAfterDays ? new Date(now.getTime() + purchase.expiresAfterDays * 86_400_000) : null,
      comment: `purchase ${purchase.id} (${what}): ${formatCredits(purchase.creditsMillis)} credits for ${price} ${purchase.currency}`,
    });
    await repo.updatePurchase(wallet.tx, purchase.id, { status: 'SUCCEEDED', transactionId: granted.transaction.id, failureReason: null, updatedAt: now });
    if (purchase.kind === 'AUTO_TOP_UP') {
      const rule = await repo.autoTopUpOf(wallet.tx, purchase.accountId, true);
      if (rule && rule.consecutiveFailures > 0) await repo.upsertAutoTopUp(wallet.tx, { ...rule, consecutiveFailures: 0, updatedAt: now });
    }
    return null;
  }

  /** A purchase ended unpaid (declined, or no answer before its TTL): nothing is granted; auto top-up and dunning take note. */
  private async settleUnpaid(wallet: PurchaseWallet, purchase: PurchaseRow, status: 'FAILED' | 'CANCELED', reason: string): Promise<void> {
    await repo.updatePurchase(wallet.tx, purchase.id, { status, failureReason: reason, updatedAt: wallet.now });
    if (purchase.kind === 'PLAN_PERIOD') {
      await this.plans.periodPaymentFailed(wallet, purchase.subscriptionId!, purchase.periodStart!, reason);
      return;
    }
    if (purchase.kind !== 'AUTO_TOP_UP') return;
    const rule = await repo.autoTopUpOf(wallet.tx, purchase.accountId, true);
    if (!rule) return;
    const failures = rule.consecutiveFailures + 1;
    const trips = rule.enabled && failures >= AUTO_TOP_UP_FAILURES_MAX;
    await repo.upsertAutoTopUp(wallet.tx, {
      ...rule, consecutiveFailures: failures, updatedAt: wallet.now,
      ...(trips ? { enabled: false, disabledReason: `${failures} auto top-ups in a row were not paid (last: ${reason})` } : {}),
    });
    if (trips) {
      this.autoTopUpRules.delete(purchase.accountId);
      await this.alerts.raise(wallet.tx, {
        accountId: purchase.accountId, kind: 'AUTO_TOP_UP_FAILED', thresholdMillis: rule.belowMillis, availableMillis: wallet.figures().availableMillis,
        message: `Auto top-up is off: ${failures} payments in a row failed (last: ${reason}). Check the payment method, then turn it on again.`,
      }, wallet.now);
    }
  }

  /** A refund or chargeback of a paid purchase takes its credits back (spent ones become debt). */
  private async takeBack(wallet: PurchaseWallet, purchase: PurchaseRow, how: string): Promise<EventResult> {
    if (purchase.status !== 'SUCCEEDED') return { outcome: 'REVIEW', reason: `${how} a purchase that is ${purchase.status.toLowerCase()}` };
    if (purchase.reversalTransactionId) return { outcome: 'IGNORED', reason: 'the purchase was already taken back' };
    if (purchase.kind === 'PLAN_PERIOD' || !purchase.transactionId) {
      return { outcome: 'REVIEW', reason: `a plan payment was ${how}: the subscription is left as it is for a person to decide` };
    }
    const [grant] = await transactionsByIds(wallet.tx, [purchase.transactionId]);
    const reversal: TransactionRow = await wallet.takeBackPurchase(grant, `purchase ${purchase.id} ${how} by the provider`);
    await repo.updatePurchase(wallet.tx, purchase.id, { reversalTransactionId: reversal.id, updatedAt: wallet.now });
    return { outcome: 'APPLIED', reason: null };
  }

  // ------------------------------------------------------------ off-session payments and jobs

  /** PeriodBilling: a plan period to be paid, asked of the provider after commit (the payments job). */
  async requestPeriodPayment(tx: Tx, request: PeriodPaymentRequest): Promise<void> {
    const id = newId();
    await repo.insertPurchase(tx, {
      id, accountId: request.accountId, kind: 'PLAN_PERIOD', packId: null, creditsMillis: 0, priceMinor: request.priceMinor,
      currency: request.currency, expiresAfterDays: null, status: 'PENDING', provider: this.paymentProvider.name, checkoutUrl: null,
      subscriptionId: request.subscriptionId, periodStart: request.periodStart, requestedAt: null, transactionId: null,
      reversalTransactionId: null, failureReason: null, idempotencyScope: PAYMENTS_ACTOR, idempotencyKey: id, requestHash: '',
      expiresAt: new Date(request.now.getTime() + this.config.purchasePendingTtlSeconds * 1000), createdAt: request.now, updatedAt: request.now,
    });
    this.requestPaymentsSoon(request.accountId); // `tx` holds this wallet's lock until it commits
  }

  /**
   * The payments job: asks the provider for off-session payments not asked for yet (each once, whichever
   * instance claims it), then ends PENDING purchases past their TTL (CANCELED; for a plan period that is
   * a failed payment). Returns how many purchases it handled.
   */
  async runPayments(): Promise<number> {
    const now = this.clock.now();
    const claimed = await this.db.transaction((tx) => repo.claimUnrequested(tx, now, PAYMENTS_PER_RUN_MAX));
    for (const purchase of claimed) {
      await this.paymentProvider.chargeSaved(requestOf(purchase)).catch((error: unknown) => {
        logger.error('payment provider refused an off-session payment', { purchaseId: purchase.id, error: String(error) });
      });
    }
    // A checkout nobody paid changes nothing else: canceled in one statement. Auto top-ups and plan
    // periods are counted by their rule and by dunning, under the wallet's lock.
    const canceled = await repo.cancelExpiredCheckouts(this.db, now, `no payment within ${this.config.purchasePendingTtlSeconds} s`, PAYMENTS_PER_RUN_MAX);
    const expired = await repo.expiredPending(this.db, now, PAYMENTS_PER_RUN_MAX, ['AUTO_TOP_UP', 'PLAN_PERIOD']);
    for (const purchase of expired) {
      await this.ledger.withWallet(purchase.accountId, PAYMENTS_ACTOR, async (tx) => repo.purchaseById(tx, purchase.id, true), async (wallet, locked) => {
        if (locked?.status !== 'PENDING') return;
        await this.settleUnpaid(wallet, locked, 'CANCELED', `no payment within ${this.config.purchasePendingTtlSeconds} s`);
      });
    }
    return claimed.length + canceled + expired.length;
  }

  /** Dunning retries that are due: each PAST_DUE subscription gets one new payment attempt. */
  async runPaymentRetries(batchSize: number): Promise<number> {
    const accountIds = await this.plans.accountsDueForPaymentRetry(this.clock.now(), batchSize);
    let retried = 0;
    for (const accountId of accountIds) {
      const asked = await this.ledger.withWallet(accountId, 'system:dunning', async () => null, (wallet) => this.plans.retryPayment(wallet));
      if (asked) retried += 1;
    }
    if (retried > 0) this.requestPaymentsSoon();
    return retried;
  }

  /**
   * Runs the off-session payment requests soon. Called inside a transaction that holds `lockedWallet`'s
   * lock (a plan period billed), the run first waits for that lock: the purchase is visible only once that
   * transaction committed (a fixed delay is not enough on a busy database). Calls meanwhile (a renewal
   * run) share one run; what a run misses, the payments job picks up.
   */
  private requestPaymentsSoon(lockedWallet: string | null = null): void {
    if (lockedWallet) this.walletsBilling.add(lockedWallet);
    if (this.paymentsKicked) return;
    this.paymentsKicked = true;
    this.track(new Promise((resolve) => setTimeout(resolve, 20).unref()).then(async () => {
      this.paymentsKicked = false;
      const awaited = [...this.walletsBilling];
      this.walletsBilling.clear();
      for (const accountId of awaited) await repo.waitForWalletLock(this.db, accountId);
      for (;;) {
        const claimed = await this.db.transaction((tx) => repo.claimUnrequested(tx, this.clock.now(), PAYMENTS_PER_RUN_MAX));
        for (const purchase of claimed) await this.paymentProvider.chargeSaved(requestOf(purchase));
        if (claimed.length < PAYMENTS_PER_RUN_MAX) break;
      }
    }));
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => logger.error('background payment work failed', { error: String(error) }));
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** Waits for background work started by this instance (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  async setTestCardDeclines(accountId: string, declines: boolean): Promise<void> {
    if (this.paymentProvider.name !== 'test') throw badInput('test cards exist only with the test payment provider', 'accountId');
    if (!isUuid(accountId)) throw notFound('account');
    await repo.setTestCardDeclines(this.db, accountId, declines).catch((error: unknown) => { throw accountMissing(error); });
  }

  async testCardDeclines(accountId: string): Promise<boolean> {
    return repo.testCardDeclines(this.db, accountId);
  }

  // ------------------------------------------------------------ auto top-up

  async setAutoTopUp(input: AutoTopUpInput): Promise<AutoTopUpRow> {
    if (!isUuid(input.accountId)) throw notFound('account');
    const problems: { field: string; message: string }[] = [];
    if (input.belowMillis < 0) problems.push({ field: 'below', message: 'must be ≥ 0' });
    if (!Number.isSafeInteger(input.maxPerMonth) || input.maxPerMonth < 1 || input.maxPerMonth > AUTO_TOP_UP_PER_MONTH_MAX) {
      problems.push({ field: 'maxPerMonth', message: `must be 1 to ${AUTO_TOP_UP_PER_MONTH_MAX}` });
    }
    if ((input.packCode === null) === (input.targetBalanceMillis === null)) problems.push({ field: 'packCode', message: 'give exactly one of packCode and targetBalance' });
    if (input.targetBalanceMillis !== null && (input.targetBalanceMillis <= input.belowMillis || input.targetBalanceMillis > PURCHASE_CREDITS_MAX)) {
      problems.push({ field: 'targetBalance', message: `must be above below and at most ${formatCredits(PURCHASE_CREDITS_MAX)}` });
    }
    if (problems.length > 0) throw invalid('invalid auto top-up', problems);
    const rule = await this.db.transaction(async (tx) => {
      let packId: string | null = null;
      if (input.packCode !== null) {
        const pack = await repo.packByCode(tx, input.packCode);
        if (!pack || !pack.active) throw notFound('credit pack');
        packId = pack.id;
      } else if (!(await repo.currentPriceTable(tx))) {
        throw badInput('targetBalance buys a custom amount, but no credit price tiers are set; choose a packCode', 'targetBalance');
      }
      const previous = await repo.autoTopUpOf(tx, input.accountId, true);
      const row: AutoTopUpRow = {
        accountId: input.accountId, enabled: input.enabled, belowMillis: input.belowMillis, packId, targetBalanceMillis: input.targetBalanceMillis,
        maxPerMonth: input.maxPerMonth, updatedAt: this.clock.now(),
        // Turning it on again starts a new count of failures.
        consecutiveFailures: input.enabled ? 0 : previous?.consecutiveFailures ?? 0,
        disabledReason: input.enabled ? null : previous?.disabledReason ?? null,
      };
      await repo.upsertAutoTopUp(tx, row).catch((error: unknown) => { throw accountMissing(error); });
      return row;
    });
    if (rule.enabled) this.autoTopUpRules.set(rule.accountId, rule.belowMillis);
    else this.autoTopUpRules.delete(rule.accountId);
    if (rule.enabled) this.checkAutoTopUp(input.accountId, null);
    return rule;
  }

  async autoTopUpOf(accountId: string): Promise<AutoTopUpRow | null> {
    return isUuid(accountId) ? ((await repo.autoTopUpOf(this.db, accountId)) ?? null) : null;
  }

  /** Loads the enabled auto top-up rules (at start; then again every 10 s, in the background, when charges come). */
  async loadAutoTopUpRules(): Promise<void> {
    this.autoTopUpRulesLoading ??= (async () => {
      const startedAt = Date.now();
      try {
        this.autoTopUpRules = await repo.enabledAutoTopUps(this.db);
      } catch (error) {
        // The database is away (or not migrated yet): keep what is known, try again in 10 s.
        logger.warn('could not read the auto top-up rules', { error: String(error) });
      } finally {
        this.autoTopUpRulesAt = startedAt;
        this.autoTopUpRulesLoading = null;
      }
    })();
    return this.autoTopUpRulesLoading;
  }

  /**
   * Told of every committed ledger transaction (synchronously, after commit): a wallet whose available
   * fell below its auto top-up level gets a check in the background. Costs the charge path a map lookup.
   */
  afterCommit(posted: readonly TransactionRow[]): void {
    if (Date.now() - this.autoTopUpRulesAt > AUTO_TOP_UP_RULES_REFRESH_MS && !this.autoTopUpRulesLoading) this.track(this.loadAutoTopUpRules());
    if (this.autoTopUpRules.size === 0) return;
    const last = new Map<string, TransactionRow>();
    const dipped = new Set<string>();
    for (const row of posted) {
      last.set(row.accountId, row);
      // Only what takes credits away (a charge, a hold, an expiry, a reversal) is a dip: a top-up's own
      // grant that leaves the wallet still below the level does not buy again.
      if (row.amountMillis < 0 || row.heldChangeMillis > 0) dipped.add(row.accountId);
    }
    for (const [accountId, row] of last) {
      if (!dipped.has(accountId)) continue;
      const below = this.autoTopUpRules.get(accountId);
      if (below !== undefined && row.availableAfterMillis !== null && row.availableAfterMillis < below) this.checkAutoTopUp(accountId, row.availableAfterMillis);
    }
  }

  private checkAutoTopUp(accountId: string, hint: Millis | null): void {
    if (this.autoTopUpChecks.has(accountId)) return; // one check per account at a time
    this.autoTopUpChecks.add(accountId);
    this.track(this.runAutoTopUp(accountId, hint).finally(() => this.autoTopUpChecks.delete(accountId)));
  }

  /** Makes one auto top-up purchase when the rule says so: below its level, none pending, under the monthly cap. */
  private async runAutoTopUp(accountId: string, hint: Millis | null): Promise<void> {
    const rule = await repo.autoTopUpOf(this.db, accountId);
    if (!rule?.enabled || (hint !== null && hint >= rule.belowMillis)) return;
    const created = await this.db.transaction(async (tx) => {
      const locked = await repo.autoTopUpOf(tx, accountId, true);
      if (!locked?.enabled) return false;
      const now = this.clock.now();
      const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      if (await repo.autoTopUpsSince(tx, accountId, monthStart) >= locked.maxPerMonth) return false;
      if (await repo.pendingAutoTopUp(tx, accountId)) return false; // never more than one waiting for its payment
      // The wallet is read in this transaction (PGlite has one connection: a read outside it waits for it
      // forever) and after the pending check (a top-up paid meanwhile is then seen in available).
      const read = (await readWallets(tx, [accountId], now)).get(accountId);
      if (!read) return false;
      const availableMillis = walletFigures(read.buckets, read.wallet, now).availableMillis;
      if (availableMillis >= locked.belowMillis) return false;
      const sold = locked.packId !== null ? await this.autoTopUpPack(tx, locked.packId) : await this.topUpToTarget(tx, locked, availableMillis);
      if (!sold) return false;
      const id = newId();
      await repo.insertPurchase(tx, {
        id, accountId, kind: 'AUTO_TOP_UP', packId: sold.packId, creditsMillis: sold.creditsMillis, priceMinor: sold.priceMinor, currency: sold.currency,
        expiresAfterDays: sold.expiresAfterDays, status: 'PENDING', provider: this.paymentProvider.name, checkoutUrl: null, subscriptionId: null,
        periodStart: null, requestedAt: null, transactionId: null, reversalTransactionId: null, failureReason: null,
        idempotencyScope: PAYMENTS_ACTOR, idempotencyKey: id, requestHash: '',
        expiresAt: new Date(now.getTime() + this.config.purchasePendingTtlSeconds * 1000), createdAt: now, updatedAt: now,
      });
      return true;
    }).catch((error: unknown) => {
      // The rule's row lock serializes instances; a partial unique index is the last word on "one pending".
      if (isUniqueViolation(error)) return false;
      throw error;
    });
    if (created) this.requestPaymentsSoon();
  }

  private async autoTopUpPack(tx: Tx, packId: string) {
    const [pack] = await repo.packsByIds(tx, [packId]);
    return pack?.active ? this.packSale(tx, pack.code) : null;
  }

  /** Target mode: the credits up to the target, at least the price table's minimum and at most its maximum. */
  private async topUpToTarget(tx: Tx, rule: AutoTopUpRow, availableMillis: Millis) {
    const table = await repo.currentPriceTable(tx);
    if (!table) return null;
    const wanted = rule.targetBalanceMillis! - availableMillis;
    return this.customSale(tx, Math.min(table.maximumMillis, Math.max(table.minimumMillis, wanted)));
  }
}

function requestOf(purchase: PurchaseRow): PaymentRequest {
  const description = purchase.kind === 'PLAN_PERIOD' ? 'plan period payment' : `${formatCredits(purchase.creditsMillis)} credits`;
  return { purchaseId: purchase.id, accountId: purchase.accountId, amount: formatMoney(purchase.priceMinor, purchase.currency), currency: purchase.currency, description };
}

/** The database's unique violation (SQLSTATE 23505), whichever driver raised it. */
function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } } | null;
  return e?.code === '23505' || e?.cause?.code === '23505';
}

/** A foreign key to a missing account (23503) is NOT_FOUND. */
function accountMissing(error: unknown): unknown {
  const e = error as { code?: string; cause?: { code?: string } } | null;
  return e?.code === '23503' || e?.cause?.code === '23503' ? notFound('account') : error;
}
