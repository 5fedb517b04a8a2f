/** GraphQL types of the operator's admin alerts (a flagged vendor reconciliation, ...). */
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { PageInfo } from '../../graphql/connection';

export enum AdminAlertKind { VENDOR_VARIANCE = 'VENDOR_VARIANCE', REVIEW_HOLD = 'REVIEW_HOLD' }
registerEnumType(AdminAlertKind, { name: 'AdminAlertKind', description: 'VENDOR_VARIANCE: a vendor reconciliation has flagged rows; REVIEW_HOLD: a wallet was put on hold for review (see reviews).' });

@ObjectType({ description: 'An alert for the operator\'s admins (not an account\'s).' })
export class AdminAlert {
  @Field(() => ID)
  id: string;

  @Field(() => AdminAlertKind)
  kind: AdminAlertKind;

  @Field()
  message: string;

  @Field(() => ID, { nullable: true, description: 'What it is about: the reconciliation id of a VENDOR_VARIANCE.' })
  subjectId: string | null;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  @Field(() => GraphQLDateTime, { nullable: true })
  readAt: Date | null;
}

@ObjectType()
export class AdminAlertEdge {
  @Field()
  cursor: string;

  @Field(() => AdminAlert)
  node: AdminAlert;
}

@ObjectType()
export class AdminAlertConnection {
  @Field(() => [AdminAlertEdge])
  edges: AdminAlertEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}
