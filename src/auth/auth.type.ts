import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';

export enum ApiKeyRole { ADMIN = 'ADMIN', SERVICE = 'SERVICE', READONLY = 'READONLY' }
registerEnumType(ApiKeyRole, { name: 'ApiKeyRole' });

@InputType()
export class CreateApiKeyInput {
  @Field()
  name: string;

  @Field(() => ApiKeyRole)
  role: ApiKeyRole;

  @Field(() => String, { nullable: true, description: 'Binds the key to a partner (1–100 characters): it sees and acts only on the accounts created with that partner\'s keys. SERVICE or READONLY only.' })
  partner?: string | null;
}

@ObjectType({ description: 'The secret is shown only here, once.' })
export class CreatedApiKey {
  @Field(() => ID)
  id: string;

  @Field()
  secret: string;

  @Field(() => ApiKeyRole)
  role: ApiKeyRole;

  @Field()
  name: string;

  @Field(() => String, { nullable: true, description: 'The partner the key is bound to (null: an operator key).' })
  partner: string | null;
}

@ObjectType()
export class UserToken {
  @Field()
  token: string;

  @Field(() => GraphQLDateTime)
  expiresAt: Date;
}

export enum CredentialKind { API_KEY = 'API_KEY', USER_TOKEN = 'USER_TOKEN' }
registerEnumType(CredentialKind, { name: 'CredentialKind' });

@ObjectType({ description: 'The credential of the request: an API key (its role) or a user token (its account).' })
export class Viewer {
  @Field(() => CredentialKind)
  kind: CredentialKind;

  @Field(() => ApiKeyRole, { nullable: true, description: 'An API key\'s role.' })
  role: ApiKeyRole | null;

  @Field(() => ID, { nullable: true, description: 'A user token\'s account.' })
  accountId: string | null;

  @Field(() => String, { nullable: true, description: 'An API key\'s partner (null: an operator key, or a user token).' })
  partner?: string | null;
}
