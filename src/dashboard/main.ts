/**
 * The dashboard at /dashboard: signs in with a user token (that account's credits) or an API key
 * (account search; ADMIN keys also get the platform view), and keeps the page live over graphql-ws.
 * Bundled by src/cli/build-dashboard.ts; served by src/server/dashboard.ts.
 */
import { ViewerDocument, type CreditsClient, type ViewerQuery } from '../client';
import { connect, isUnauthenticated, problem, type SocketState } from './api';
import { byId, show } from './dom';
import { forgetToken, keepToken, takeToken } from './session';
import { AccountView } from './account-view';
import { AdminView } from './admin-view';
import { ForecastPanel } from './forecast-panel';
import { UsagePanel } from './usage-panel';
import { PlatformPanel } from './platform-panel';
import { SummaryPanel } from './summary-panel';

interface Session {
  client: CreditsClient;
  viewer: ViewerQuery['viewer'];
  admin: AdminView | null;
  account: AccountView | null;
}

let session: Session | null = null;
/** The credential signed in with, for requests outside the GraphQL client (the CSV downloads); also kept in sessionStorage when it may. */
let signedInToken: string | null = null;

function notice(message: string | null): void {
  const element = byId('notice');
  element.textContent = message ?? '';
  show(element, Boolean(message));
}

function liveStatus(state: SocketState): void {
  const element = byId('live-status');
  if (!session) return;
  show(element, true);
  element.className = `live-status ${state === 'connected' ? 'on' : 'off'}`;
  element.textContent = state === 'connected' ? 'Live' : 'Reconnecting…';
}

function showSignIn(error = ''): void {
  show(byId('sign-in'), true);
  show(byId('sign-out'), false);
  show(byId('live-status'), false);
  byId('who').textContent = '';
  byId('sign-in-error').textContent = error;
  byId('token-input').focus();
}

async function signIn(token: string): Promise<void> {
  notice(null);
  byId('sign-in-error').textContent = '';
  const client = connect(token, liveStatus);
  let viewer: ViewerQuery['viewer'];
  try {
    viewer = (await client.request(ViewerDocument)).viewer;
  } catch (error) {
    await client.close();
    forgetToken();
    showSignIn(isUnauthenticated(error) ? 'This token or key was not accepted: it may have expired, been revoked or been mistyped.' : `Could not sign in: ${problem(error)}`);
    return;
  }
  keepToken(token);
  signedInToken = token;
  session = { client, viewer, admin: null, account: null };
  show(byId('sign-in'), false);
  show(byId('sign-out'), true);
  if (viewer.kind === 'USER_TOKEN' && viewer.accountId) {
    byId('who').textContent = 'Signed in with a user token';
    await openAccount(viewer.accountId, true);
  } else {
    const role = viewer.role ?? 'API';
    byId('who').textContent = `Signed in with ${role === 'ADMIN' ? 'an' : 'a'} ${role} key`;
    byId('admin-heading').textContent = role === 'ADMIN' ? 'Platform' : 'Accounts';
    const open = (id: string) => void openAccount(id, false);
    session.admin = new AdminView({
      client, isAdmin: role === 'ADMIN', openAccount: open, panels: [new PlatformPanel(client, open)],
      onUnauthenticated: expired, onNotice: notice,
    });
    await session.admin.start().catch(() => undefined); // failures are shown as notices
  }
}

/** Shows one account's credits: the user's own, or one an API key opened from the platform view. */
async function openAccount(accountId: string, own: boolean): Promise<void> {
  const current = session;
  if (!current) return;
  current.account?.stop();
  current.admin?.hide();
  const role = current.viewer.role;
  const view = new AccountView({
    client: current.client, accountId, own,
    canBuy: own || role === 'ADMIN' || role === 'SERVICE',
    canMarkRead: own || role === 'ADMIN' || role === 'SERVICE',
    panels: [
      new ForecastPanel(current.client, accountId), new UsagePanel(current.client, accountId),
      new SummaryPanel(current.client, accountId, () => signedInToken),
    ],
    onUnauthenticated: expired, onNotice: notice,
  });
  current.account = view;
  const back = byId('back-to-admin');
  show(back, !own);
  back.onclick = own ? null : () => {
    view.stop();
    current.account = null;
    current.admin?.reveal();
    byId('admin-heading').focus();
  };
  await view.start().catch(() => undefined);
  if (!own) byId('account-heading').focus();
}

function expired(): void {
  void signOut('Your session ended (the token expired or the key was revoked). Sign in again.');
}

async function signOut(message = ''): Promise<void> {
  const ending = session;
  session = null;
  signedInToken = null;
  if (ending) {
    ending.account?.stop();
    ending.admin?.stop();
    await ending.client.close();
  }
  forgetToken();
  notice(null);
  showSignIn(message);
}

function boot(): void {
  byId('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>('token-input');
    const token = input.value.trim();
    input.value = '';
    if (!token) {
      byId('sign-in-error').textContent = 'Paste a user token or an API key first.';
      return;
    }
    void signIn(token);
  });
  byId('sign-out').addEventListener('click', () => void signOut());
  byId('admin-heading').tabIndex = -1;
  const token = takeToken();
  if (token) void signIn(token);
  else showSignIn();
}

boot();
