/**
 * The /dashboard page: static files that `npm run build` bundles from src/dashboard/ into
 * dist/dashboard/ (src/cli/build-dashboard.ts), served from this server only. Its Content-Security-Policy
 * lets the page reach nothing but this origin, so it works offline and leaks nothing to a CDN.
 * Without a build, /dashboard answers 503 saying how to make one.
 */
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';

/** The folder holding package.json (the repository, from src/ under ts-jest or dist/src/ when built). */
export function projectRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error('package.json not found above ' + __dirname);
}

export const dashboardDir = (): string => path.join(projectRoot(), 'dist', 'dashboard');

const SECURITY_HEADERS: Record<string, string> = {
  // 'self' covers the same origin's ws:/wss: too (CSP 3), so graphql-ws connects and nothing else does.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Not fingerprinted: the browser revalidates (ETag) so a rebuilt bundle is picked up at once.
  'cache-control': 'no-cache',
};

export function mountDashboard(app: express.Express, options: { dir?: string } = {}): void {
  const dir = options.dir ?? dashboardDir();
  const index = path.join(dir, 'index.html');
  const secure: express.RequestHandler = (_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  };
  app.get('/dashboard', secure, (_req, res, next) => {
    if (!fs.existsSync(index)) {
      res.status(503).type('text/plain').send('The dashboard is not built. Run `npm run build` (npm start does it first), then reload.\n');
      return;
    }
    res.sendFile(index, (error) => { if (error) next(error); });
  });
  app.use('/dashboard', secure, express.static(dir, { index: false, redirect: false, dotfiles: 'ignore' }));
}
