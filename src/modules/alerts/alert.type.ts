/** GraphQL types of alerts (names binding per API.md). */
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { PageInfo } from '../../graphql/connection';

export enum AlertKind {
  LOW_BALANCE = 'LOW_BALANCE', DEPLETED = 'DEPLETED', RUN_OUT_SOON = 'RUN_OUT_SOON', CREDITS_EXPIRING = 'CREDITS_EXPIRING',
  AUTO_TOP_UP_FAILED = 'AUTO_TOP_UP_FAILED', PAYMENT_FAILED = 'PAYMENT_FAILED', PLAN_DOWNGRADED = 'PLAN_DOWNGRADED',
  MEMBER_BUDGET = 'MEMBER_BUDGET',
}
registerEnumType(AlertKind, {
  name: 'AlertKind',
  description: 'PAYMENT_FAILED: a plan payment failed (the subscription is PAST_DUE); PLAN_DOWNGRADED: the grace period ended unpaid.',
});

@ObjectType()
export class LowCreditAlert {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => AlertKind)
  kind: AlertKind;

  @Field(() => CreditsScalar, { name: 'threshold', nullable: true })
  thresholdMillis: number | null;

  @Field(() => CreditsScalar, { name: 'available', description: 'The wallet\'s available credits when the alert was raised.' })
  availableMillis: number;

  @Field()
  message: string;

  @Field(() => ID, { nullable: true, description: 'The ledger transaction that crossed the level (LOW_BALANCE, DEPLETED).' })
  transactionId: string | null;

  @Field(() => ID, { nullable: true, description: 'MEMBER_BUDGET: the team member whose budget reached the level (threshold: that share of the budget).' })
  memberId: string | null;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  @Field(() => GraphQLDateTime, { nullable: true })
  readAt: Date | null;
}

@ObjectType()
export class LowCreditAlertEdge {
  @Field()
  cursor: string;

  @Field(() => LowCreditAlert)
  node: LowCreditAlert;
}

@ObjectType()
export class LowCreditAlertConnection {
  @Field(() => [LowCreditAlertEdge])
  edges: LowCreditAlertEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}
