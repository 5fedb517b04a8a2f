/**
 * jest globalSetup: on PGlite runs (no DATABASE_URL), a migrated in-memory database dumped once to a
 * file in the temporary folder, named by a hash of drizzle/ so a changed migration makes a new one.
 * The harness starts each test file's PGlite from it (OpenOptions.loadDataDir): booting an empty
 * PGlite and migrating it costs seconds per file, loading the dump a fraction of that.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/client';

export const TEMPLATE_ENV = 'CREDITS_PGLITE_TEMPLATE';

function migrationsHash(): string {
  const folder = path.join(__dirname, '../../drizzle');
  const hash = crypto.createHash('sha256');
  const files = [...fs.readdirSync(folder).filter((f) => f.endsWith('.sql')).sort(), 'meta/_journal.json'];
  for (const file of files) hash.update(file).update(fs.readFileSync(path.join(folder, file)));
  return hash.digest('hex').slice(0, 16);
}

export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  const file = path.join(os.tmpdir(), `credits-pglite-template-${migrationsHash()}.tar`);
  if (!fs.existsSync(file)) {
    const database = await openDatabase({ databaseUrl: null, dataDir: null });
    try {
      const client = (database.db as unknown as { $client: { dumpDataDir(compression: 'none'): Promise<Blob> } }).$client;
      const dump = await client.dumpDataDir('none');
      // Written under a temporary name, then renamed: a concurrent run never reads half a file.
      const partial = `${file}.${process.pid}.partial`;
      fs.writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
      fs.renameSync(partial, file);
    } finally {
      await database.close();
    }
  }
  process.env[TEMPLATE_ENV] = file;
}
