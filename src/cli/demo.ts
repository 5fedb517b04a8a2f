/**
 * The demo loaded on a fresh database: an admin key, one user account with credits, and its token.
 * Loaded once (a settings row marks it); later starts print a fresh user token only, since API key
 * secrets are never stored and cannot be shown again.
 */
import type { Services } from '../graphql/services';
import { parseCredits } from '../shared/credits';

export interface Demo {
  accountId: string;
  accountName: string;
  adminKey: string | null;
  userToken: string;
}

const DEMO_EXTERNAL_ID = 'demo-user';

export async function loadDemo(services: Services): Promise<Demo> {

  let account = await services.accounts.findByExternalId(DEMO_EXTERNAL_ID);
  let adminKey: string | null = null;
  if (!account) {
    const key = await services.auth.createApiKey('demo admin', 'ADMIN');
    adminKey = key.secret;
    account = await services.accounts.create({ name: 'Demo User', kind: 'USER', externalId: DEMO_EXTERNAL_ID }, `key:${key.id}`);
    const actor = { id: `key:${key.id}`, scope: `key:${key.id}` };
    await services.ledger.grant(actor, {
      accountId: account.id, amountMillis: parseCredits('1500'), source: 'PLAN_ALLOWANCE', idempotencyKey: 'demo-allowance',
      comment: 'demo: monthly allowance', expiresAt: new Date(services.clock.now().getTime() + 30 * 24 * 3600 * 1000),
    });
    await services.ledger.grant(actor, {
      accountId: account.id, amountMillis: parseCredits('2500'), source: 'PURCHASE', idempotencyKey: 'demo-pack',
      comment: 'demo: 2,500 credit pack', costPerCredit: '0.01', currency: 'USD',
    });
  }

  const { token } = services.auth.issueUserToken(account.id, services.config.userTokenTtlSecondsDefault);
  return { accountId: account.id, accountName: account.name, adminKey, userToken: token };
}
