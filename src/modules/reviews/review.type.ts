/** GraphQL types of review holds. */
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';

export enum ReviewStatus { OPEN = 'OPEN', APPROVED = 'APPROVED', REJECTED = 'REJECTED' }
registerEnumType(ReviewStatus, { name: 'ReviewStatus', description: 'OPEN: the wallet is on hold; APPROVED: charges resumed; REJECTED: the wallet stays frozen.' });

export enum ReviewRule { VELOCITY = 'VELOCITY', FINGERPRINT = 'FINGERPRINT' }
registerEnumType(ReviewRule, { name: 'ReviewRule', description: 'VELOCITY: credits this hour far above the baseline; FINGERPRINT: the same generation repeated.' });

@ObjectType({ description: 'A wallet put on hold by a velocity or fingerprint rule, and the admin\'s decision.' })
export class Review {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => ReviewStatus)
  status: ReviewStatus;

  @Field(() => ReviewRule)
  rule: ReviewRule;

  @Field(() => GraphQLJSON, { description: 'The numbers that triggered it: VELOCITY observedHourCredits, baselinePerHourCredits, multiplier, floorCredits; FINGERPRINT fingerprint, repeats, repeatsLimit, windowMinutes; and the remedy.' })
  details: unknown;

  @Field(() => ID, { nullable: true, description: 'The refused attempt (a FAILED ledger transaction) that opened it.' })
  transactionId: string | null;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  @Field(() => GraphQLDateTime, { nullable: true })
  resolvedAt: Date | null;

  @Field(() => String, { nullable: true, description: 'Who decided ("key:<id>").' })
  resolvedBy: string | null;

  @Field(() => String, { nullable: true })
  comment: string | null;
}

@InputType()
export class ResolveReviewInput {
  @Field(() => ID)
  id: string;

  @Field({ description: 'true: charges resume (the hour counter and fingerprints start over); false: the wallet stays frozen.' })
  approve: boolean;

  @Field(() => String, { nullable: true, description: 'Required, at most 1000 characters: why.' })
  comment?: string | null;
}
