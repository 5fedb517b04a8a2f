/** Brings dist/ up to date once per test process (tests that spawn the real server need it). */
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const ROOT = path.resolve(__dirname, '../..');
const run = promisify(execFile);
let built: Promise<unknown> | null = null;

export function ensureBuilt(): Promise<unknown> {
  // --build: incremental (tsconfig's buildinfo in dist/), nothing to do when dist/ is up to date.
  built ??= run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '--build', 'tsconfig.json'], { cwd: ROOT, maxBuffer: 16 << 20 });
  return built;
}
