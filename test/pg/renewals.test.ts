/**
 * Plan renewals on PostgreSQL with two server instances on one database (each its own pool and its
 * own ManualClock, always set to the same instant): the renewal job run by both at once, charges
 * racing a renewal, and plan changes, charges and renewals together on the same wallets. Runs only
 * when DATABASE_URL names a PostgreSQL database; PGlite (one connection) reports the suite as skipped.
 *
 * The database is shared with other test files (and, during development, other processes), so this
 * file lives in its own era: its clocks are set in 1994, before anything else creates subscriptions,
 * so its renewal job runs find only its own subscriptions due, and theirs never find these. Every
 * test cancels its subscriptions when it ends, and beforeAll cancels any a crashed run left live.
 */
import { sql } from 'drizzle-orm';
import { rows } from '../../src/db/client';
import {
  ChangePlanDocument, ChargeDocument, CreatePlanDocument, CreditsApiError, type PlanInput, type TransactionFieldsFragment,
} from '../../src/client';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const DAY_MS = 86_400_000;
/** This file's era (see above); each test uses its own stretch of it. */
const ERA = Date.UTC(1994, 2, 1);
const PLAN_PREFIX = 'pgrenew-';

const suite = isPostgres() ? describe : describe.skip;

type Charged = TransactionFieldsFragment | CreditsApiError;

suite('PostgreSQL plan renewals with two instances (runs only with DATABASE_URL)', () => {
  let t1: TestApp;
  let t2: TestApp;

  const setClocks = (ms: number) => {
    t1.clock.set(new Date(ms));
    t2.clock.set(new Date(ms));
  };

  // Free by default: these tests are about renewals; a paid plan's periods are also paid through the provider (test/api/purchases-dunning.test.ts).
  async function createPlan(overrides: Partial<PlanInput> = {}): Promise<string> {
    const code = uniqueKey(PLAN_PREFIX).toLowerCase();
    await t1.op(CreatePlanDocument, { input: {
      code, name: `Renewal test ${code}`, price: { amount: '0.00', currency: 'USD' }, interval: 'DAY', intervalCount: 1,
      allowance: '100', rollover: 'NONE', ...overrides,
    } });
    return code;
  }

  /** Runs `work` over `items` with at most `parallel` at once; results in input order. */
  async function pool<T, R>(items: readonly T[], parallel: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const results = new Array<R>(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i], i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
    return results;
  }

  /** `count` new accounts subscribed to `planCode` at the clock's instant (createAccount(planCode)), 25 per request, half on each instance. */
  async function createSubscribed(planCode: string, count: number, parallel = 8): Promise<string[]> {
    const chunks = Array.from({ length: Math.ceil(count / 25) }, (_, c) => ({ from: c * 25, to: Math.min(count, c * 25 + 25) }));
    const ids: string[] = [];
    await pool(chunks, parallel, async ({ from, to }, c) => {
      const fields = Array.from({ length: to - from }, (_, k) =>
        `a${k}: createAccount(input: { name: "renewal ${from + k}", kind: USER, planCode: "${planCode}" }) { id }`).join('\n');
      const data = await (c % 2 ? t2 : t1).ok<Record<string, { id: string }>>(`mutation {\n${fields}\n}`);
      for (let k = 0; k < to - from; k += 1) ids[from + k] = data[`a${k}`].id;
    });
    expect(ids.filter(Boolean)).toHaveLength(count);
    return ids;
  }

  /**
   * Ends these accounts' subscriptions now (their plan credits expire), through the services of both
   * instances, so that no later job run (of this file or, at today's date, of any other) finds them due.
   */
  async function cancelAll(accountIds: readonly string[]): Promise<void> {
    const actor = { id: 'system:test-cleanup', scope: 'system:test-cleanup' };
    await pool(accountIds, 8, (accountId, i) =>
      (i % 2 ? t2 : t1).app.services.plans.cancel(actor, { accountId, atPeriodEnd: false, idempotencyKey: uniqueKey('cancel') }));
  }

  /** Both instances run the renewal job `perInstance` times at once, again until a whole round renews nothing; returns the total renewed. */
  async function renewUntilDone(perInstance: number, batchSize: number): Promise<number> {
    let total = 0;
    for (let round = 0; round < 20; round += 1) {
      const runs = [t1, t2].flatMap((t) => Array.from({ length: perInstance }, () => t.app.services.plans.runRenewals(batchSize)));
      const renewed = await Promise.all(runs);
      total += renewed.reduce((s, n) => s + n, 0);
      if (renewed.every((n) => n === 0)) return total;
    }
    throw new Error('renewal runs still renewing after 20 rounds');
  }

  /** A charge through one instance; a refusal is returned rather than thrown. */
  const charge = (t: TestApp, accountId: string, amount: string): Promise<Charged> =>
    t.op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('charge') } }).then((d) => d.charge, (error: unknown) => {
      if (error instanceof CreditsApiError) return error;
      throw error;
    });

  /** The account's posted transactions, oldest first. */
  const posted = async (t: TestApp, accountId: string) =>
    (await t.history(accountId)).filter((x) => x.sequence !== null).sort((a, b) => a.sequence! - b.sequence!);

  interface PeriodCounts { accountId: string; renewals: number; upgrades: number; starts: number; duplicates: number; renewalGrants: number; balance: number }

  /** Per subscription of the plan (by its code at subscription time: the plan row), what the database holds. */
  async function periodCounts(accountIds: readonly string[]): Promise<Map<string, PeriodCounts>> {
    const found = await rows<{ account_id: string; renewals: string; upgrades: string; starts: string; duplicates: string; renewal_grants: string; balance: string }>(t1.database.db, sql`
      select s.account_id,
        (select count(*) from subscription_periods p where p.subscription_id = s.id and p.kind = 'RENEWAL')::text as renewals,
        (select count(*) from subscription_periods p where p.subscription_id = s.id and p.kind = 'UPGRADE')::text as upgrades,
        (select count(*) from subscription_periods p where p.subscription_id = s.id and p.kind = 'START')::text as starts,
        (select count(*) from (select 1 from subscription_periods p where p.subscription_id = s.id and p.kind <> 'UPGRADE'
           group by p.period_start having count(*) > 1) d)::text as duplicates,
        (select count(*) from ledger_transactions x where x.account_id = s.account_id and x.type = 'GRANT' and x.status = 'SUCCEEDED'
           and x.actor = 'system:renewal')::text as renewal_grants,
        (select coalesce(sum(b.remaining_millis), 0) from buckets b where b.account_id = s.account_id)::text as balance
      from subscriptions s where s.account_id::text = any(string_to_array(${accountIds.join(',')}, ','))`);
    return new Map(found.map((r) => [r.account_id, {
      accountId: r.account_id, renewals: Number(r.renewals), upgrades: Number(r.upgrades), starts: Number(r.starts),
      duplicates: Number(r.duplicates), renewalGrants: Number(r.renewal_grants), balance: Number(r.balance),
    }]));
  }

  beforeAll(async () => {
    t1 = await startTestApp();
    t2 = await startTestApp(); // a second instance: its own pool, its own clock, the same database
    // A run that crashed may have left subscriptions of this era live: end them (at the latest instant
    // they reached, so whatever is due renews first, as any operation on their wallets would).
    const left = await rows<{ account_id: string; until: Date | string }>(t1.database.db, sql`
      select s.account_id, s.current_period_end as until from subscriptions s join plans p on p.id = s.plan_id
      where s.status <> 'CANCELED' and p.code like ${`${PLAN_PREFIX}%`}`);
    if (left.length > 0) {
      setClocks(Math.max(...left.map((r) => new Date(r.until).getTime())));
      await cancelAll(left.map((r) => r.account_id));
    }
  }, 120_000);
  afterAll(async () => {
    await t2?.close();
    await t1?.close();
  });

  test('two instances renewing 1,000 due subscriptions at once: each renewal happens exactly once', async () => {
    const start = ERA;
    setClocks(start);
    const code = await createPlan();
    const accounts = await createSubscribed(code, 1000);
    try {
      // All periods end at start + 1 day; both instances' job, two runs each, all at once.
      setClocks(start + DAY_MS + 1000);
      const renewed = await renewUntilDone(2, 100);
      expect(renewed).toBeGreaterThanOrEqual(1000); // exactly 1000 unless something else of this era was due

      const counts = await periodCounts(accounts);
      expect(counts.size).toBe(1000);
      const wrong = [...counts.values()].filter((c) =>
        c.starts !== 1 || c.renewals !== 1 || c.upgrades !== 0 || c.duplicates !== 0 || c.renewalGrants !== 1 || c.balance !== 100_000);
      expect(wrong).toEqual([]);

      // The period rows point at their grants, and every subscription moved on to the new period.
      const [summary] = await rows<{ subs: string; moved: string; linked: string; wallets_renewed: string }>(t1.database.db, sql`
        select count(*)::text as subs,
          count(*) filter (where s.current_period_start = ${new Date(start + DAY_MS).toISOString()}::timestamptz
            and s.current_period_end = ${new Date(start + 2 * DAY_MS).toISOString()}::timestamptz and s.period_index = 1)::text as moved,
          count(*) filter (where exists (select 1 from subscription_periods p join ledger_transactions x on x.id = p.transaction_id
            where p.subscription_id = s.id and p.kind = 'RENEWAL' and x.type = 'GRANT' and x.amount_millis = 100000))::text as linked,
          count(*) filter (where w.plan_renews_at = s.current_period_end and w.plan_code = ${code})::text as wallets_renewed
        from subscriptions s join plans pl on pl.id = s.plan_id join wallets w on w.account_id = s.account_id where pl.code = ${code}`);
      expect(summary).toEqual({ subs: '1000', moved: '1000', linked: '1000', wallets_renewed: '1000' });

      // A few wallets in detail: the old allowance expired whole, the new one granted once.
      for (const accountId of [accounts[0], accounts[499], accounts[999]]) {
        const txs = await posted(t1, accountId);
        expect(txs.map((x) => [x.type, x.amount, x.actor])).toEqual([
          ['GRANT', '100', expect.stringMatching(/^key:/)], ['EXPIRE', '-100', 'system:renewal'], ['GRANT', '100', 'system:renewal'],
        ]);
      }
      // Nothing is due any more: further runs on either instance renew nothing.
      expect(await renewUntilDone(2, 100)).toBe(0);
      expect(await t1.audit()).toEqual({ ok: true, violations: [] });
    } finally {
      await cancelAll(accounts);
    }
  }, 240_000);

  test('a charge racing the renewal is paid from the new allowance, whoever renews; one renewal per period', async () => {
    const none = await createPlan({ rollover: 'NONE' });
    const capped = await createPlan({ rollover: 'CAPPED', rolloverCap: '25' });
    const rounds = 8;
    const perRound = 16;
    let byJob = 0;
    for (let round = 0; round < rounds; round += 1) {
      const roundStart = ERA + 10 * DAY_MS + round * 3 * DAY_MS;
      setClocks(roundStart);
      const accounts = [
        ...await createSubscribed(none, perRound / 2, 2),
        ...await createSubscribed(capped, perRound / 2, 2),
      ];
      try {
        // 10 of each 100 allowance used during the period, so 90 are left at its end.
        for (const [i, accountId] of accounts.entries()) expect(await charge(i % 2 ? t2 : t1, accountId, '10')).toMatchObject({ status: 'SUCCEEDED' });
        setClocks(roundStart + DAY_MS + 1000 * (1 + round));

        // Two charges (one per instance) on each wallet, and both instances' renewal job, all at once,
        // each charge after a small pseudo-random delay so the order varies from wallet to wallet.
        const delay = (i: number, salt: number) => new Promise((resolve) => setTimeout(resolve, (i * 7 + salt * 5 + round * 3) % 12));
        const jobs = Promise.all([t1.app.services.plans.runRenewals(4), t2.app.services.plans.runRenewals(4)]);
        const charged = await Promise.all(accounts.map(async (accountId, i) => Promise.all([
          delay(i, 1).then(() => charge(t1, accountId, '30')),
          delay(i, 2).then(() => charge(t2, accountId, '20')),
        ])));
        byJob += (await jobs).reduce((sum, n) => sum + n, 0);
        expect(await renewUntilDone(1, 50)).toBe(0); // the job and the charges left nothing due

        const counts = await periodCounts(accounts);
        for (const [i, accountId] of accounts.entries()) {
          const isCapped = i >= perRound / 2;
          for (const result of charged[i]) expect(result).toMatchObject({ status: 'SUCCEEDED' });
          const c = counts.get(accountId)!;
          expect(c).toMatchObject({ starts: 1, renewals: 1, duplicates: 0, renewalGrants: 1, balance: (isCapped ? 125 - 50 : 100 - 50) * 1000 });

          const txs = await posted(t1, accountId);
          const types = txs.map((x) => x.type);
          // Renewal first (rollover, expiry of the rest, new grant), then both charges in some order.
          expect(types.slice(0, 2)).toEqual(['GRANT', 'CHARGE']);
          expect(types.slice(2, -2)).toEqual(isCapped ? ['ROLLOVER', 'EXPIRE', 'GRANT'] : ['EXPIRE', 'GRANT']);
          expect(types.slice(-2)).toEqual(['CHARGE', 'CHARGE']);
          const oldAllowance = txs[0].entries[0].bucketId;
          const expire = txs.find((x) => x.type === 'EXPIRE')!;
          expect(expire).toMatchObject({ amount: isCapped ? '-65' : '-90', actor: 'system:renewal' });
          expect(expire.entries.map((e) => e.bucketId)).toEqual([oldAllowance]);
          const grant = txs[txs.length - 3];
          expect(grant).toMatchObject({ type: 'GRANT', amount: '100', actor: 'system:renewal' });
          const newBuckets = new Set([grant.entries[0].bucketId]);
          const rollover = txs.find((x) => x.type === 'ROLLOVER');
          if (rollover) for (const e of rollover.entries) if (Number(e.amount) > 0) newBuckets.add(e.bucketId);
          // The racing charges took nothing from the old allowance: only the new allowance (and the rolled-over credits).
          for (const x of txs.slice(-2)) {
            expect(x.entries.length).toBeGreaterThan(0);
            for (const e of x.entries) expect(newBuckets.has(e.bucketId)).toBe(true);
          }
          expect(txs[txs.length - 1].balanceAfter).toBe(String(isCapped ? 75 : 50));
        }
      } finally {
        await cancelAll(accounts);
      }
    }
    // Both ways happened: the job renewed some wallets, the racing charges (lazily, in their own
    // transaction) the others. Each renewal is counted once, by whoever did it.
    expect(byJob).toBeGreaterThan(0);
    expect(byJob).toBeLessThan(rounds * perRound);
    expect(await t1.audit()).toEqual({ ok: true, violations: [] });
  }, 240_000);

  test('upgrades, charges and renewal runs on the same wallets at once: no deadlock, nothing but expected refusals', async () => {
    const small = await createPlan({ allowance: '100', price: { amount: '10.00', currency: 'USD' } });
    const big = await createPlan({ allowance: '200', price: { amount: '20.00', currency: 'USD' } });
    const start = ERA + 60 * DAY_MS;
    setClocks(start);
    const accounts = await createSubscribed(small, 30, 2);
    try {
      const unexpected: unknown[] = [];
      const refusals = new Map<string, number>();
      const settle = async (work: Promise<unknown>, allowed: string[]) => {
        try {
          const result = await work;
          if (result instanceof CreditsApiError) throw result;
        } catch (error) {
          const code = error instanceof CreditsApiError ? error.code : null;
          if (code && allowed.includes(code)) refusals.set(code, (refusals.get(code) ?? 0) + 1);
          else unexpected.push(error instanceof CreditsApiError ? `${error.code}: ${error.message}` : error);
        }
      };
      const change = (t: TestApp, accountId: string, planCode: string) =>
        t.op(ChangePlanDocument, { input: { accountId, planCode, idempotencyKey: uniqueKey('change') } });

      // Phase 1: every period ended an hour ago. Per wallet: an upgrade, three charges of 40 (over both
      // instances), while both instances run the renewal job twice.
      setClocks(start + DAY_MS + 3_600_000);
      await Promise.all([
        ...accounts.flatMap((accountId, i) => [
          settle(change(i % 2 ? t1 : t2, accountId, big), []),
          settle(charge(t1, accountId, '40'), ['INSUFFICIENT_CREDITS']),
          settle(charge(t2, accountId, '40'), ['INSUFFICIENT_CREDITS']),
          settle(charge(i % 3 ? t1 : t2, accountId, '40'), ['INSUFFICIENT_CREDITS']),
        ]),
        ...[t1, t2, t1, t2].map((t) => settle(t.app.services.plans.runRenewals(8), [])),
      ]);
      expect(unexpected).toEqual([]);

      // Phase 2, a day later: a downgrade (scheduled), charges and renewals, again all at once.
      setClocks(start + 2 * DAY_MS + 3_600_000);
      await Promise.all([
        ...accounts.flatMap((accountId, i) => [
          settle(charge(t2, accountId, '30'), ['INSUFFICIENT_CREDITS']),
          settle(change(i % 2 ? t2 : t1, accountId, small), []),
          settle(charge(t1, accountId, '30'), ['INSUFFICIENT_CREDITS']),
        ]),
        ...[t2, t1, t2, t1].map((t) => settle(t.app.services.plans.runRenewals(8), [])),
      ]);
      expect(unexpected).toEqual([]);
      expect(await renewUntilDone(1, 50)).toBe(0);

      const counts = await periodCounts(accounts);
      const [state] = await rows<{ on_big: string; scheduled_small: string }>(t1.database.db, sql`
        select count(*) filter (where pl.code = ${big})::text as on_big, count(*) filter (where sp.code = ${small})::text as scheduled_small
        from subscriptions s join plans pl on pl.id = s.plan_id left join plans sp on sp.id = s.scheduled_plan_id
        where s.account_id::text = any(string_to_array(${accounts.join(',')}, ',')) and s.status = 'ACTIVE'`);
      expect(state).toEqual({ on_big: String(accounts.length), scheduled_small: String(accounts.length) });
      for (const accountId of accounts) {
        // Two period ends passed: two renewals, each once; one upgrade.
        expect(counts.get(accountId)).toMatchObject({ starts: 1, renewals: 2, upgrades: 1, duplicates: 0, renewalGrants: 2 });
        const txs = await posted(t1, accountId);
        const last = txs[txs.length - 1];
        expect(Math.round(Number(last.balanceAfter) * 1000)).toBe(counts.get(accountId)!.balance);
        expect(txs.reduce((s, x) => s + Math.round(Number(x.amount) * 1000), 0)).toBe(counts.get(accountId)!.balance);
        expect(txs.map((x) => x.sequence)).toEqual(txs.map((_, i) => i + 1));
      }
      expect(await t1.audit()).toEqual({ ok: true, violations: [] });
    } finally {
      await cancelAll(accounts);
    }
  }, 240_000);
});

if (!isPostgres()) {
  test.skip('PostgreSQL renewal tests need DATABASE_URL (skipped on PGlite)', () => {});
}
