/**
 * Steps the plan tests share: plans with unique codes (the PostgreSQL database is shared by every
 * test file), subscription operations, charges, and views of a wallet's buckets and history.
 */
import {
  AccountSubscriptionDocument, CancelSubscriptionDocument, ChangePlanDocument, ChargeDocument, CreatePlanDocument, SubscribeDocument,
  type ChargeInput, type PlanInput, type TransactionFieldsFragment,
} from '../../src/client';
import { uniqueKey, type TestApp } from './harness';

export const HOUR = 3600;
export const DAY = 24 * HOUR;
export const iso = (text: string) => new Date(text).toISOString();
export const at = (base: Date, seconds: number) => new Date(base.getTime() + seconds * 1000).toISOString();

/** The plan allowance grants among a history (newest first). */
export const allowanceGrants = (history: TransactionFieldsFragment[]) =>
  history.filter((x) => x.type === 'GRANT' && x.entries.some((e) => e.bucketSource === 'PLAN_ALLOWANCE'));

/** `app()` is the test file's harness (started in its beforeAll); `planDefaults` fill every created plan. */
export function planSteps(app: () => TestApp, planDefaults: Partial<PlanInput> = {}) {
  return {
    createPlan: async (input: Partial<PlanInput> = {}, prefix = 'plan') => {
      const code = uniqueKey(prefix).toLowerCase();
      return (await app().op(CreatePlanDocument, {
        input: { code, name: `Plan ${code}`, price: { amount: '10.00', currency: 'USD' }, allowance: '100', ...planDefaults, ...input },
      })).createPlan;
    },
    subscribe: async (accountId: string, planCode: string, idempotencyKey = uniqueKey('sub')) => {
      return (await app().op(SubscribeDocument, { input: { accountId, planCode, idempotencyKey } })).subscribe;
    },
    changePlan: async (accountId: string, planCode: string, idempotencyKey = uniqueKey('change')) => {
      return (await app().op(ChangePlanDocument, { input: { accountId, planCode, idempotencyKey } })).changePlan;
    },
    cancel: async (accountId: string, atPeriodEnd?: boolean) => {
      return (await app().op(CancelSubscriptionDocument, { input: { accountId, atPeriodEnd, idempotencyKey: uniqueKey('cancel') } })).cancelSubscription;
    },
    /** The account's subscription (null: none) with its newest `periods` grants; fails when the account does not exist. */
    subscription: async (accountId: string, periods = 20) => {
      const account = (await app().op(AccountSubscriptionDocument, { id: accountId, periods })).account;
      if (!account) throw new Error(`no account ${accountId}`);
      return account.subscription;
    },
    /** Like subscription, but fails when there is none. */
    requireSubscription: async (accountId: string, periods = 20) => {
      const account = (await app().op(AccountSubscriptionDocument, { id: accountId, periods })).account;
      if (!account?.subscription) throw new Error(`no subscription for ${accountId}`);
      return account.subscription;
    },
    charge: async (accountId: string, amount: string, extra: Partial<ChargeInput> = {}) => {
      return (await app().op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('charge'), ...extra } })).charge;
    },
    chargeFails: (accountId: string, amount: string, extra: Partial<ChargeInput> = {}) => {
      return app().opFails(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('charge'), ...extra } });
    },
    cleanAudit: async () => {
      expect(await app().audit()).toEqual({ ok: true, violations: [] });
    },
    /** A wallet's live buckets by what they are, in burn-down order. */
    bucketsOf: async (accountId: string) => {
      return (await app().wallet(accountId)).buckets.map((b) => ({ source: b.source, amount: b.amount, remaining: b.remaining, held: b.held, expiresAt: b.expiresAt }));
    },
  };
}
