import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { PageInfo } from '../../graphql/connection';

export enum AccountKind { USER = 'USER', TEAM = 'TEAM' }
registerEnumType(AccountKind, { name: 'AccountKind' });

@ObjectType()
export class Account {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  externalId: string | null;

  @Field()
  name: string;

  @Field(() => AccountKind)
  kind: AccountKind;

  @Field(() => String, { nullable: true, description: 'The account\'s own tier for rate-card multipliers, used while it has no plan (a subscribed plan\'s tier replaces it).' })
  planTier: string | null;

  @Field(() => String, { nullable: true, description: 'Where alert emails go (none: they stay in the outbox, marked NO_RECIPIENT).' })
  email: string | null;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  // wallet: resolved by AccountsResolver
}

@InputType()
export class CreateAccountInput {
  @Field()
  name: string;

  @Field(() => AccountKind, { defaultValue: AccountKind.USER })
  kind: AccountKind;

  @Field(() => String, { nullable: true, description: 'Your own id for this account; unique.' })
  externalId?: string | null;

  @Field(() => String, { nullable: true, description: 'Plan tier for rate-card multipliers.' })
  planTier?: string | null;

  @Field(() => CreditsScalar, { nullable: true, description: 'How far below zero charges may take the balance (default: the plan\'s, else 0). Given here, it is the wallet\'s own and wins over any plan\'s.' })
  overdraftLimit?: number | null;

  @Field(() => String, { nullable: true, description: 'Where alert emails go.' })
  email?: string | null;

  @Field(() => ID, { nullable: true, description: 'Subscribes the new account to this plan (by id) at once.' })
  planId?: string | null;

  @Field(() => String, { nullable: true, description: 'Subscribes the new account to this plan (by code) at once.' })
  planCode?: string | null;
}

@InputType()
export class UpdateAccountInput {
  @Field(() => ID)
  accountId: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'An empty string removes it.' })
  email?: string | null;
}

@ObjectType()
export class AccountEdge {
  @Field()
  cursor: string;

  @Field(() => Account)
  node: Account;
}

@ObjectType()
export class AccountConnection {
  @Field(() => [AccountEdge])
  edges: AccountEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}
