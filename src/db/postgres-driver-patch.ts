/**
 * A fix for postgres.js 3.4.9 (the newest release), applied when it is loaded.
 *
 * Its connection batches small writes behind a `setImmediate`. When the database closes the
 * connection (a restart, a failover), `closed()` sets the socket to null but leaves the scheduled
 * write and its buffer in place: the next write throws `TypeError: Cannot read properties of null
 * (reading 'write')` from a timer callback, which no caller can catch and which kills the process,
 * and a reconnected connection never sends its startup message (its timer looks armed), so its
 * queries wait for the connect timeout. Upstream: porsager/postgres#1154, #1208 and PR #1209 (not
 * released). The fix, as in that PR: forget the buffered write when the socket goes away, and make
 * a write without a socket fail its queries with CONNECTION_CLOSED instead of throwing.
 *
 * Node runs the server from compiled CommonJS, so the patched module is put into `require.cache`
 * before postgres.js asks for it; jest (which has its own module registry) applies the same patch
 * through a transform (jest.config.js). Each replacement must match exactly once: an upgrade of
 * postgres.js fails loudly here instead of silently running unpatched.
 */
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';

const REPLACEMENTS: readonly (readonly [find: string, replace: string])[] = [
  [
    '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n',
    '  function nextWrite(fn) {\n    if (!socket) {\n      chunk = nextWriteTimer = null\n      error(Errors.connection(\'CONNECTION_CLOSED\', options))\n      return false\n    }\n    const x = socket.write(chunk, fn)\n',
  ],
  [ // terminate()
    '    clearImmediate(nextWriteTimer)\n    if (socket) {\n',
    '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {\n',
  ],
  [ // closed()
    '    clearImmediate(nextWriteTimer)\n    socket.removeListener(\'data\', data)\n',
    '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener(\'data\', data)\n',
  ],
];

export function patchPostgresConnectionSource(source: string): string {
  let patched = source;
  for (const [find, replace] of REPLACEMENTS) {
    const at = patched.indexOf(find);
    if (at < 0 || patched.indexOf(find, at + 1) >= 0) {
      throw new Error('postgres.js connection.js does not have the shape this patch expects (was postgres upgraded? see src/db/postgres-driver-patch.ts)');
    }
    patched = patched.slice(0, at) + replace + patched.slice(at + find.length);
  }
  return patched;
}

type PostgresFactory = typeof import('postgres');

/** postgres.js's CommonJS build, with the patch above in place. */
export function loadPatchedPostgres(): PostgresFactory {
  const indexPath = require.resolve('postgres');
  const connectionPath = path.join(path.dirname(indexPath), 'connection.js');
  // Under jest (which hands each module a `jest` object), require.cache is not its module registry:
  // the transform has patched the file there. Child processes of a test run take this path.
  const underJest = typeof jest !== 'undefined';
  if (!underJest && !require.cache[connectionPath]) {
    const patched = new Module(connectionPath, module);
    patched.filename = connectionPath;
    patched.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(connectionPath));
    (patched as unknown as { _compile(code: string, filename: string): void })._compile(patchPostgresConnectionSource(fs.readFileSync(connectionPath, 'utf8')), connectionPath);
    patched.loaded = true;
    require.cache[connectionPath] = patched;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('postgres') as PostgresFactory | { default: PostgresFactory };
  return 'default' in loaded && typeof loaded.default === 'function' ? loaded.default : (loaded as PostgresFactory);
}
