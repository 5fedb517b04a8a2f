/** GraphQL types of pricing: rate cards, generations, quotes. */
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';

@InputType({ description: 'An AI action to price: action key, optional model, and its parameters.' })
export class GenerationInput {
  @Field({ description: 'e.g. image.generate, text.generate, image.erase, audio.tts, video.generate' })
  action: string;

  @Field(() => String, { nullable: true, description: 'e.g. sdxl, dall-e-3, gpt-4o' })
  model?: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'count, resolution, quality, inputTokens, outputTokens, seconds, megabytes, megapixels | width+height, steps, …' })
  params?: Record<string, unknown> | null;
}

@ObjectType()
export class QuoteLineItem {
  @Field()
  label: string;

  @Field(() => CreditsScalar, { name: 'credits' })
  millis: number;

  @Field({ description: 'BASE, RESOLUTION, MODIFIER, TIER, BATCH_DISCOUNT, PLAN_MULTIPLIER, TIME_WINDOW or MINIMUM.' })
  kind: string;
}

@ObjectType({ description: 'A bucket that would pay, in burn-down order.' })
export class PayingBucket {
  @Field(() => ID)
  bucketId: string;

  @Field()
  source: string;

  @Field(() => CreditsScalar, { name: 'credits' })
  millis: number;
}

@ObjectType({ description: 'The refusal a charge of this quote would get now, as the error would carry it.' })
export class QuoteRefusal {
  @Field()
  code: string;

  @Field()
  message: string;

  @Field({ description: 'What to do about it (for MODEL_NOT_IN_PLAN: the plans that include the model).' })
  remedy: string;

  @Field(() => [String], { nullable: true, description: 'MODEL_NOT_IN_PLAN: codes of the active plans that include the model or action.' })
  plansIncluding: string[] | null;
}

@ObjectType({ description: 'A price locked until expiresAt; charge or reserve with its id to pay at most this.' })
export class Quote {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => CreditsScalar, { name: 'credits' })
  creditsMillis: number;

  @Field(() => [QuoteLineItem])
  lineItems: QuoteLineItem[];

  @Field({ description: 'Whether the wallet could pay it now (buckets that apply + overdraft, not frozen, allowed by the plan).' })
  affordable: boolean;

  @Field(() => QuoteRefusal, { nullable: true, description: 'Why the wallet could not pay it now: WALLET_FROZEN, MODEL_NOT_IN_PLAN or INSUFFICIENT_CREDITS; null when affordable.' })
  refusal: QuoteRefusal | null;

  @Field(() => [PayingBucket], { description: 'The buckets that would pay, by the burn-down rule.' })
  payingBuckets: PayingBucket[];

  @Field(() => CreditsScalar, { name: 'available', description: 'What the wallet can spend on this action now.' })
  availableMillis: number;

  @Field(() => Int)
  rateCardVersion: number;

  @Field()
  action: string;

  @Field(() => String, { nullable: true })
  model: string | null;

  @Field(() => GraphQLDateTime)
  expiresAt: Date;
}

@ObjectType({ description: 'A rate card: a draft (version null) or an immutable published version.' })
export class RateCard {
  @Field(() => ID)
  id: string;

  @Field(() => Int, { nullable: true })
  version: number | null;

  @Field({ description: 'DRAFT or PUBLISHED.' })
  status: string;

  @Field()
  name: string;

  @Field(() => GraphQLJSON, { description: 'The rates: [{ action, model, components, resolutions, modifiers, minimumCredits, batchDiscounts, planTierMultipliers, timeZone, timeWindows }].' })
  rates: unknown;

  @Field(() => GraphQLJSON, { description: 'Action × model pairs this card must price to be published.' })
  requiredPairs: unknown;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  @Field(() => GraphQLDateTime, { nullable: true })
  publishedAt: Date | null;
}

@InputType()
export class RatePairInput {
  @Field()
  action: string;

  @Field(() => String, { nullable: true })
  model?: string | null;
}

@InputType()
export class CreateRateCardDraftInput {
  @Field()
  name: string;

  @Field(() => Int, { nullable: true, description: 'Start from this published version (default: the current one, if any).' })
  basedOnVersion?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Start empty instead of from the current version.' })
  empty?: boolean | null;
}

@InputType()
export class SetRatesInput {
  @Field(() => ID)
  draftId: string;

  @Field(() => GraphQLJSON, { description: 'The full list of rates (replaces the draft\'s rates).' })
  rates: unknown;

  @Field(() => [RatePairInput], { nullable: true, description: 'Action × model pairs that must have a price.' })
  requiredPairs?: RatePairInput[] | null;
}

@InputType()
export class SetRateInput {
  @Field(() => ID)
  draftId: string;

  @Field(() => GraphQLJSON, { description: 'One rate; replaces the draft\'s rate for the same action × model, or adds it.' })
  rate: unknown;
}

@InputType()
export class ChargeGenerationInput {
  @Field(() => ID)
  accountId: string;

  @Field(() => GenerationInput, { nullable: true, description: 'Priced by the current rate card (or, with quoteId, the quote\'s card, capped at the quote).' })
  generation?: GenerationInput | null;

  @Field(() => ID, { nullable: true, description: 'Pay the locked price of this quote (at most once, before it expires).' })
  quoteId?: string | null;

  @Field()
  idempotencyKey: string;

  @Field(() => String, { nullable: true })
  comment?: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: "The vendor's usage: { vendor, requestId, cost, currency, units }." })
  vendorUsage?: unknown;

  @Field(() => ID, { nullable: true, description: 'A TEAM wallet\'s member this use is for: counted against their budget (BUDGET_EXCEEDED beyond it).' })
  memberId?: string | null;
  @Field(() => String, { nullable: true, description: 'The generation\'s fingerprint (at most 128 characters): identical ones repeated too often put the wallet on hold for review.' })
  fingerprint?: string | null;
}

@InputType()
export class ChargeGenerationBatchInput {
  @Field(() => [ChargeGenerationInput], { description: 'Up to CHARGE_BATCH_ITEMS_MAX (default 1,000) generation charges, each with its own idempotency key.' })
  charges: ChargeGenerationInput[];

  @Field(() => Boolean, { nullable: true, defaultValue: false, description: 'true: all charges succeed or none is written (the first failure aborts the others as BATCH_ABORTED).' })
  atomic?: boolean | null;
}
