/** GraphQL types of teams (names binding per API.md: TeamMember, addTeamMember, updateTeamMember, removeTeamMember). */
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';

@ObjectType({ description: 'A user account spending from a TEAM account\'s pooled wallet, within its budget per period (README, Teams and member budgets).' })
export class TeamMember {
  @Field(() => ID, { description: 'The member\'s own (USER) account.' })
  accountId: string;

  @Field(() => ID, { description: 'The TEAM account.' })
  teamId: string;

  @Field(() => String, { description: 'OWNER, ADMIN or MEMBER.' })
  role: string;

  @Field(() => CreditsScalar, { name: 'budget', nullable: true, description: 'Credits the member may use per period; null: no budget.' })
  budgetMillis: number | null;

  @Field(() => CreditsScalar, { name: 'budgetUsed', description: 'Used in the current period (charges and captures less refunds of this period).' })
  budgetUsedMillis: number;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'When the current period ends and budgetUsed starts again from 0.' })
  budgetResetsAt: Date | null;

  @Field(() => GraphQLDateTime)
  createdAt: Date;
}

@InputType()
export class AddTeamMemberInput {
  @Field(() => ID, { description: 'A TEAM account.' })
  teamId: string;

  @Field(() => ID, { description: 'A USER account, member of no team yet.' })
  accountId: string;

  @Field(() => String, { defaultValue: 'MEMBER', description: 'OWNER, ADMIN or MEMBER.' })
  role: string;

  @Field(() => CreditsScalar, { nullable: true, description: 'Credits per period (≥ 0); null or absent: no budget.' })
  budget?: number | null;
}

@InputType()
export class UpdateTeamMemberInput {
  @Field(() => ID)
  teamId: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => String, { nullable: true, description: 'Absent: unchanged.' })
  role?: string | null;

  @Field(() => CreditsScalar, { nullable: true, description: 'Absent: unchanged; null: no budget; else credits per period (≥ 0).' })
  budget?: number | null;
}

@InputType()
export class RemoveTeamMemberInput {
  @Field(() => ID)
  teamId: string;

  @Field(() => ID)
  accountId: string;
}
