import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { actorOf, assertAdmin, requireViewer } from '../../auth/viewer';
import { access } from '../../auth/access';
import { AppError, badInput, notFound } from '../../shared/errors';
import { boundedText, checkedFingerprint, isUuid } from '../../shared/validate';
import { ChargeBatchResult, LedgerTransaction, batchAccess, batchResult, checkedMemberId, checkedVendorUsage, type TransactionRow } from '../ledger';
import { readStored } from './rate-card.content';
import type { RateCardRow } from './pricing.repo';
import { ChargeGenerationBatchInput, ChargeGenerationInput, CreateRateCardDraftInput, GenerationInput, Quote, RateCard, SetRateInput, SetRatesInput } from './pricing.type';
import type { GenerationChargeRequest, QuoteView } from './pricing.service';

function view(row: RateCardRow): RateCard {
  const card = readStored(row.content);
  return { ...row, rates: card.rates, requiredPairs: card.requiredPairs };
}

@Resolver()
export class PricingResolver {
  @Query(() => RateCard, { nullable: true, description: 'A published version; without version, the current one.' })
  async rateCard(@Ctx() ctx: Context, @Arg('version', () => Int, { nullable: true }) version?: number | null): Promise<RateCard | null> {
    requireViewer(ctx.viewer); // prices are visible to every caller, user tokens included
    const row = await ctx.services.pricing.rateCard(version);
    return row ? view(row) : null;
  }

  @Query(() => RateCard, { nullable: true, description: 'Admin: a draft (or any card) by id.' })
  async rateCardDraft(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<RateCard | null> {
    assertAdmin(ctx.viewer);
    const row = await ctx.services.pricing.findDraft(id);
    return row ? view(row) : null;
  }

  @Mutation(() => RateCard, { description: 'Admin: a new draft, copied from the current (or a given) version unless empty.' })
  async createRateCardDraft(@Ctx() ctx: Context, @Arg('input', () => CreateRateCardDraftInput) input: CreateRateCardDraftInput): Promise<RateCard> {
    assertAdmin(ctx.viewer);
    return view(await ctx.services.pricing.createDraft(input.name, input.basedOnVersion, input.empty ?? false));
  }

  @Mutation(() => RateCard, { description: "Admin: replaces a draft's rates (and the pairs it must price)." })
  async setRateCardRates(@Ctx() ctx: Context, @Arg('input', () => SetRatesInput) input: SetRatesInput): Promise<RateCard> {
    assertAdmin(ctx.viewer);
    return view(await ctx.services.pricing.setRates(input.draftId, input.rates, input.requiredPairs));
  }

  @Mutation(() => RateCard, { description: 'Admin: adds or replaces one rate (by action × model) in a draft.' })
  async setRateCardRate(@Ctx() ctx: Context, @Arg('input', () => SetRateInput) input: SetRateInput): Promise<RateCard> {
    assertAdmin(ctx.viewer);
    return view(await ctx.services.pricing.setRate(input.draftId, input.rate));
  }

  @Mutation(() => RateCard, { description: 'Admin: publishes a complete draft as the next immutable version; refused with every problem listed.' })
  async publishRateCard(@Ctx() ctx: Context, @Arg('draftId', () => ID) draftId: string): Promise<RateCard> {
    assertAdmin(ctx.viewer);
    return view(await ctx.services.pricing.publish(draftId));
  }

  @Query(() => Quote, { description: 'Prices a generation for an account and locks the price for a few minutes.' })
  async quote(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID) accountId: string,
    @Arg('generation', () => GenerationInput) generation: GenerationInput,
  ): Promise<QuoteView> {
    await access.account(ctx, accountId, 'read');
    const quotesMax = ctx.services.config.quotesPerRequestMax;
    if (++ctx.quotesRun > quotesMax) throw badInput(`at most ${quotesMax} quotes per request`, 'quote');
    if (!isUuid(accountId)) throw notFound('account');
    return ctx.services.pricing.quote(accountId, generation);
  }

  @Mutation(() => LedgerTransaction, { description: 'Charges a generation priced by the rate card, or at most the locked price of a quote.' })
  async chargeGeneration(@Ctx() ctx: Context, @Arg('input', () => ChargeGenerationInput) input: ChargeGenerationInput): Promise<TransactionRow> {
    const viewer = await access.account(ctx, input.accountId, 'move');
    if (input.quoteId) await access.owned(ctx, 'quote', input.quoteId, 'move'); // partner keys: a quote of their own accounts only
    return ctx.services.pricing.chargeGeneration(actorOf(viewer), generationChargeOf(input));
  }

  @Mutation(() => ChargeBatchResult, { description: 'Many generation charges in one request, each priced and charged as chargeGeneration (results in input order); atomic: all or none.' })
  async chargeGenerationBatch(@Ctx() ctx: Context, @Arg('input', () => ChargeGenerationBatchInput) input: ChargeGenerationBatchInput): Promise<ChargeBatchResult> {
    const { viewer, refused } = await batchAccess(ctx, input.charges);
    const requests = await Promise.all(input.charges.map(async (item): Promise<GenerationChargeRequest | { refusal: AppError }> => {
      const refusal = refused.get(item.accountId);
      if (refusal) return { refusal };
      try {
        if (item.quoteId) await access.owned(ctx, 'quote', item.quoteId, 'move');
        return generationChargeOf(item);
      } catch (error) {
        if (error instanceof AppError) return { refusal: error };
        throw error;
      }
    }));
    return batchResult(await ctx.services.pricing.chargeGenerationBatch(actorOf(viewer), requests, input.atomic ?? false));
  }
}

/** A generation charge's input as the pricing service takes it; throws the first thing wrong with it. */
function generationChargeOf(input: ChargeGenerationInput): GenerationChargeRequest {
  if (!isUuid(input.accountId)) throw notFound('account');
  if (!input.generation && !input.quoteId) throw badInput('give a generation or a quoteId', 'generation');
  return {
    accountId: input.accountId, idempotencyKey: input.idempotencyKey, generation: input.generation ?? null, quoteId: input.quoteId ?? null,
    comment: boundedText(input.comment, 'comment'), vendorUsage: checkedVendorUsage(input.vendorUsage),
    memberId: checkedMemberId(input.memberId),
    ...(input.fingerprint != null ? { fingerprint: checkedFingerprint(input.fingerprint)! } : {}),
  };
}
