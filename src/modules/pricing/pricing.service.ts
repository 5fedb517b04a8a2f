/**
 * Pricing: rate-card drafts and versions, quotes that lock a price, and generation charges, holds
 * and captures (priced here, posted by the ledger through its hooks). Arithmetic lives in
 * pricing.engine.ts (pure); this file decides which card, which tier and which quote apply, and
 * records the result.
 */
import type { Database, Tx } from '../../db/client';
import type { Config } from '../../config';
import type { Clock } from '../../shared/clock';
import { AppError, ErrorCode, badInput, notFound } from '../../shared/errors';
import { formatCredits, type Millis } from '../../shared/credits';
import { newId } from '../../shared/ids';
import { isUuid } from '../../shared/validate';
import { paymentRefusal, planPayment, type Actor, type BatchCharge, type BatchOutcome, type ChargeHooks, type ChargeRequest, type HoldRow, type LedgerService, type Priced, type PricingRecord, type TransactionRow } from '../ledger';
import type { WalletsService } from '../wallets';
import { PricingInputError, priceGeneration, validateRateCard, type Generation, type PriceResult } from './pricing.engine';
import type { RateDefinition, RatePair } from './rate-card.model';
import { RATES_MAX, pricingContent, readStored, type StoredRateCard } from './rate-card.content';
import { RATE_CARD_CHANNEL, RateCardCache, type CachedCard } from './rate-card.cache';
import * as repo from './pricing.repo';
import { CoalescingQueue } from '../../shared/coalescing-queue';

export interface QuoteView {
  id: string;
  accountId: string;
  creditsMillis: Millis;
  lineItems: { label: string; millis: Millis; kind: string }[];
  affordable: boolean;
  /** Why the wallet could not pay it now (e.g. MODEL_NOT_IN_PLAN, naming the plans that include it). */
  refusal: { code: string; message: string; remedy: string; plansIncluding: string[] | null } | null;
  payingBuckets: { bucketId: string; source: string; millis: Millis }[];
  availableMillis: Millis;
  rateCardVersion: number;
  action: string;
  model: string | null;
  expiresAt: Date;
}

export interface GenerationChargeRequest {
  accountId: string;
  idempotencyKey: string;
  /** A generation, a quoteId, or both (the quote caps the price). */
  generation: Generation | null;
  quoteId: string | null;
  comment: string | null;
  vendorUsage: unknown;
  /** A team wallet's member (their budget counts it). */
  memberId?: string | null;
  /** The client's generation fingerprint (review holds), when given. */
  fingerprint?: string;
}

export interface GenerationHoldRequest {
  accountId: string;
  idempotencyKey: string;
  generation: Generation | null;
  quoteId: string | null;
  ttlSeconds?: number | null;
  action: string | null;
  model: string | null;
  comment: string | null;
  memberId?: string | null;
  fingerprint?: string;
}

export interface GenerationCaptureRequest {
  holdId: string;
  idempotencyKey: string;
  generation: Generation;
  comment: string | null;
  vendorUsage: unknown;
}

const KEY_LENGTH_MAX = 100;
const PARAMS_JSON_LENGTH_MAX = 4_000;
/** One job run deletes at most this many batches of expired quotes (the next run goes on). */
const PURGE_BATCHES_PER_RUN_MAX = 50;

export class PricingService {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly config: Readonly<Config>,
    private readonly wallets: WalletsService,
    readonly cache: RateCardCache,
    private readonly ledger: LedgerService,
  ) {}

  private get db() {
    return this.database.db;
  }

  /**
   * Concurrent quotes are stored with one multi-row insert; an idle server inserts at once. A batch
   * that fails as a whole (a quote for an account that does not exist, stored while its wallet was
   * being read) is retried row by row, so only that quote fails.
   */
  private readonly quoteWrites = new CoalescingQueue<repo.QuoteRow, void>(async (_key, rows) => {
    try {
      await repo.insertQuotes(this.db, rows);
      return rows.map(() => undefined);
    } catch (error) {
      if (rows.length === 1) throw error;
      const results: (undefined | Error)[] = [];
      for (const row of rows) results.push(await repo.insertQuotes(this.db, [row]).then(() => undefined, (alone: unknown) => (alone instanceof Error ? alone : new Error(String(alone)))));
      return results;
    }
  });

  // ------------------------------------------------------------ rate cards

  async createDraft(name: string, basedOnVersion: number | null | undefined, empty: boolean): Promise<repo.RateCardRow> {
    if (!name.trim() || name.length > 200) throw badInput('name must be 1 to 200 characters', 'name');
    let card: StoredRateCard = { rates: [], requiredPairs: [] };
    if (!empty) {
      const base = basedOnVersion ? await this.cache.getVersion(basedOnVersion) : await this.cache.getCurrent();
      if (basedOnVersion && !base) throw notFound('rate card version');
      if (base) card = base.card;
    }
    const row: repo.RateCardRow = {
      id: newId(), version: null, status: 'DRAFT', name: name.trim(), content: card, createdAt: this.clock.now(), publishedAt: null,
    };
    await repo.insertRateCard(this.db, row);
    return row;
  }

  async setRates(draftId: string, rates: unknown, requiredPairs: RatePair[] | null | undefined): Promise<repo.RateCardRow> {
    const draft = await this.draft(draftId);
    if (!Array.isArray(rates)) throw badInput('rates must be a list of rates', 'rates');
    if (rates.length > RATES_MAX) throw badInput(`at most ${RATES_MAX} rates`, 'rates');
    const card: StoredRateCard = { rates: rates as RateDefinition[], requiredPairs: requiredPairs ?? readStored(draft.content).requiredPairs };
    await this.storeDraft(draft.id, card);
    return { ...draft, content: card };
  }

  async setRate(draftId: string, rate: unknown): Promise<repo.RateCardRow> {
    const draft = await this.draft(draftId);
    if (!rate || typeof rate !== 'object' || typeof (rate as RateDefinition).action !== 'string') throw badInput('rate must be an object with an action', 'rate');
    const r = rate as RateDefinition;
    const card = readStored(draft.content);
    const others = card.rates.filter((x) => !(x.action === r.action && (x.model ?? null) === (r.model ?? null)));
    if (others.length >= RATES_MAX) throw badInput(`at most ${RATES_MAX} rates`, 'rate');
    const next: StoredRateCard = { ...card, rates: [...others, r] };
    await this.storeDraft(draft.id, next);
    return { ...draft, content: next };
  }

  /** Writes a draft's content; refused when the draft was published since it was read (nothing is stored then). */
  private async storeDraft(draftId: string, content: StoredRateCard): Promise<void> {
    if (!(await repo.updateDraft(this.db, draftId, { content }))) throw draftPublishedMeanwhile();
  }

  /** Publishes a complete draft as the next version; refused with every problem listed otherwise. */
  async publish(draftId: string): Promise<repo.RateCardRow> {
    const draft = await this.draft(draftId);
    const card = readStored(draft.content);
    const problems = validateRateCard(pricingContent(card), card.requiredPairs);
    if (problems.length > 0) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, `the rate card cannot be published: ${problems.length} problem${problems.length > 1 ? 's' : ''}`, { field: 'rates', problems });
    }
    const published = await this.db.transaction((tx) => repo.publishDraft(tx, draft.id, this.clock.now()));
    if (!published) throw badInput('this draft was published meanwhile', 'draftId');
    this.cache.invalidate();
    await this.database.notify(RATE_CARD_CHANNEL, String(published.version));
    return published;
  }

  async rateCard(version: number | null | undefined): Promise<repo.RateCardRow | null> {
    if (version === null || version === undefined) return (await repo.currentVersion(this.db)) ?? null;
    return (await repo.findVersion(this.db, version)) ?? null;
  }

  async findDraft(id: string): Promise<repo.RateCardRow | null> {
    return isUuid(id) ? ((await repo.findRateCard(this.db, id)) ?? null) : null;
  }

  private async draft(id: string): Promise<repo.RateCardRow> {
    const row = await this.findDraft(id);
    if (!row) throw notFound('rate card draft');
    if (row.status !== 'DRAFT') throw badInput('a published version is immutable; create a new draft', 'draftId');
    return row;
  }

  // ------------------------------------------------------------ pricing

  private async requireCurrent(): Promise<CachedCard> {
    const current = await this.cache.getCurrent();
    if (!current) throw badInput('no rate card is published yet', 'generation');
    return current;
  }

  private price(card: CachedCard, generation: Generation, planTier: string | null, at: Date = this.clock.now()): PriceResult {
    checkGeneration(generation);
    try {
      return priceGeneration(pricingContent(card.card), generation, { at, planTier });
    } catch (error) {
      if (error instanceof PricingInputError) throw badInput(error.message, error.field);
      throw error;
    }
  }

  /**
   * Deletes quotes that expired longer ago than idempotency keys live (a replayed charge never
   * needs them), in batches of `batchSize`; returns how many went.
   */
  async purgeExpiredQuotes(batchSize = this.config.jobBatchSize): Promise<number> {
    const before = new Date(this.clock.now().getTime() - this.config.idempotencyKeyTtlSeconds * 1000);
    let purged = 0;
    for (let batch = 0; batch < PURGE_BATCHES_PER_RUN_MAX; batch += 1) {
      const deleted = await repo.deleteExpiredQuotes(this.db, before, batchSize);
      purged += deleted;
      if (deleted < batchSize) break;
    }
    return purged;
  }

  /**
   * Prices a generation for an account now, stores the quote and says whether the wallet can pay.
   * When the current card prices no plan tier differently (no rate has planTierMultipliers), the price
   * does not depend on the wallet: the quote is stored while the wallet is read (one round trip of
   * latency instead of two), else after the read, priced at the account's tier. Either way the same
   * row is stored, and an unknown account is NOT_FOUND before any pricing error, as before.
   */
  async quote(accountId: string, generation: Generation): Promise<QuoteView> {
    const reading = this.wallets.get(accountId); // one statement: wallet, plan tier, buckets
    let early: { card: CachedCard; result: PriceResult; quote: repo.QuoteRow; stored: Promise<void> } | null = null;
    let pricingError: Error | null = null;
    try {
      const card = await this.cache.getCurrent();
      if (card && !tierPriced(card)) {
        const result = this.price(card, generation, null);
        const quote = this.quoteRow(accountId, card, generation, result);
        const stored = this.quoteWrites.submit('quotes', quote);
        stored.catch(() => {}); // awaited below; until then its failure is not unhandled
        early = { card, result, quote, stored };
      }
    } catch (error) {
      pricingError = error instanceof Error ? error : new Error(String(error));
    }
    let wallet: Awaited<typeof reading>;
    try {
      wallet = await reading;
    } catch (error) {
      await early?.stored.catch(() => {});
      throw error;
    }
    if (!wallet) {
      await early?.stored.catch(() => {}); // its insert fails (no such account) or stores a quote nobody can use
      throw notFound('account');
    }
    if (pricingError) throw pricingError;
    let card: CachedCard, result: PriceResult, quote: repo.QuoteRow;
    if (early) {
      ({ card, result, quote } = early);
      await early.stored;
    } else {
      card = await this.requireCurrent();
      result = this.price(card, generation, wallet.planTier);
      quote = this.quoteRow(accountId, card, generation, result);
    }
    // Priced as a charge would pay it now (wallet.buckets are the live ones).
    const payment = planPayment(wallet, wallet.buckets, { action: generation.action, model: generation.model }, result.totalMillis, 'CHARGE');
    const refusal = (await this.ledger.gatingRefusal(payment)) ?? paymentRefusal(payment, result.totalMillis);
    if (!early) await this.quoteWrites.submit('quotes', quote);
    const sourceOf = new Map(wallet.buckets.map((b) => [b.id, b.source]));
    return {
      id: quote.id, accountId, creditsMillis: quote.creditsMillis, lineItems: quote.lineItems as QuoteView['lineItems'],
      affordable: payment.refusal === null, refusal: refusal && {
        code: refusal.code, message: refusal.message, remedy: String(refusal.clientExtensions.remedy),
        plansIncluding: (refusal.details.plansIncluding as string[] | undefined) ?? null,
      },
      payingBuckets: payment.allocations.map((a) => ({ bucketId: a.bucketId, source: sourceOf.get(a.bucketId)!, millis: a.millis })),
      availableMillis: payment.availableMillis,
      rateCardVersion: card.version, action: quote.action, model: quote.model, expiresAt: quote.expiresAt,
    };
  }

  private quoteRow(accountId: string, card: CachedCard, generation: Generation, result: PriceResult): repo.QuoteRow {
    const now = this.clock.now();
    return {
      id: newId(), accountId, rateCardVersion: card.version, action: generation.action, model: generation.model ?? null,
      params: generation.params ?? null, creditsMillis: result.totalMillis,
      lineItems: result.lineItems.map((i) => ({ label: i.label, millis: i.millis, kind: i.kind })),
      expiresAt: new Date(now.getTime() + this.config.quoteTtlSeconds * 1000), usedAt: null, usedBy: null, createdAt: now,
    };
  }

  // ------------------------------------------------------------ generation charges, holds and captures

  /** Charges a generation priced by the current rate card, or at most the locked price of a quote. */
  async chargeGeneration(actor: Actor, request: GenerationChargeRequest): Promise<TransactionRow> {
    const { input, hooks, operation, hashInput } = this.generationCharge(request);
    return this.ledger.charge(actor, input, hooks, operation, hashInput);
  }

  /** Many generation charges (chargeGenerationBatch): each priced and charged as chargeGeneration would, see LedgerService.chargeBatch. */
  async chargeGenerationBatch(actor: Actor, requests: readonly (GenerationChargeRequest | { refusal: AppError })[], atomic: boolean): Promise<BatchOutcome[]> {
    return this.ledger.chargeBatch(actor, requests.map((r) => ('refusal' in r ? r : this.generationCharge(r))), atomic);
  }

  /** A generation charge as the ledger takes it: priced inside its database transaction, the quote marked used after it posts. */
  private generationCharge(request: GenerationChargeRequest): BatchCharge & { input: ChargeRequest; hooks: ChargeHooks; operation: string; hashInput: unknown } {
    const { accountId, generation, quoteId, comment, vendorUsage } = request;
    const memberId = request.memberId ?? null;
    const fingerprint = request.fingerprint ? { fingerprint: request.fingerprint } : {};
    return {
      input: {
        accountId, amountMillis: 0, idempotencyKey: request.idempotencyKey, comment, vendorUsage, memberId, ...fingerprint,
        // Recorded on a refusal too (e.g. QUOTE_EXPIRED), where the pricing step returns no Priced to merge.
        quoteId,
      },
      hooks: {
        prepare: (tx) => this.prepare(tx, accountId, generation, quoteId, false),
        afterPost: async (tx, posted) => { if (posted.quoteId) await this.markQuoteUsed(tx, posted.quoteId, posted.id); },
        // Priced from the rate card, the charge only reads: it may share a database transaction. A quote's
        // use is written and may conflict with another charge of the same quote: it runs alone.
        coalesce: !quoteId,
      },
      operation: 'chargeGeneration',
      hashInput: { accountId, generation, quoteId, comment, vendorUsage, ...(memberId ? { memberId } : {}), ...fingerprint },
    };
  }

  /** Holds the price of a generation by the current rate card, or the locked price of a quote (which it uses). */
  async reserveGeneration(actor: Actor, request: GenerationHoldRequest): Promise<HoldRow> {
    const { generation, ...fields } = request;
    // The amount comes from the pricing step; a refused hold still records the quote.
    const hold = { ...fields, amountMillis: 0 };
    return this.ledger.reserve(actor, hold, {
      prepare: (tx) => this.prepare(tx, fields.accountId, generation, fields.quoteId, true),
      afterHold: async (tx, held) => { if (held.quoteId) await this.markQuoteUsed(tx, held.quoteId, held.id); },
    }, { ...hold, generation });
  }

  /** Captures a hold at the price of the actual usage (see priceCapture), capped at the hold. */
  async captureGeneration(actor: Actor, request: GenerationCaptureRequest): Promise<TransactionRow> {
    const { generation, ...fields } = request;
    const hold = await this.ledger.findHold(fields.holdId);
    if (!hold) throw new AppError(ErrorCode.HOLD_NOT_FOUND, 'no hold with this id');
    const priced = await this.priceCapture(hold, generation, await this.planTierOf(hold.accountId));
    return this.ledger.capture(actor, { ...fields, amountMillis: priced.amountMillis, pricing: priced.pricing }, { amountMillis: null, generation });
  }

  /**
   * The pricing step of chargeGeneration / reserveGeneration, run inside the ledger's transaction
   * (after the idempotency key is claimed, so a replay never re-prices). With a quote: its locked
   * price, or less when the generation given with it prices lower; never more.
   */
  private async prepare(tx: Tx, accountId: string, generation: Generation | null | undefined, quoteId: string | null | undefined, forHold: boolean): Promise<Priced | AppError> {
    if (quoteId) return this.prepareFromQuote(tx, accountId, generation, quoteId, forHold);
    if (!generation) throw badInput('give a generation or a quoteId', 'generation');
    // Reads go through `tx`: this runs inside the ledger's transaction (see RateCardCache.getCurrentIn),
    // after the wallet was opened (an unknown account was refused then).
    const card = await this.cache.getCurrentIn(tx);
    if (!card) throw badInput('no rate card is published yet', 'generation');
    const result = this.price(card, generation, tierPriced(card) ? await this.planTierIn(tx, accountId) : null);
    return {
      amountMillis: result.totalMillis, action: generation.action, model: generation.model ?? null, params: generation.params ?? null,
      pricing: record(card.version, result.lineItems, null, forHold ? generation.params : undefined),
    };
  }

  private async prepareFromQuote(tx: Tx, accountId: string, generation: Generation | null | undefined, quoteId: string, forHold: boolean): Promise<Priced | AppError> {
    const quote = isUuid(quoteId) ? await repo.findQuote(tx, quoteId, true) : undefined;
    if (!quote || quote.accountId !== accountId) throw notFound('quote');
    const base = { action: quote.action, model: quote.model, params: quote.params, quoteId: quote.id, amountMillis: quote.creditsMillis };
    if (quote.usedAt) return new AppError(ErrorCode.QUOTE_EXPIRED, 'this quote was already used; request a new one', { reason: 'ALREADY_USED', quoteId: quote.id });
    if (quote.expiresAt <= this.clock.now()) return new AppError(ErrorCode.QUOTE_EXPIRED, 'this quote expired; request a new one', { reason: 'EXPIRED', quoteId: quote.id, expiredAt: quote.expiresAt.toISOString() });
    const quoted = record(quote.rateCardVersion, quote.lineItems as PriceResult['lineItems'], quote.creditsMillis, forHold ? quote.params : undefined);
    if (!generation) return { ...base, pricing: quoted };
    if (generation.action !== quote.action || (generation.model ?? null) !== quote.model) {
      throw badInput('the generation differs from the quote (action/model)', 'generation');
    }
    const card = await this.cache.getVersionIn(tx, quote.rateCardVersion);
    if (!card) throw new Error(`quoted rate card version ${quote.rateCardVersion} is missing`);
    const actual = this.price(card, generation, tierPriced(card) ? await this.planTierIn(tx, accountId) : null);
    if (actual.totalMillis >= quote.creditsMillis) return { ...base, pricing: quoted };
    return { ...base, params: generation.params ?? null, amountMillis: actual.totalMillis, pricing: record(quote.rateCardVersion, actual.lineItems, quote.creditsMillis, forHold ? generation.params : undefined) };
  }

  /** Marks a quote used by the charge or hold that paid it (same transaction). */
  private async markQuoteUsed(tx: Tx, quoteId: string, usedBy: string): Promise<void> {
    if (!(await repo.markQuoteUsed(tx, quoteId, usedBy, this.clock.now()))) {
      throw new AppError(ErrorCode.QUOTE_EXPIRED, 'this quote was already used; request a new one', { reason: 'ALREADY_USED', quoteId });
    }
  }

  /**
   * The amount to capture for a hold given the actual usage: priced by the hold's card at the time
   * the hold was made (the time window the hold itself was priced in), capped at the hold. Pricing
   * at the hold's time also keeps a replayed capture identical to the first one: this runs before
   * the idempotency key is looked up, so a price that moved with the clock would make the replay
   * look like a different request (IDEMPOTENCY_KEY_REUSED).
   */
  private async priceCapture(hold: HoldRow, generation: Generation, accountPlanTier: string | null): Promise<{ amountMillis: Millis; pricing: PricingRecord }> {
    const held = hold.pricing as PricingRecord | null;
    if (!held) throw badInput('this hold was not priced from a generation; capture an amount instead', 'generation');
    if (generation.action !== hold.action || (generation.model ?? null) !== hold.model) throw badInput('the generation differs from the hold (action/model)', 'generation');
    const card = await this.cache.getVersion(held.rateCardVersion);
    if (!card) throw new Error(`rate card version ${held.rateCardVersion} is missing`);
    const actual = this.price(card, generation, accountPlanTier, hold.createdAt);
    const amountMillis = Math.min(actual.totalMillis, hold.amountMillis);
    const items: PricingRecord['lineItems'] = actual.lineItems.map((i) => ({ label: i.label, credits: formatCredits(i.millis), kind: i.kind }));
    if (amountMillis < actual.totalMillis) items.push({ label: 'capped at the hold', credits: formatCredits(amountMillis - actual.totalMillis), kind: 'CAP' });
    return { amountMillis, pricing: { rateCardVersion: held.rateCardVersion, lineItems: items, quotedCredits: held.quotedCredits ?? null } };
  }

  /**
   * An account's plan tier inside a charge's database transaction, read once per transaction: a batch
   * of generation charges on one wallet asks once (the wallet is locked, so its tier cannot change meanwhile).
   */
  private async planTierIn(tx: Tx, accountId: string): Promise<string | null> {
    let tiers = this.tiersByTx.get(tx);
    if (!tiers) this.tiersByTx.set(tx, (tiers = new Map<string, string | null>()));
    if (!tiers.has(accountId)) tiers.set(accountId, (await repo.findPlanTier(tx, accountId))?.planTier ?? null);
    return tiers.get(accountId)!;
  }

  private readonly tiersByTx = new WeakMap<Tx, Map<string, string | null>>();

  private async planTierOf(accountId: string): Promise<string | null> {
    return (await repo.findPlanTier(this.db, accountId))?.planTier ?? null;
  }
}

/** Whether a card prices some plan tier differently (then a quote needs the account's tier before pricing). Per card, computed once. */
const tierPricedCards = new WeakMap<CachedCard, boolean>();
function tierPriced(card: CachedCard): boolean {
  let priced = tierPricedCards.get(card);
  if (priced === undefined) {
    priced = card.card.rates.some((rate) => rate.planTierMultipliers !== undefined && Object.keys(rate.planTierMultipliers).length > 0);
    tierPricedCards.set(card, priced);
  }
  return priced;
}

function draftPublishedMeanwhile(): AppError {
  return badInput('this draft was published meanwhile; its rates were not changed (create a new draft)', 'draftId');
}

function record(version: number, items: { label: string; millis: number; kind: string }[], quotedMillis: Millis | null, params: unknown): PricingRecord {
  return {
    rateCardVersion: version,
    lineItems: items.map((i) => ({ label: i.label, credits: formatCredits(i.millis), kind: i.kind })),
    quotedCredits: quotedMillis === null ? null : formatCredits(quotedMillis),
    ...(params !== undefined ? { params } : {}),
  };
}

/** Bounds on what a client may send as a generation (the engine checks the meaning). */
function checkGeneration(generation: Generation): void {
  if (!generation.action || generation.action.length > KEY_LENGTH_MAX) throw badInput(`generation.action must be 1 to ${KEY_LENGTH_MAX} characters`, 'generation.action');
  if (generation.model !== null && generation.model !== undefined && (!generation.model || generation.model.length > KEY_LENGTH_MAX)) {
    throw badInput(`generation.model must be 1 to ${KEY_LENGTH_MAX} characters`, 'generation.model');
  }
  const params = generation.params;
  if (params !== null && params !== undefined) {
    if (typeof params !== 'object' || Array.isArray(params)) throw badInput('generation.params must be an object', 'generation.params');
    if (JSON.stringify(params).length > PARAMS_JSON_LENGTH_MAX) throw badInput(`generation.params must be at most ${PARAMS_JSON_LENGTH_MAX} characters of JSON`, 'generation.params');
  }
}
