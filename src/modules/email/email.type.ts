/** GraphQL types of the email outbox (admin). */
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { PageInfo } from '../../graphql/connection';

export enum EmailStatus {
  PENDING = 'PENDING', SENT = 'SENT', FAILED = 'FAILED', NO_RECIPIENT = 'NO_RECIPIENT',
}
registerEnumType(EmailStatus, {
  name: 'EmailStatus',
  description: 'PENDING: waiting to be sent or retried (always, without SMTP_URL); FAILED: given up after EMAIL_ATTEMPTS_MAX attempts; NO_RECIPIENT: the account has no email address (never sent).',
});

@ObjectType({ description: 'An email in the outbox (alert emails).' })
export class OutboxEmail {
  @Field(() => ID)
  id: string;

  @Field(() => ID, { nullable: true })
  accountId: string | null;

  @Field(() => String, { name: 'to', nullable: true, description: 'The account\'s email address when the email was written; null: NO_RECIPIENT.' })
  toAddress: string | null;

  @Field()
  subject: string;

  @Field(() => EmailStatus)
  status: EmailStatus;

  @Field(() => Int, { description: 'Send attempts started (one cut off by a stopping or crashing server counts too).' })
  attempts: number;

  @Field(() => String, { nullable: true })
  lastError: string | null;

  @Field(() => GraphQLDateTime, { description: 'PENDING: not sent before this (a retry\'s backoff, or the lease of an attempt in flight).' })
  nextAttemptAt: Date;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  @Field(() => GraphQLDateTime, { nullable: true })
  sentAt: Date | null;

  @Field({ description: 'The plain-text part.' })
  textBody: string;
}

@ObjectType()
export class OutboxEmailEdge {
  @Field()
  cursor: string;

  @Field(() => OutboxEmail)
  node: OutboxEmail;
}

@ObjectType()
export class EmailOutboxConnection {
  @Field(() => [OutboxEmailEdge])
  edges: OutboxEmailEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}
