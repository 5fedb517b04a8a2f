/** Thin resolvers of packs, custom-amount prices, purchases and auto top-up: authorize, map inputs, call PurchasesService. */
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { actorOf, assertAdmin, requireViewer, type Authenticated } from '../../auth/viewer';
import { access } from '../../auth/access';
import { forbidden } from '../../shared/errors';
import { connectionComplexity, decodeCursor, encodeCursor, PAGE_SIZE_DEFAULT, pageOf, pageSize } from '../../graphql/connection';
import { Money, moneyOf } from '../plans/plan.type';
import { CreditsScalar } from '../../graphql/scalars';
import { Wallet } from '../wallets/wallet.type';
import type { WalletView } from '../wallets/wallets.service';
import { LedgerTransaction } from '../ledger';
import type { TransactionRow } from '../ledger';
import {
  AutoTopUp, AutoTopUpInput, CreditPack, CreditPackInput, CreditPackUpdateInput, CreditPriceTiers, CreditPriceTiersInput, PaymentEvent,
  PaymentEventType, Purchase, PurchaseConnection, PurchaseCreditsInput,
} from './purchase.type';
import { packPrice } from './purchase-rules';
import type { AutoTopUpRow, PackRow, PaymentEventRow, PriceTableRow, PurchaseRow } from './purchases.repo';
import { event, TestPaymentProvider } from './providers/test-provider';

export function toPack(pack: PackRow): CreditPack {
  return {
    id: pack.id, code: pack.code, name: pack.name, creditsMillis: pack.creditsMillis, price: moneyOf(pack.priceMinor, pack.currency),
    expiresAfterDays: pack.expiresAfterDays, active: pack.active, updatedAt: pack.updatedAt,
  };
}

function toTiers(row: PriceTableRow): CreditPriceTiers {
  return {
    version: row.version, currency: row.currency, minimumMillis: row.minimumMillis, maximumMillis: row.maximumMillis, createdAt: row.createdAt,
    tiers: row.tiers.map((t) => ({ fromMillis: t.fromMillis, unitPrice: t.unitPrice })),
  };
}

/** Buying for an account: ADMIN or SERVICE keys (a partner's on its accounts), or the account's own user token. */
function assertCanBuy(ctx: Context, accountId: string): Promise<Authenticated> {
  return access.account(ctx, accountId, 'own');
}

@Resolver(() => Purchase)
export class PurchasesResolver {
  @Query(() => [CreditPack], { description: 'Packs on sale, cheapest first (admins may ask for archived ones too).' })
  async creditPacks(@Ctx() ctx: Context, @Arg('includeArchived', () => Boolean, { defaultValue: false }) includeArchived: boolean): Promise<CreditPack[]> {
    requireViewer(ctx.viewer);
    if (includeArchived) assertAdmin(ctx.viewer);
    return (await ctx.services.purchases.listPacks(includeArchived)).map(toPack);
  }

  @Mutation(() => CreditPack, { description: 'Admin: a pack on sale; every problem of the input is listed in one error.' })
  async createCreditPack(@Ctx() ctx: Context, @Arg('input', () => CreditPackInput) input: CreditPackInput): Promise<CreditPack> {
    assertAdmin(ctx.viewer);
    const price = packPrice(input.price.amount, input.price.currency);
    return toPack(await ctx.services.purchases.createPack(input.code, {
      name: input.name, creditsMillis: input.credits, priceMinor: price.minor, currency: price.currency, expiresAfterDays: input.expiresAfterDays ?? null,
    }, input.active, price.problem));
  }

  @Mutation(() => CreditPack, { description: 'Admin: changes a pack for purchases made from now on (those made keep their terms).' })
  async updateCreditPack(@Ctx() ctx: Context, @Arg('code') code: string, @Arg('input', () => CreditPackUpdateInput) input: CreditPackUpdateInput): Promise<CreditPack> {
    assertAdmin(ctx.viewer);
    const price = input.price ? packPrice(input.price.amount, input.price.currency) : undefined;
    return toPack(await ctx.services.purchases.updatePack(code, {
      name: input.name ?? undefined, creditsMillis: input.credits ?? undefined, priceMinor: price?.minor, currency: price?.currency,
      expiresAfterDays: input.expiresAfterDays === 0 ? null : input.expiresAfterDays ?? undefined, active: input.active ?? undefined,
    }, price?.problem ?? null));
  }

  @Mutation(() => CreditPack, { description: 'Admin: takes a pack off sale (purchases made keep it).' })
  async archiveCreditPack(@Ctx() ctx: Context, @Arg('code') code: string): Promise<CreditPack> {
    assertAdmin(ctx.viewer);
    return toPack(await ctx.services.purchases.updatePack(code, { active: false }));
  }

  @Query(() => CreditPriceTiers, { nullable: true, description: 'The volume price table of custom amounts (null: custom amounts are not on sale).' })
  async creditPriceTiers(@Ctx() ctx: Context): Promise<CreditPriceTiers | null> {
    requireViewer(ctx.viewer);
    const row = await ctx.services.purchases.priceTable();
    return row && toTiers(row);
  }

  @Mutation(() => CreditPriceTiers, { description: 'Admin: a new version of the volume price table; every problem of the input is listed in one error.' })
  async setCreditPriceTiers(@Ctx() ctx: Context, @Arg('input', () => CreditPriceTiersInput) input: CreditPriceTiersInput): Promise<CreditPriceTiers> {
    assertAdmin(ctx.viewer);
    return toTiers(await ctx.services.purchases.setPriceTable({
      currency: input.currency, minimumMillis: input.minimum, maximumMillis: input.maximum,
      tiers: input.tiers.map((t) => ({ fromMillis: t.from, unitPrice: t.unitPrice })),
    }));
  }

  @Query(() => Money, { description: 'The price of a custom amount at the volume tiers (BAD_USER_INPUT outside the minimum and maximum).' })
  async creditPrice(@Ctx() ctx: Context, @Arg('credits', () => CreditsScalar) credits: number): Promise<Money> {
    requireViewer(ctx.viewer);
    const price = await ctx.services.purchases.creditPrice(credits);
    return moneyOf(price.minor, price.currency);
  }

  @Mutation(() => Purchase, { description: 'A PENDING purchase of a pack or a custom amount with its checkoutUrl; the credits arrive when the provider confirms the payment.' })
  async purchaseCredits(@Ctx() ctx: Context, @Arg('input', () => PurchaseCreditsInput) input: PurchaseCreditsInput): Promise<PurchaseRow> {
    const viewer = await assertCanBuy(ctx, input.accountId);
    return ctx.services.purchases.purchase(actorOf(viewer), {
      accountId: input.accountId, packCode: input.packCode ?? null, creditsMillis: input.credits ?? null, idempotencyKey: input.idempotencyKey,
    });
  }

  @Query(() => PurchaseConnection, { description: 'An account\'s purchases, newest first.', complexity: connectionComplexity })
  async purchases(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID) accountId: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<PurchaseConnection> {
    await access.account(ctx, accountId, 'read');
    const limit = pageSize(first, ctx.services.config.pageSizeMax);
    const rows = await ctx.services.purchases.purchasesOf(accountId, after ? decodeCursor(after) : null, limit + 1);
    return pageOf<PurchaseRow, Purchase>(rows, limit, (row) => encodeCursor(row.pos));
  }

  @Query(() => Purchase, { nullable: true })
  async purchase(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<PurchaseRow | null> {
    requireViewer(ctx.viewer);
    const row = await ctx.services.purchases.purchaseById(id);
    if (!row) return access.absent(ctx, 'purchase');
    await access.account(ctx, row.accountId, 'read', 'purchase');
    return row;
  }

  @Query(() => [PaymentEvent], { description: 'Admin: webhook events that need a person (unknown purchase, amount differs, a refunded plan payment), newest first (at most 100); only those naming purchaseId when given (as the event wrote it).' })
  async paymentEventsForReview(@Ctx() ctx: Context, @Arg('purchaseId', () => String, { nullable: true }) purchaseId?: string | null): Promise<PaymentEventRow[]> {
    assertAdmin(ctx.viewer);
    return ctx.services.purchases.eventsForReview(purchaseId ?? null);
  }

  @Mutation(() => Wallet, { description: 'Auto top-up: when a committed charge leaves available below `below`, buy the pack (or up to targetBalance), at most maxPerMonth a month.' })
  async setAutoTopUp(@Ctx() ctx: Context, @Arg('input', () => AutoTopUpInput) input: AutoTopUpInput): Promise<WalletView> {
    await assertCanBuy(ctx, input.accountId);
    await ctx.services.purchases.setAutoTopUp({
      accountId: input.accountId, enabled: input.enabled, belowMillis: input.below, packCode: input.packCode ?? null,
      targetBalanceMillis: input.targetBalance ?? null, maxPerMonth: input.maxPerMonth,
    });
    const wallet = await ctx.services.wallets.get(input.accountId);
    if (!wallet) throw new Error('an account with an auto top-up has a wallet');
    return wallet;
  }

  @Mutation(() => Boolean, { description: 'Admin, test provider only: makes the account\'s saved test card decline (true) or pay (false).' })
  async setTestPaymentCard(@Ctx() ctx: Context, @Arg('accountId', () => ID) accountId: string, @Arg('declines') declines: boolean): Promise<boolean> {
    await access.account(ctx, accountId, 'admin');
    await ctx.services.purchases.setTestCardDeclines(accountId, declines);
    return true;
  }

  @Mutation(() => Boolean, { description: 'Admin, test provider only: the provider sends this event for a purchase (e.g. a refund or a chargeback) by the signed webhook.' })
  async sendTestPaymentEvent(@Ctx() ctx: Context, @Arg('purchaseId', () => ID) purchaseId: string, @Arg('type', () => PaymentEventType) type: PaymentEventType): Promise<boolean> {
    assertAdmin(ctx.viewer);
    const provider = ctx.services.purchases.paymentProvider;
    if (!(provider instanceof TestPaymentProvider)) throw forbidden('only the test payment provider sends events on request');
    const found = await ctx.services.purchases.describeForCheckout(purchaseId);
    if (!found) return false;
    provider.send(event(type, found.request));
    return true;
  }

  @FieldResolver(() => Money)
  price(@Root() purchase: PurchaseRow): Money {
    return moneyOf(purchase.priceMinor, purchase.currency);
  }

  @FieldResolver(() => CreditPack, { nullable: true })
  async pack(@Root() purchase: PurchaseRow, @Ctx() ctx: Context): Promise<CreditPack | null> {
    if (!purchase.packId) return null;
    const pack = await ctx.loaders.pack.load(purchase.packId);
    return pack && toPack(pack);
  }

  @FieldResolver(() => LedgerTransaction, { nullable: true, description: 'The grant of the purchased credits (null until paid).' })
  async transaction(@Root() purchase: PurchaseRow, @Ctx() ctx: Context): Promise<TransactionRow | null> {
    return purchase.transactionId ? ctx.loaders.transaction.load(purchase.transactionId) : null;
  }

  @FieldResolver(() => LedgerTransaction, { nullable: true, description: 'The reversal that took the credits back after a refund or chargeback.' })
  async reversalTransaction(@Root() purchase: PurchaseRow, @Ctx() ctx: Context): Promise<TransactionRow | null> {
    return purchase.reversalTransactionId ? ctx.loaders.transaction.load(purchase.reversalTransactionId) : null;
  }

  @FieldResolver(() => [PaymentEvent], { description: 'Webhook events received for this purchase, oldest first (at most 100).' })
  async events(@Root() purchase: PurchaseRow, @Ctx() ctx: Context): Promise<PaymentEventRow[]> {
    return ctx.loaders.purchaseEvents.load(purchase.id);
  }
}

@Resolver(() => AutoTopUp)
export class AutoTopUpResolver {
  @FieldResolver(() => CreditPack, { nullable: true })
  async pack(@Root() rule: AutoTopUpRow, @Ctx() ctx: Context): Promise<CreditPack | null> {
    if (!rule.packId) return null;
    const pack = await ctx.loaders.pack.load(rule.packId);
    return pack && toPack(pack);
  }
}

@Resolver(() => Wallet)
export class WalletAutoTopUpResolver {
  @FieldResolver(() => AutoTopUp, { nullable: true, description: 'The auto top-up rule (null: never set).' })
  async autoTopUp(@Root() wallet: WalletView, @Ctx() ctx: Context): Promise<AutoTopUpRow | null> {
    return ctx.services.purchases.autoTopUpOf(wallet.accountId);
  }
}
