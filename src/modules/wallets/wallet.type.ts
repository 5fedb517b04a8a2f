import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { BucketSource } from '../ledger/ledger.type';

@ObjectType({ description: 'A credit grant. Buckets pay in burn-down order.' })
export class Bucket {
  @Field(() => ID)
  id: string;

  @Field(() => BucketSource)
  source: BucketSource;

  @Field(() => CreditsScalar, { name: 'amount' })
  amountMillis: number;

  @Field(() => CreditsScalar, { name: 'remaining' })
  remainingMillis: number;

  @Field(() => CreditsScalar, { name: 'held', description: 'Part of remaining secured by active holds.' })
  heldActiveMillis: number;

  @Field(() => Int)
  priority: number;

  @Field(() => GraphQLDateTime)
  effectiveAt: Date;

  @Field(() => GraphQLDateTime, { nullable: true })
  expiresAt: Date | null;

  @Field(() => [String], { nullable: true })
  applicableActions: string[] | null;

  @Field(() => [String], { nullable: true })
  applicableModels: string[] | null;

  @Field(() => String, { nullable: true })
  costPerCredit: string | null;

  @Field(() => String, { nullable: true })
  currency: string | null;
}

@ObjectType()
export class Wallet {
  @Field(() => ID)
  accountId: string;

  @Field(() => CreditsScalar, { name: 'balance', description: 'Remaining credits of live buckets minus debt.' })
  balanceMillis: number;

  @Field(() => CreditsScalar, { name: 'available', description: 'balance − held + overdraft limit.' })
  availableMillis: number;

  @Field(() => CreditsScalar, { name: 'held' })
  heldMillis: number;

  @Field(() => CreditsScalar, { name: 'debt' })
  debtMillis: number;

  @Field(() => CreditsScalar, { name: 'overdraftLimit' })
  overdraftLimitMillis: number;

  @Field()
  frozen: boolean;

  @Field(() => ID, { nullable: true, description: 'The open review holding the wallet (charges and holds are refused WALLET_FROZEN, reason REVIEW), or null.' })
  reviewId: string | null;

  @Field(() => Int)
  sequence: number;

  @Field(() => [Bucket], { description: 'Live buckets with credits left, in burn-down order.' })
  buckets: Bucket[];

  @Field(() => [CreditsScalar], { name: 'lowCreditThresholds', description: 'Absolute low-credit levels (the plan\'s unless set on the wallet).' })
  lowCreditThresholdsMillis: number[];

  @Field(() => [Int], { description: 'Levels in percent of the plan allowance (the plan\'s unless set on the wallet).' })
  lowCreditThresholdPercents: number[];

  @Field(() => [CreditsScalar], { name: 'lowCreditLevels', description: 'Every level in effect, highest first: the absolute ones and the percents of the current allowance. DEPLETED (0) is always on.' })
  lowCreditLevelsMillis: number[];
}

@InputType()
export class UpdateWalletInput {
  @Field(() => ID)
  accountId: string;

  @Field(() => CreditsScalar, { nullable: true })
  overdraftLimit?: number | null;

  @Field(() => Boolean, { nullable: true })
  frozen?: boolean | null;

  @Field(() => [CreditsScalar], { nullable: true, description: 'Positive, at most 10.' })
  lowCreditThresholds?: number[] | null;

  @Field(() => [Int], { nullable: true, description: 'Percent of the plan allowance, 1–100, at most 10.' })
  lowCreditThresholdPercents?: number[] | null;
}
