/** GraphQL types of vendor reconciliation (names binding per API.md: importVendorInvoice, Reconciliation). */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { PageInfo } from '../../graphql/connection';
import { Money } from '../plans/plan.type';

export enum ReconciliationStatus { MATCHED = 'MATCHED', MISMATCH = 'MISMATCH', INVOICE_ONLY = 'INVOICE_ONLY', LEDGER_ONLY = 'LEDGER_ONLY' }
registerEnumType(ReconciliationStatus, {
  name: 'ReconciliationStatus',
  description: 'MATCHED: within the tolerance (not necessarily equal); MISMATCH: beyond it either way; INVOICE_ONLY: no ledger cost for the model; LEDGER_ONLY: ledger costs the invoice lacks.',
});

@InputType()
export class VendorInvoiceLineInput {
  @Field()
  model: string;

  @Field({ description: 'Decimal ≥ 0 in the line\'s currency, e.g. "12.50" (up to 12 fractional digits).' })
  cost: string;

  @Field({ description: 'ISO 4217; the same on every line of an invoice.' })
  currency: string;

  @Field(() => String, { nullable: true, description: 'Decimal ≥ 0 (tokens, seconds...): shown beside the ledger\'s, not compared.' })
  units?: string | null;
}

@InputType()
export class VendorInvoiceInput {
  @Field({ description: 'As recorded in vendorUsage.vendor.' })
  vendor: string;

  @Field(() => GraphQLDateTime, { description: 'A UTC midnight: the first day billed.' })
  from: Date;

  @Field(() => GraphQLDateTime, { description: 'A UTC midnight after from (exclusive), at most 366 days later.' })
  to: Date;

  @Field(() => [VendorInvoiceLineInput], { description: '1 to 1,000 lines; lines of the same model are summed.' })
  lines: VendorInvoiceLineInput[];

  @Field(() => String, { nullable: true, defaultValue: '2', description: 'Allowed variance, percent of the invoice, 0–100.' })
  tolerancePercent?: string | null;
}

@ObjectType()
export class ReconciliationRow {
  @Field({ description: 'The model ("" for ledger costs recorded without a model).' })
  model: string;

  @Field(() => ReconciliationStatus)
  status: ReconciliationStatus;

  @Field(() => Money, { nullable: true, description: 'Exact (not rounded); null: no invoice line.' })
  invoiceCost: Money | null;

  @Field(() => Money, { nullable: true, description: 'Exact sum of the vendor costs recorded on charges; null: none.' })
  ledgerCost: Money | null;

  @Field(() => String, { nullable: true })
  invoiceUnits: string | null;

  @Field(() => String, { nullable: true })
  ledgerUnits: string | null;

  @Field(() => String, { nullable: true, description: '(ledger − invoice) / invoice × 100, two decimals half up; null when the invoice is 0 or a side is missing.' })
  variancePercent: string | null;

  @Field({ description: 'status is not MATCHED.' })
  flagged: boolean;
}

@ObjectType({ description: 'An imported vendor invoice compared with the vendor costs the ledger recorded (model_costs_daily).' })
export class Reconciliation {
  @Field(() => ID)
  id: string;

  @Field()
  vendor: string;

  @Field(() => GraphQLDateTime)
  from: Date;

  @Field(() => GraphQLDateTime)
  to: Date;

  @Field()
  currency: string;

  @Field()
  tolerancePercent: string;

  @Field(() => Int)
  flaggedRows: number;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  @Field(() => [ReconciliationRow], { description: 'By model name.' })
  rows: ReconciliationRow[];
}

@ObjectType()
export class ReconciliationEdge {
  @Field()
  cursor: string;

  @Field(() => Reconciliation)
  node: Reconciliation;
}

@ObjectType()
export class ReconciliationConnection {
  @Field(() => [ReconciliationEdge])
  edges: ReconciliationEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}
