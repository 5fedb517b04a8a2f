import { Field, ID, Int, ObjectType } from 'type-graphql';
import { CreditsScalar } from '../../graphql/scalars';
import { LedgerTransaction } from '../ledger';
import { LowCreditAlert } from '../alerts';

@ObjectType({ description: 'One committed change of a wallet, in sequence order.' })
export class WalletEvent {
  @Field(() => ID)
  accountId: string;

  @Field(() => Int)
  sequence: number;

  @Field({ description: 'What happened: the ledger transaction type (CHARGE, GRANT, HOLD, …).' })
  kind: string;

  @Field(() => CreditsScalar, { name: 'balance', description: 'Balance after the event.' })
  balanceMillis: number;

  @Field(() => CreditsScalar, { name: 'available', description: 'Available after the event.' })
  availableMillis: number;

  @Field(() => LedgerTransaction)
  transaction: LedgerTransaction;

  @Field(() => LowCreditAlert, { nullable: true, description: 'The alert this transaction raised (a level crossed), if any; also on replayed events.' })
  alert: LowCreditAlert | null;
}
