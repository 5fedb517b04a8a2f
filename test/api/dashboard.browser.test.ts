/**
 * The dashboard in headless Chromium: Debian's /usr/bin/chromium driven by playwright-core (no
 * browser is downloaded; .ci/run installs the `chromium` package when it is missing). Without it the
 * file is skipped, except under CI=true, where that is a failure.
 *
 * One browser and one server for the file; the tests run in order on one page, as a reader would:
 * sign in from the link, watch a charge arrive (balance, history, usage chart, forecast), buy credits
 * through the test provider's checkout, get a low-credit alert, use the keyboard, sign out, sign in as
 * an admin. Every request the browser makes is recorded: none may
 * leave this machine. A screenshot is kept in test-artifacts/dashboard.png (and, with
 * UPDATE_DOCS_SCREENSHOT=1, in docs/dashboard.png for the README).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ChargeDocument, CreateCreditPackDocument } from '../../src/client';
import { buildDashboard } from '../../src/cli/build-dashboard';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { WEBHOOK_SECRET } from '../helpers/purchases';
import { ROOT } from '../helpers/build';
import { formatCredits, parseCredits } from '../../src/shared/credits';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/** Long enough for a webhook round trip on a busy 2-core machine; short enough to fail fast. */
const WAIT_MS = 15_000;

/**
 * The page's globals that the functions below run with inside the browser (page.evaluate). The test
 * program has no DOM types (it is server code), so these few are declared here, for this file only.
 */
interface PageElement {
  id: string;
  textContent: string | null;
  outerHTML: string;
  offsetParent: unknown;
  dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
  blur(): void;
}
declare const document: {
  activeElement: PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};
declare const sessionStorage: { getItem(key: string): string | null };
declare const window: { sameDocument?: boolean };
declare function getComputedStyle(element: PageElement): { outlineStyle: string };

/** "1,217.5 credits" → millicredits. */
const creditsShown = (text: string | null) => parseCredits((text ?? '').replace(/ credits?$/, '').replace(/,/g, ''));

if (!hasChromium && process.env.CI !== 'true') {
  console.warn(`${CHROMIUM} is missing: the dashboard browser test is skipped (apt-get install chromium to run it; .ci/run does).`);
}

if (!hasChromium && process.env.CI === 'true') {
  test('the browser for the dashboard test is installed', () => {
    throw new Error(`${CHROMIUM} is missing under CI=true: .ci/run installs the chromium package before the tests`);
  });
}

(hasChromium ? describe : describe.skip)('the dashboard in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let accountId: string;
  let accountName: string;
  let userToken: string;
  /** Every URL the browser asked for (pages, scripts, XHR/fetch, WebSockets) and those that were not local. */
  const requested: string[] = [];
  const blocked: string[] = [];
  const pageErrors: string[] = [];

  const isLocal = (url: string) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);

  async function waitForText(selector: string, text: string, target: Page = page): Promise<void> {
    await target.waitForFunction(([s, expected]) => document.querySelector(s)?.textContent?.includes(expected) === true, [selector, text] as const, { timeout: WAIT_MS });
  }

  beforeAll(async () => {
    await buildDashboard();
    t = await startTestApp({ paymentWebhookSecret: WEBHOOK_SECRET, testProviderDuplicatePercent: 0 });
    accountName = `Dashboard reader ${uniqueKey('d')}`;
    accountId = await t.createAccount(accountName);
    await t.grant(accountId, '120', { source: 'PURCHASE' });
    await t.grant(accountId, '30', { source: 'PROMO', expiresAt: new Date(t.clock.now().getTime() + 5 * 86_400_000).toISOString() });
    userToken = await t.userToken(accountId);
    const services = t.app.services;
    await services.db.transaction((tx) => services.alerts.raise(tx, {
      accountId, kind: 'AUTO_TOP_UP_FAILED', thresholdMillis: null, availableMillis: 150_000, message: 'Automatic top-up failed three times and was turned off.',
    }, t.clock.now()));

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, colorScheme: 'light' });
    // Anything not on this machine is recorded and refused, so a mistake shows here and leaks nothing.
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (isLocal(url)) await route.continue();
      else {
        blocked.push(url);
        await route.abort();
      }
    });
    context.on('request', (request) => requested.push(request.url()));
    page = await context.newPage();
    page.on('websocket', (socket) => requested.push(socket.url()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()); });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  test('the link signs in with the user token, drops it from the address bar, and shows the balance', async () => {
    await page.goto(`${t.url}/dashboard#token=${encodeURIComponent(userToken)}`);
    await waitForText('#balance', '150 credits');
    expect(page.url()).toBe(`${t.url}/dashboard`);
    expect(await page.evaluate(() => sessionStorage.getItem('credits.dashboard.token'))).toBe(userToken);
    expect(await page.textContent('#account-heading')).toBe('Your credits');
    expect(await page.textContent('[data-testid="available"]')).toBe('150 credits');
    expect(await page.textContent('[data-testid="purchased-credits"]')).toBe('120 credits');
    expect(await page.textContent('[data-testid="free-credits"]')).toBe('30 credits');
    expect(await page.getAttribute('#balance', 'aria-live')).toBe('polite');
  });

  test('a charge made through the API moves the balance without a reload', async () => {
    await waitForText('#live-status', 'Live'); // the subscription is open
    await page.evaluate(() => { window.sameDocument = true; });
    await t.op(ChargeDocument, { input: { accountId, amount: '2.5', action: 'image.generate', model: 'flux', idempotencyKey: uniqueKey('c') } });
    await waitForText('#balance', '147.5 credits');
    await waitForText('#history-body', 'image.generate · flux');
    expect(await page.evaluate(() => window.sameDocument)).toBe(true);
  });

  test('the usage chart (Chart.js) and the forecast follow the charge', async () => {
    await waitForText('#usage-table', 'image.generate · flux');
    expect(await page.isVisible('#usage-chart')).toBe(true);
    expect(await page.getAttribute('#usage-chart', 'aria-label')).toContain('2.5 credits used in the last 30 days');
    // The promotion (charged first: it expires first) expires within 7 days: what is left of it.
    await waitForText('[data-testid="expiring-soon"]', '27.5 credits');
    expect(await page.textContent('[data-testid="burn-rate"]')).toMatch(/^[\d,.]+ credits?$/);
  });

  test('an alert is listed unread and can be marked read', async () => {
    await waitForText('#alerts-body', 'Automatic top-up failed three times');
    await waitForText('#alerts-body', 'New');
    await page.click('#alerts-body button');
    await page.waitForFunction(() => document.querySelector('#alerts-body li')?.getAttribute('class') === 'read', undefined, { timeout: WAIT_MS });
    expect(await page.isHidden('#alerts-read-all')).toBe(true);
  });

  test('buying a pack: the test provider\'s checkout opens, and the paid credits arrive live', async () => {
    const code = uniqueKey('dash-pack').toLowerCase();
    await t.op(CreateCreditPackDocument, { input: { code, name: 'Browser pack', credits: '100', price: { amount: '5.00', currency: 'USD' } } });
    await page.reload(); // the pack list is read when the page opens; the token is still in sessionStorage
    await waitForText('#balance', '147.5 credits');
    const purchasedBefore = creditsShown(await page.textContent('[data-testid="purchased-credits"]'));
    const [checkout] = await Promise.all([context.waitForEvent('page'), page.click(`[data-pack="${code}"]`)]);
    await checkout.waitForLoadState();
    expect(new URL(checkout.url()).pathname).toMatch(/^\/checkout\/test\//);
    await checkout.click('#pay');
    await waitForText('#result', 'Payment accepted', checkout);
    await checkout.close();
    await waitForText('#balance', '247.5 credits');
    await waitForText('[data-testid="purchased-credits"]', `${formatCredits(purchasedBefore + parseCredits('100'))} credits`);
  });

  test('an alert raised outside a charge (as the forecasts job does) arrives on lowCreditAlerts, and is announced', async () => {
    const services = t.app.services;
    const raised = await services.db.transaction((tx) => services.alerts.raise(tx, {
      accountId, kind: 'RUN_OUT_SOON', thresholdMillis: null, availableMillis: 247_500, message: 'At the current rate the credits run out in 2 days.',
    }, t.clock.now()));
    services.events.publishAlerts([raised!]); // after commit, as the jobs do; no wallet event comes with it
    await waitForText('#alerts-body', 'the credits run out in 2 days');
    await waitForText('#alerts-announce', 'New alert: At the current rate');
  });

  test('a charge crossing a low-credit level brings its alert without a reload', async () => {
    await t.ok(`mutation($i: UpdateWalletInput!) { updateWallet(input: $i) { accountId } }`, { i: { accountId, lowCreditThresholds: ['100'] } });
    await t.op(ChargeDocument, { input: { accountId, amount: '150', action: 'video.generate', idempotencyKey: uniqueKey('c') } });
    await waitForText('#balance', '97.5 credits');
    await waitForText('#alerts-body', 'Low balance');
  });

  test('the summary opens on this month\'s figures and plan advice; the transactions CSV downloads with the token', async () => {
    expect(await page.isVisible('#summary')).toBe(true);
    await page.click('#summary-details > summary');
    // This month (the browser's zone): 120 + 100 bought, 30 granted, 2.5 + 150 consumed.
    await waitForText('#summary-body', '152.5');
    const firstRow = await page.evaluate(() => [...document.querySelectorAll('#summary-body tbody tr:first-child td')].map((cell) => cell.textContent));
    expect(firstRow.slice(1, 5)).toEqual(['0', '220', '30', '152.5']);
    await page.waitForFunction(() => (document.querySelector('#advice-body')?.textContent ?? '') !== '', undefined, { timeout: WAIT_MS });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), page.click('#download-transactions')]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^transactions-${accountId}-\\d{4}-\\d{2}-01-to-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
    const csv = fs.readFileSync(await download.path(), 'utf8');
    expect(csv.split('\r\n')[0]).toBe('time,transaction_id,sequence,type,status,actor,action,model,credits,credit_kind,comment,failure_code,failure_message');
    expect(csv).toContain(',image.generate,flux,-2.5,');
    await waitForText('#download-status', 'Saved transactions-');
  });

  test('the keyboard reaches sign-out and the buy buttons, with a visible focus; every control has a name', async () => {
    await page.evaluate(() => document.activeElement?.blur());
    const reached = new Set<string>();
    let signOutOutline = '';
    for (let i = 0; i < 40 && !(reached.has('sign-out') && reached.has('buy')); i += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const element = document.activeElement;
        return { id: element?.id ?? '', pack: element?.dataset.pack ?? null, outline: element ? getComputedStyle(element).outlineStyle : '' };
      });
      if (focused.id === 'sign-out') {
        reached.add('sign-out');
        signOutOutline = focused.outline;
      }
      if (focused.pack) reached.add('buy');
    }
    expect([...reached].sort()).toEqual(['buy', 'sign-out']);
    expect(signOutOutline).not.toBe('none');
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, a[href]')]
      .filter((element) => element.offsetParent !== null)
      .filter((element) => !(element.getAttribute('aria-label') || element.textContent?.trim() || (element.id && document.querySelector(`label[for="${element.id}"]`))))
      .map((element) => element.outerHTML.slice(0, 80)));
    expect(unnamed).toEqual([]);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') fs.copyFileSync(path.join(ARTIFACTS, 'dashboard.png'), path.join(ROOT, 'docs', 'dashboard.png'));
    expect(fs.statSync(path.join(ARTIFACTS, 'dashboard.png')).size).toBeGreaterThan(10_000);
  });

  test('signing out forgets the token; an admin key gets the platform view, its refusals and account search', async () => {
    await t.opFails(ChargeDocument, { input: { accountId, amount: '100000', idempotencyKey: uniqueKey('refused') } });
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in-form', { state: 'visible' });
    expect(await page.evaluate(() => sessionStorage.getItem('credits.dashboard.token'))).toBeNull();
    expect(await page.isHidden('#account-view')).toBe(true);

    await page.fill('#token-input', t.adminKey);
    await page.press('#token-input', 'Enter');
    await waitForText('#who', 'ADMIN key');
    await page.waitForSelector('#platform', { state: 'visible', timeout: WAIT_MS });
    expect(await page.textContent('[data-testid="platform-consumed"]')).toMatch(/ credits?$/);
    await waitForText('#failures-body', accountName); // the refusal above is the newest of all
    await waitForText('#failures-body', 'INSUFFICIENT_CREDITS');

    await page.fill('#search-input', accountName.toUpperCase());
    await page.press('#search-input', 'Enter');
    await page.waitForSelector(`#search-results [data-account="${accountId}"]`, { timeout: WAIT_MS });
    await page.click(`#search-results [data-account="${accountId}"]`);
    await waitForText('#account-heading', `Credits of ${accountName}`);
    await waitForText('#balance', '97.5 credits');
    await page.click('#back-to-admin');
    expect(await page.isVisible('#admin-view')).toBe(true);
  });

  test('no request left this machine, and the page logged no error', () => {
    expect(blocked).toEqual([]);
    expect(requested.filter((url) => !isLocal(url))).toEqual([]);
    expect(requested.some((url) => url.startsWith('ws://127.0.0.1'))).toBe(true); // the live updates were local too
    expect(pageErrors).toEqual([]);
  });
});
