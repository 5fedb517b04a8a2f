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
}

@ObjectType()
export class UserToken {
  @Field()
  token: string;

  @Field(() => GraphQLDateTime)
  expiresAt: Date;
}
