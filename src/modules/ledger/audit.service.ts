/**
 * Recomputes every ledger invariant (README, "The ledger") from the tables and lists what is violated.
 * Some are also CHECK constraints (src/db/schema.ts); the audit still reports them, for a database
 * restored from elsewhere or a constraint dropped by hand.
 * Read-only; runs in one REPEATABLE READ snapshot on PostgreSQL so concurrent charges cannot
 * produce false alarms.
 */
import { sql } from 'drizzle-orm';
import type { Database, Executor } from '../../db/client';
import { rows } from '../../db/client';

const VIOLATIONS_MAX = 100;

interface Check {
  name: string;
  query: ReturnType<typeof sql>;
  /** Columns are selected as text (ids, `::text` casts), so a row reads as strings. */
  describe: (row: Record<string, string | null>) => string;
}

const CHECKS: Check[] = [
  {
    name: 'bucket remaining equals the sum of its entries',
    query: sql`select b.id, b.remaining_millis::text as remaining, coalesce(e.total, 0)::text as total from buckets b
      left join (select bucket_id, sum(amount_millis) as total from ledger_entries where kind = 'BUCKET' group by bucket_id) e on e.bucket_id = b.id
      where b.remaining_millis <> coalesce(e.total, 0) limit ${VIOLATIONS_MAX}`,
    describe: (r) => `bucket ${r.id}: remaining ${r.remaining} but its entries sum to ${r.total}`,
  },
  {
    name: 'no bucket below zero or above its amount',
    query: sql`select id, remaining_millis::text as remaining, amount_millis::text as amount from buckets
      where remaining_millis < 0 or remaining_millis > amount_millis limit ${VIOLATIONS_MAX}`,
    describe: (r) => `bucket ${r.id}: remaining ${r.remaining} is outside 0..${r.amount}`,
  },
  {
    name: 'wallet debt equals the sum of its debt entries',
    query: sql`select w.account_id, w.debt_millis::text as debt, coalesce(-e.total, 0)::text as total from wallets w
      left join (select account_id, sum(amount_millis) as total from ledger_entries where kind = 'DEBT' group by account_id) e on e.account_id = w.account_id
      where w.debt_millis <> coalesce(-e.total, 0) or w.debt_millis < 0 limit ${VIOLATIONS_MAX}`,
    describe: (r) => `wallet ${r.account_id}: debt ${r.debt} but debt entries sum to ${r.total}`,
  },
  {
    name: 'a transaction amount equals the sum of its entries',
    query: sql`select t.id, t.amount_millis::text as amount, coalesce(e.total, 0)::text as total from ledger_transactions t
      left join (select transaction_id, sum(amount_millis) as total from ledger_entries group by transaction_id) e on e.transaction_id = t.id
      where t.amount_millis <> coalesce(e.total, 0) limit ${VIOLATIONS_MAX}`,
    describe: (r) => `transaction ${r.id}: amount ${r.amount} but entries sum to ${r.total}`,
  },
  {
    name: 'refused attempts have no effect',
    query: sql`select id from ledger_transactions where status = 'FAILED' and (sequence is not null or amount_millis <> 0 or held_change_millis <> 0
      or exists (select 1 from ledger_entries e where e.transaction_id = ledger_transactions.id)) limit ${VIOLATIONS_MAX}`,
    describe: (r) => `FAILED transaction ${r.id} has a balance effect or a sequence`,
  },
  {
    name: 'sequences are gap-free and match the wallet',
    query: sql`select w.account_id, w.sequence, count(t.sequence) as n, coalesce(max(t.sequence), 0) as max_seq, coalesce(min(t.sequence), 1) as min_seq
      from wallets w left join ledger_transactions t on t.account_id = w.account_id and t.sequence is not null
      group by w.account_id, w.sequence having count(t.sequence) <> w.sequence or coalesce(max(t.sequence), 0) <> w.sequence or coalesce(min(t.sequence), 1) <> 1
      limit ${VIOLATIONS_MAX}`,
    describe: (r) => `wallet ${r.account_id}: sequence ${r.sequence} but ${r.n} posted transactions numbered ${r.min_seq}..${r.max_seq}`,
  },
  {
    name: 'each balanceAfter equals the running sum of the wallet entries',
    query: sql`select id, account_id, sequence, balance_after_millis::text as balance_after, running::text as running from (
        select id, account_id, sequence, balance_after_millis, sum(amount_millis) over (partition by account_id order by sequence) as running
        from ledger_transactions where status = 'SUCCEEDED') t
      where balance_after_millis <> running limit ${VIOLATIONS_MAX}`,
    describe: (r) => `wallet ${r.account_id} sequence ${r.sequence}: balanceAfter ${r.balance_after} but entries up to it sum to ${r.running}`,
  },
  {
    name: 'an active hold secures exactly its amount',
    query: sql`select h.id, h.amount_millis::text as amount, coalesce(sum(a.amount_millis), 0)::text as secured from holds h
      left join hold_allocations a on a.hold_id = h.id where h.status = 'ACTIVE'
      group by h.id, h.amount_millis having h.amount_millis <> coalesce(sum(a.amount_millis), 0) limit ${VIOLATIONS_MAX}`,
    describe: (r) => `hold ${r.id}: amount ${r.amount} but secures ${r.secured}`,
  },
  {
    name: 'holds never exceed what their buckets hold',
    query: sql`select b.id, b.remaining_millis::text as remaining, sum(a.amount_millis)::text as held from buckets b
      join hold_allocations a on a.bucket_id = b.id join holds h on h.id = a.hold_id and h.status = 'ACTIVE'
      group by b.id, b.remaining_millis having sum(a.amount_millis) > b.remaining_millis limit ${VIOLATIONS_MAX}`,
    describe: (r) => `bucket ${r.id}: holds secure ${r.held} but only ${r.remaining} remain`,
  },
  {
    name: 'held changes balance out per hold',
    query: sql`select h.id, h.status, coalesce(sum(t.held_change_millis), 0)::text as held from holds h
      left join ledger_transactions t on t.hold_id = h.id and t.status = 'SUCCEEDED'
      group by h.id, h.status, h.amount_millis
      having coalesce(sum(t.held_change_millis), 0) <> case when h.status = 'ACTIVE' then h.amount_millis else 0 end limit ${VIOLATIONS_MAX}`,
    describe: (r) => `hold ${r.id} (${r.status}): ledger held changes sum to ${r.held}`,
  },
  {
    name: 'each idempotency key has at most one effect',
    query: sql`select actor, idempotency_key, count(*) as n from ledger_transactions where idempotency_key is not null
      group by actor, idempotency_key having count(*) > 1 limit ${VIOLATIONS_MAX}`,
    describe: (r) => `idempotency key "${r.idempotency_key}" of ${r.actor} has ${r.n} transactions`,
  },
  {
    name: 'refunds never exceed the charge',
    query: sql`select c.id, (-c.amount_millis)::text as charged, sum(r.amount_millis)::text as refunded from ledger_transactions c
      join ledger_transactions r on r.related_transaction_id = c.id and r.status = 'SUCCEEDED' and r.type in ('REFUND', 'REVERSAL')
      where c.type in ('CHARGE', 'CAPTURE') group by c.id, c.amount_millis having sum(r.amount_millis) > -c.amount_millis limit ${VIOLATIONS_MAX}`,
    describe: (r) => `charge ${r.id}: refunded ${r.refunded} of ${r.charged}`,
  },
  {
    name: 'each plan allowance grant is the GRANT of its period, on its account, of its allowance',
    query: sql`select p.id from subscription_periods p
      left join ledger_transactions t on t.id = p.transaction_id
      left join buckets b on b.id = p.bucket_id
      where (p.allowance_millis > 0 and (t.id is null or t.type <> 'GRANT' or t.status <> 'SUCCEEDED' or t.account_id <> p.account_id
        or b.id is null or b.source <> 'PLAN_ALLOWANCE' or b.amount_millis <> p.allowance_millis or b.expires_at <> p.period_end))
        or (p.allowance_millis = 0 and (p.transaction_id is not null or p.bucket_id is not null))
      limit ${VIOLATIONS_MAX}`,
    describe: (r) => `subscription period ${r.id}: its grant does not match (transaction, bucket, amount or expiry)`,
  },
  {
    name: 'a live subscription and its wallet agree on the renewal time',
    query: sql`select s.id from subscriptions s join wallets w on w.account_id = s.account_id
      where s.status <> 'CANCELED' and (w.plan_renews_at is distinct from s.current_period_end or w.plan_code is null)
      limit ${VIOLATIONS_MAX}`,
    describe: (r) => `subscription ${r.id}: the wallet's renewal time or plan differs from the subscription's period`,
  },
];

export interface AuditResult {
  ok: boolean;
  violations: string[];
  walletsChecked: number;
  transactionsChecked: number;
}

/** Every check on what `executor` sees (an open transaction sees its own uncommitted rows). */
export async function auditLedger(executor: Executor): Promise<AuditResult> {
  const violations: string[] = [];
  for (const c of CHECKS) {
    for (const row of await rows<Record<string, string | null>>(executor, c.query)) {
      violations.push(`${c.name}: ${c.describe(row)}`);
    }
  }
  const [counts] = await rows<{ wallets: string; transactions: string }>(executor,
    sql`select (select count(*) from wallets)::text as wallets, (select count(*) from ledger_transactions)::text as transactions`);
  return { ok: violations.length === 0, violations: violations.slice(0, VIOLATIONS_MAX), walletsChecked: Number(counts.wallets), transactionsChecked: Number(counts.transactions) };
}

export class AuditService {
  constructor(private readonly database: Database) {}

  async run(): Promise<AuditResult> {
    if (this.database.driver === 'pglite') return auditLedger(this.database.db);
    return this.database.db.transaction(auditLedger, { isolationLevel: 'repeatable read', accessMode: 'read only' });
  }
}
