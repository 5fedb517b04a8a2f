/**
 * How /dashboard is served: the files `npm run build` bundles, from this server only, with types and
 * a Content-Security-Policy that lets the page reach nothing but this origin; a clear 503 when the
 * bundle was never built. (What the page does is test/api/dashboard.browser.test.ts.)
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { buildDashboard } from '../../src/cli/build-dashboard';
import { mountDashboard } from '../../src/server/dashboard';
import { startTestApp, type TestApp } from '../helpers/harness';

let t: TestApp;
let built: Awaited<ReturnType<typeof buildDashboard>>;

beforeAll(async () => {
  built = await buildDashboard(); // what `npm run build` does (dist/dashboard/)
  t = await startTestApp();
});
afterAll(async () => t?.close());

test('the page, its script and its styles, with their types and the security headers', async () => {
  for (const [route, type] of [['/dashboard', 'text/html'], ['/dashboard/', 'text/html'], ['/dashboard/app.js', 'text/javascript'], ['/dashboard/styles.css', 'text/css']]) {
    const response = await fetch(`${t.url}${route}`);
    expect([route, response.status, response.headers.get('content-type')?.split(';')[0]]).toEqual([route, 200, type]);
    expect(response.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    await response.arrayBuffer();
  }
  const html = await (await fetch(`${t.url}/dashboard`)).text();
  // Everything the page loads is on this server: no absolute URL to anywhere else (the icon is empty and inline:
  // without it the browser asks for /favicon.ico).
  expect(html.match(/(?:src|href)="([^"#]+)"/g)).toEqual(['href="data:,"', 'href="/dashboard/styles.css"', 'src="/dashboard/app.js"']);
  expect(html).not.toMatch(/https?:\/\//);
  const missing = await fetch(`${t.url}/dashboard/nothing-here.js`);
  expect(missing.status).toBe(404);
  await missing.arrayBuffer();
});

test('the bundle is one self-contained script: it imports no module at run time', () => {
  expect(built.runtimeImports).toEqual([]);
});

test('without a build, /dashboard answers 503 saying how to make one', async () => {
  const app = express();
  mountDashboard(app, { dir: path.join(os.tmpdir(), `no-dashboard-${process.pid}-${Date.now()}`) });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    const response = await fetch(`http://127.0.0.1:${port}/dashboard`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the page has every element the scripts look up by id (the Summary view\'s included)', async () => {
  const fs = await import('node:fs');
  const html = await (await fetch(`${t.url}/dashboard`)).text();
  const source = path.join(__dirname, '..', '..', 'src', 'dashboard');
  const ids = new Set<string>();
  const created = new Set<string>(); // elements the scripts make themselves (h('canvas', { id: … }))
  for (const file of fs.readdirSync(source).filter((name) => name.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(source, file), 'utf8');
    for (const match of text.matchAll(/byId(?:<\w+>)?\('([\w-]+)'\)/g)) ids.add(match[1]);
    for (const match of text.matchAll(/\bid: '([\w-]+)'/g)) created.add(match[1]);
  }
  expect(ids.has('summary-details')).toBe(true);
  expect([...ids].filter((id) => !created.has(id) && !html.includes(`id="${id}"`))).toEqual([]);
});
