/** GraphQL types of reports (names binding per API.md). */
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';

@ObjectType()
export class PlatformTotals {
  @Field(() => CreditsScalar, { name: 'consumed', description: 'Consumed by charges and captures.' })
  consumedMillis: number;

  @Field(() => CreditsScalar, { name: 'refunded', description: 'Given back by refunds and reversals of charges.' })
  refundedMillis: number;

  @Field(() => Int, { description: 'Charges and captures.' })
  charges: number;

  @Field(() => Int, { description: 'Accounts with any usage in the range.' })
  activeAccounts: number;
}

@ObjectType()
export class TopConsumer {
  @Field(() => ID)
  accountId: string;

  @Field()
  name: string;

  @Field(() => CreditsScalar, { name: 'consumed' })
  consumedMillis: number;
}

@ObjectType({ description: 'Platform activity over whole UTC days, from the daily usage aggregates.' })
export class PlatformReport {
  @Field(() => GraphQLDateTime, { description: 'The start of the first UTC day covered.' })
  from: Date;

  @Field(() => GraphQLDateTime, { description: 'The end of the last UTC day covered (exclusive).' })
  to: Date;

  @Field(() => PlatformTotals)
  totals: PlatformTotals;

  @Field(() => [TopConsumer], { description: 'The 10 accounts that consumed most, most first.' })
  topConsumers: TopConsumer[];
}
