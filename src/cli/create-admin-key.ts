/** `npm run create-admin-key`: creates an ADMIN key in the configured database; the secret is the last line. */
import 'reflect-metadata';
import { loadConfig } from '../config';
import { openDatabase } from '../db/client';
import { systemClock } from '../shared/clock';
import { AuthService } from '../auth/auth.service';

async function main(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    const auth = await AuthService.create(database.db, systemClock, config.tokenSecret);
    const name = process.argv[2] ?? `admin ${new Date().toISOString()}`;
    const key = await auth.createApiKey(name, 'ADMIN');
    process.stdout.write(`Created ADMIN key ${key.id} ("${name}"). It is shown only now:\n${key.secret}\n`);
  } finally {
    await database.close();
  }
}

main().catch((error) => {
  process.stderr.write(`create-admin-key failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
