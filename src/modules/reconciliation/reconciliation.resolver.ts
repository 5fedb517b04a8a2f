/** Thin resolvers of vendor reconciliation: ADMIN keys only. */
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { actorOf, assertAdmin } from '../../auth/viewer';
import { connectionComplexity, decodeCursor, encodeCursor, PAGE_SIZE_DEFAULT, pageOf, pageSize } from '../../graphql/connection';
import { isUuid } from '../../shared/validate';
import { Reconciliation, ReconciliationConnection, ReconciliationRow, VendorInvoiceInput } from './reconciliation.type';
import type { ReconciliationRowView, ReconciliationView } from './reconciliation.service';

@Resolver(() => Reconciliation)
export class ReconciliationResolver {
  @Mutation(() => Reconciliation, { description: 'Admin: compares a vendor\'s invoice with the vendor costs recorded on charges over whole UTC days; flags variances beyond the tolerance.' })
  async importVendorInvoice(@Ctx() ctx: Context, @Arg('input', () => VendorInvoiceInput) input: VendorInvoiceInput): Promise<ReconciliationView> {
    const viewer = assertAdmin(ctx.viewer);
    return ctx.services.reconciliation.importInvoice(actorOf(viewer).id, input);
  }

  @Query(() => ReconciliationConnection, { description: 'Admin: imported invoices, newest first.', complexity: connectionComplexity })
  async reconciliations(
    @Ctx() ctx: Context,
    @Arg('vendor', () => String, { nullable: true }) vendor: string | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<ReconciliationConnection> {
    assertAdmin(ctx.viewer);
    const limit = pageSize(first, ctx.services.config.pageSizeMax);
    const rows = await ctx.services.reconciliation.list(vendor?.trim() ?? null, after ? decodeCursor(after) : null, limit + 1);
    return pageOf<ReconciliationView, Reconciliation>(rows, limit, (row) => encodeCursor(row.pos));
  }

  @Query(() => Reconciliation, { nullable: true, description: 'Admin: one reconciliation; null when there is none with this id.' })
  async reconciliation(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<ReconciliationView | null> {
    assertAdmin(ctx.viewer);
    return isUuid(id) ? ctx.services.reconciliation.find(id) : null;
  }

  @FieldResolver(() => [ReconciliationRow])
  rows(@Ctx() ctx: Context, @Root() reconciliation: ReconciliationView): Promise<ReconciliationRowView[]> {
    return ctx.services.reconciliation.rows(reconciliation);
  }
}
