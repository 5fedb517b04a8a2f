/**
 * The demo loaded on a fresh database: the plan catalogue (Free, Basic, Pro, Enterprise), credit packs and
 * volume prices, an admin key,
 * one user account on the Free plan with a credit pack, and its token.
 * Loaded once (a settings row marks it); later starts print a fresh user token only, since API key
 * secrets are never stored and cannot be shown again.
 */
import type { Services } from '../graphql/services';
import { parseCredits } from '../shared/credits';
import { loadDemoCatalogue } from '../modules/plans';
import { loadDemoPacks } from '../modules/purchases';

export interface Demo {
  accountId: string;
  accountName: string;
  adminKey: string | null;
  userToken: string;
}

const DEMO_EXTERNAL_ID = 'demo-user';

export async function loadDemo(services: Services): Promise<Demo> {
  await loadDemoCatalogue(services.plans);
  await loadDemoPacks(services.purchases);
  let account = await services.accounts.findByExternalId(DEMO_EXTERNAL_ID);
  let adminKey: string | null = null;
  if (!account) {
    const key = await services.auth.createApiKey('demo admin', 'ADMIN');
    adminKey = key.secret;
    account = await services.accounts.create({ name: 'Demo User', kind: 'USER', externalId: DEMO_EXTERNAL_ID, email: 'demo@example.com' }, `key:${key.id}`);
    const actor = { id: `key:${key.id}`, scope: `key:${key.id}` };
    await services.plans.subscribe(actor, { accountId: account.id, planCode: 'free', idempotencyKey: 'demo-subscription' });
    await services.ledger.grant(actor, {
      accountId: account.id, amountMillis: parseCredits('2500'), source: 'PURCHASE', idempotencyKey: 'demo-pack',
      comment: 'demo: 2,500 credit pack', costPerCredit: '0.01', currency: 'USD',
    });
  }

  const { token } = services.auth.issueUserToken(account.id, services.config.userTokenTtlSecondsDefault);
  return { accountId: account.id, accountName: account.name, adminKey, userToken: token };
}
