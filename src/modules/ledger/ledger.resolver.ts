import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { actorOf, assertAdmin, requireViewer } from '../../auth/viewer';
import { access } from '../../auth/access';
import { connectionComplexity, decodeCursor, encodeCursor, PAGE_SIZE_DEFAULT, pageOf, pageSize } from '../../graphql/connection';
import { AppError, ErrorCode, badInput, notFound } from '../../shared/errors';
import { checkedVendorUsage } from './flows';
import { boundedText, checkedFingerprint, isUuid, requirePositive } from '../../shared/validate';
import { parseDecimal } from '../../shared/decimal';
import { batchAccess, batchResult } from './batch';
import type { BatchCharge, ChargeRequest } from './ledger.service';
import {
  CaptureInput, ChargeBatchInput, ChargeBatchResult, ChargeInput, GrantCreditsInput, Hold, LedgerAudit, LedgerEntry, LedgerTransaction,
  LedgerTransactionConnection, RefundInput, ReleaseInput, ReserveInput, ReverseInput, TransactionFilter,
} from './ledger.type';
import type { TransactionRow } from './ledger.repo';

/** A price per credit in the bucket's currency: up to 12 whole and 6 fractional digits. */
const COST_PER_CREDIT = { wholeDigitsMax: 12, fractionDigitsMax: 6 };

/** A charge's input as the ledger takes it; throws the first thing wrong with it (BAD_USER_INPUT, NOT_FOUND). */
function chargeRequestOf(input: ChargeInput): ChargeRequest {
  return {
    accountId: requireAccountId(input.accountId), amountMillis: requirePositive(input.amount), idempotencyKey: input.idempotencyKey,
    action: boundedText(input.action, 'action'), model: boundedText(input.model, 'model'), comment: boundedText(input.comment, 'comment'),
    vendorUsage: checkedVendorUsage(input.vendorUsage), memberId: checkedMemberId(input.memberId),
    ...fingerprintOf(input),
  };
}

function requireAccountId(id: string): string {
  if (!isUuid(id)) throw notFound('account');
  return id;
}

/** The client's fingerprint, only when given (so requests without one keep their idempotency hash). */
const fingerprintOf = (input: { fingerprint?: string | null }): { fingerprint?: string } => {
  const fingerprint = checkedFingerprint(input.fingerprint);
  return fingerprint ? { fingerprint } : {};
};

@Resolver()
export class LedgerResolver {
  @Query(() => LedgerTransactionConnection, { description: 'Newest first; keyset pagination with opaque cursors.', complexity: connectionComplexity })
  async transactions(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID) accountId: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => TransactionFilter, { nullable: true }) filter?: TransactionFilter | null,
  ): Promise<LedgerTransactionConnection> {
    await access.account(ctx, accountId, 'read');
    const limit = pageSize(first, ctx.services.config.pageSizeMax);
    if (!isUuid(accountId)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
    const rows = await ctx.services.ledger.history(accountId, filter ?? {}, after ? decodeCursor(after) : null, limit + 1);
    for (const row of rows.slice(0, limit)) ctx.loaders.transaction.prime(row.id, row);
    return pageOf<TransactionRow, LedgerTransaction>(rows, limit, (row) => encodeCursor(row.pos));
  }

  @Query(() => LedgerTransaction, { nullable: true })
  async transaction(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<TransactionRow | null> {
    requireViewer(ctx.viewer); // before the lookup: anonymous callers learn nothing about which ids exist
    const row = isUuid(id) ? await ctx.loaders.transaction.load(id) : null;
    if (!row) return access.absent(ctx, 'transaction');
    await access.account(ctx, row.accountId, 'read', 'transaction');
    return row;
  }

  @Query(() => LedgerAudit, { description: 'Admin: recomputes every ledger invariant and lists violations.' })
  async auditLedger(@Ctx() ctx: Context): Promise<LedgerAudit> {
    assertAdmin(ctx.viewer);
    return ctx.services.audit.run();
  }

  @Mutation(() => LedgerTransaction, { description: 'Admin: adds a bucket of credits.' })
  async grantCredits(@Ctx() ctx: Context, @Arg('input', () => GrantCreditsInput) input: GrantCreditsInput): Promise<TransactionRow> {
    const viewer = await access.account(ctx, input.accountId, 'admin');
    const listMax = 50;
    if ((input.applicableActions?.length ?? 0) > listMax || (input.applicableModels?.length ?? 0) > listMax) throw badInput(`at most ${listMax} applicable actions/models`);
    if (input.priority !== null && input.priority !== undefined && (input.priority < 0 || input.priority > 1000)) throw badInput('priority must be between 0 and 1000', 'priority');
    if (input.costPerCredit && !parseDecimal(input.costPerCredit, COST_PER_CREDIT)) throw badInput('costPerCredit must be a decimal', 'costPerCredit');
    return ctx.services.ledger.grant(actorOf(viewer), {
      accountId: requireAccountId(input.accountId), amountMillis: requirePositive(input.amount), source: input.source,
      expiresAt: input.expiresAt, priority: input.priority, comment: boundedText(input.comment, 'comment'),
      applicableActions: input.applicableActions, applicableModels: input.applicableModels,
      costPerCredit: input.costPerCredit, currency: boundedText(input.currency, 'currency'), idempotencyKey: input.idempotencyKey,
    });
  }

  @Mutation(() => LedgerTransaction, { description: 'Debits an amount now (overdraft down to the limit creates debt).' })
  async charge(@Ctx() ctx: Context, @Arg('input', () => ChargeInput) input: ChargeInput): Promise<TransactionRow> {
    const viewer = await access.account(ctx, input.accountId, 'move');
    return ctx.services.ledger.charge(actorOf(viewer), chargeRequestOf(input));
  }

  @Mutation(() => ChargeBatchResult, { description: 'Many charges in one request, each with its own idempotency key and result (in input order); atomic: all or none.' })
  async chargeBatch(@Ctx() ctx: Context, @Arg('input', () => ChargeBatchInput) input: ChargeBatchInput): Promise<ChargeBatchResult> {
    const { viewer, refused } = await batchAccess(ctx, input.charges);
    const charges = input.charges.map((item): BatchCharge => {
      const refusal = refused.get(item.accountId);
      if (refusal) return { refusal };
      try {
        return { input: chargeRequestOf(item) };
      } catch (error) {
        if (error instanceof AppError) return { refusal: error };
        throw error;
      }
    });
    return batchResult(await ctx.services.ledger.chargeBatch(actorOf(viewer), charges, input.atomic ?? false));
  }

  @Mutation(() => Hold, { description: 'Secures credits (an amount, a quote or a generation) for work that takes time; capture or release it later.' })
  async reserveCredits(@Ctx() ctx: Context, @Arg('input', () => ReserveInput) input: ReserveInput) {
    const viewer = await access.account(ctx, input.accountId, 'move');
    if (input.quoteId != null) await access.owned(ctx, 'quote', input.quoteId, 'move'); // partner keys: a quote of their own accounts only
    const accountId = requireAccountId(input.accountId);
    const ways = [input.amount != null, input.quoteId != null, input.generation != null].filter(Boolean).length;
    if (ways !== 1) throw badInput('give exactly one of amount, quoteId and generation', 'amount');
    const amountMillis = input.amount != null ? requirePositive(input.amount) : null;
    const request = {
      accountId, idempotencyKey: input.idempotencyKey,
      ttlSeconds: input.ttlSeconds, action: boundedText(input.action ?? input.generation?.action, 'action'),
      model: boundedText(input.model ?? input.generation?.model, 'model'), comment: boundedText(input.comment, 'comment'),
      quoteId: input.quoteId ?? null, // recorded on a refused hold too
      memberId: checkedMemberId(input.memberId),
      ...fingerprintOf(input),
    };
    if (amountMillis !== null) return ctx.services.ledger.reserve(actorOf(viewer), { ...request, amountMillis });
    return ctx.services.pricing.reserveGeneration(actorOf(viewer), { ...request, generation: input.generation ?? null });
  }

  @Mutation(() => LedgerTransaction, { description: 'Debits up to the hold (an amount, or the actual usage priced by the hold\'s card); the rest returns.' })
  async captureHold(@Ctx() ctx: Context, @Arg('input', () => CaptureInput) input: CaptureInput): Promise<TransactionRow> {
    const viewer = await access.owned(ctx, 'hold', input.holdId, 'move');
    if (input.amount !== null && input.amount !== undefined && input.amount < 0) throw badInput('amount must be ≥ 0', 'amount');
    if (input.amount != null && input.generation != null) throw badInput('give an amount or a generation, not both', 'amount');
    if (!isUuid(input.holdId)) throw new AppError(ErrorCode.HOLD_NOT_FOUND, 'no hold with this id');
    const request = {
      holdId: input.holdId, idempotencyKey: input.idempotencyKey, comment: boundedText(input.comment, 'comment'), vendorUsage: checkedVendorUsage(input.vendorUsage),
    };
    if (input.generation) return ctx.services.pricing.captureGeneration(actorOf(viewer), { ...request, generation: input.generation });
    const amountMillis = input.amount ?? null;
    return ctx.services.ledger.capture(actorOf(viewer), { ...request, amountMillis }, { amountMillis, generation: null });
  }

  @Mutation(() => Hold)
  async releaseHold(@Ctx() ctx: Context, @Arg('input', () => ReleaseInput) input: ReleaseInput) {
    const viewer = await access.owned(ctx, 'hold', input.holdId, 'move');
    if (!isUuid(input.holdId)) throw new AppError(ErrorCode.HOLD_NOT_FOUND, 'no hold with this id');
    return ctx.services.ledger.release(actorOf(viewer), { holdId: input.holdId, idempotencyKey: input.idempotencyKey, comment: boundedText(input.comment, 'comment') });
  }

  @Mutation(() => LedgerTransaction, { description: 'Returns credits of a charge to the buckets they came from (never more than was charged).' })
  async refund(@Ctx() ctx: Context, @Arg('input', () => RefundInput) input: RefundInput): Promise<TransactionRow> {
    const viewer = await access.owned(ctx, 'transaction', input.transactionId, 'move');
    if (input.amount !== null && input.amount !== undefined) requirePositive(input.amount);
    if (!isUuid(input.transactionId)) throw notFound('transaction');
    return ctx.services.ledger.refund(actorOf(viewer), {
      transactionId: input.transactionId, amountMillis: input.amount ?? null, idempotencyKey: input.idempotencyKey, comment: boundedText(input.comment, 'comment'),
    });
  }

  @Mutation(() => LedgerTransaction, { description: 'Admin: undoes a posted transaction with a new one pointing at it.' })
  async reverseTransaction(@Ctx() ctx: Context, @Arg('input', () => ReverseInput) input: ReverseInput): Promise<TransactionRow> {
    const viewer = await access.owned(ctx, 'transaction', input.transactionId, 'admin');
    if (!isUuid(input.transactionId)) throw notFound('transaction');
    return ctx.services.ledger.reverse(actorOf(viewer), { transactionId: input.transactionId, idempotencyKey: input.idempotencyKey, comment: boundedText(input.comment, 'comment') });
  }
}

@Resolver(() => LedgerTransaction)
export class LedgerTransactionResolver {
  @FieldResolver(() => [LedgerEntry], { description: 'Per-bucket movements (debt movements are in debtChange).' })
  async entries(@Root() transaction: TransactionRow, @Ctx() ctx: Context): Promise<LedgerEntry[]> {
    const entries = await ctx.loaders.entriesByTransaction.load(transaction.id);
    const bucketEntries = entries.filter((e) => e.bucketId !== null);
    const buckets = await ctx.loaders.bucket.loadMany(bucketEntries.map((e) => e.bucketId!));
    return bucketEntries.map((e, i) => {
      const bucket = buckets[i];
      if (!bucket || bucket instanceof Error) throw new Error('entry bucket exists');
      return { bucketId: e.bucketId!, bucketSource: bucket.source as LedgerEntry['bucketSource'], amount: e.amountMillis, originBucketId: e.originBucketId };
    });
  }
}

/**
 * A memberId is an account id (BAD_USER_INPUT otherwise, before anything is recorded); undefined when
 * absent, so requests without one hash as they always did (idempotency).
 */
export function checkedMemberId(memberId: string | null | undefined): string | undefined {
  if (memberId === null || memberId === undefined) return undefined;
  if (!isUuid(memberId)) throw badInput('memberId must be the id of a member of the team', 'memberId');
  return memberId.toLowerCase(); // as the database spells it: the same member hashes the same (idempotency)
}
