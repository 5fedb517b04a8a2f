/** GraphQL types of usage and forecasts (WalletForecast and its first four fields are binding per API.md). */
import { Field, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';

@ObjectType({ description: 'Where the wallet is heading, from its daily usage (README, Forecasts).' })
export class WalletForecast {
  @Field(() => CreditsScalar, { name: 'burnRatePerDay', description: 'Net credits used per day over the trailing window (consumed − refunded).' })
  burnRatePerDayMillis: number;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'When available reaches 0 at that rate; null when nothing burns (or beyond 100 years); now when already out.' })
  runOutAt: Date | null;

  @Field(() => CreditsScalar, { name: 'expiringSoon', description: 'Free credits of live buckets that expire within expiringSoonDays.' })
  expiringSoonMillis: number;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'The earliest expiry of a live bucket with free credits.' })
  nextExpiryAt: Date | null;

  @Field(() => Int, { description: 'The trailing window: this many whole UTC days before today, plus today so far.' })
  windowDays: number;

  @Field(() => Int, { description: 'The horizon of expiringSoon, in days.' })
  expiringSoonDays: number;
}

@ObjectType({ description: 'One UTC day of an account\'s usage for one action and model, every kind of credits together.' })
export class UsageDay {
  @Field({ description: 'YYYY-MM-DD (UTC).' })
  day: string;

  @Field({ description: 'The charge\'s action ("" when it had none).' })
  action: string;

  @Field(() => String, { nullable: true })
  model: string | null;

  @Field(() => CreditsScalar, { name: 'credits', description: 'Consumed by charges and captures.' })
  creditsMillis: number;

  @Field(() => CreditsScalar, { name: 'refunded', description: 'Given back by refunds and reversals of charges.' })
  refundedMillis: number;

  @Field(() => Int, { description: 'Charges and captures.' })
  count: number;
}
