/**
 * The credential of this tab. It may arrive in the URL fragment (`/dashboard#token=…`: browsers never
 * send a fragment to a server, so it stays out of request lines, proxies and logs, and it is removed
 * from the address bar and history at once); it is then kept in sessionStorage, which ends with the tab.
 */
import { tokenFromFragment } from './format';

const STORAGE_KEY = 'credits.dashboard.token';

/** Takes a token from the fragment (and erases the fragment), else the one this tab kept. */
export function takeToken(): string | null {
  const fromFragment = tokenFromFragment(window.location.hash);
  if (window.location.hash) history.replaceState(null, '', window.location.pathname + window.location.search);
  if (fromFragment) {
    keepToken(fromFragment);
    return fromFragment;
  }
  return readToken();
}

export function readToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: the token lives only as long as the page
  }
}

export function keepToken(token: string): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // storage disabled: signed in until the page is left
  }
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing was kept
  }
}
