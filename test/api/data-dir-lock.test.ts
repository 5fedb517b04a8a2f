/**
 * One process per PGlite data folder (src/db/data-dir-lock.ts): while one process has the folder
 * open, a second opener (the compiled `create-admin-key`, as `npm run create-admin-key` runs it) is
 * refused with what to do instead; after the first closes, or dies (SIGKILL), the next opener works.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/build';
import { buildServer, freePort, kill, startServer } from '../helpers/server-process';
import { openDatabase } from '../../src/db/client';
import { DataDirInUseError, LOCK_FILE_NAME, LOCK_STALE_AFTER_MS, lockDataDir, type LockOwner } from '../../src/db/data-dir-lock';

const run = promisify(execFile);
const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-lock-'));
  dirs.push(dir);
  return dir;
}

/** PGlite in dataDir, also when the suite runs on PostgreSQL. */
function env(dataDir: string): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: 'warn', DATA_DIR: dataDir };
}

/** Runs the compiled create-admin-key; resolves to its exit code and output. */
async function createAdminKey(dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'dist/src/cli/create-admin-key.js')], { cwd: ROOT, env: env(dataDir) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A pid that certainly belongs to no process: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

function writeLock(dataDir: string, owner: Partial<LockOwner>): string {
  const file = path.join(dataDir, LOCK_FILE_NAME);
  const full: LockOwner = {
    pid: 1, host: os.hostname(), boot: null, pidNamespace: null, processStart: null, command: 'node dist/src/main.js',
    since: new Date().toISOString(), ...owner,
  };
  fs.writeFileSync(file, JSON.stringify(full));
  return file;
}

/** The identity fields this machine writes, read from a lock this process takes and releases. */
function thisMachine(): Pick<LockOwner, 'host' | 'boot' | 'pidNamespace'> {
  const dir = tempDir();
  const lock = lockDataDir(dir);
  const { host, boot, pidNamespace } = JSON.parse(fs.readFileSync(lock.path, 'utf8')) as LockOwner;
  lock.release();
  return { host, boot, pidNamespace };
}

beforeAll(async () => {
  await buildServer();
}, 180_000);

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('a second process is refused while the folder is open, with what to do instead; it works after the first closes', async () => {
  const dataDir = tempDir();
  const database = await openDatabase({ databaseUrl: null, dataDir });
  let closed = false;
  try {
    expect(fs.existsSync(path.join(dataDir, LOCK_FILE_NAME))).toBe(true);
    const refused = await createAdminKey(dataDir);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).not.toMatch(/ck_/);
    expect(refused.stderr).toContain(`the data folder ${dataDir} is in use by process ${process.pid}`);
    expect(refused.stderr).toContain('Stop it first, or use the running server: create an admin key with the createApiKey mutation');
    expect(refused.stderr).toContain('set DATABASE_URL to use PostgreSQL');

    // The same process opening it twice is refused too (two PGlite instances on one folder).
    await expect(openDatabase({ databaseUrl: null, dataDir })).rejects.toThrow(DataDirInUseError);

    await database.close();
    closed = true;
    expect(fs.existsSync(path.join(dataDir, LOCK_FILE_NAME))).toBe(false);
    const created = await createAdminKey(dataDir);
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout.trim().split('\n').pop()).toMatch(/^ck_[A-Za-z0-9_-]{20,}$/);
    expect(fs.existsSync(path.join(dataDir, LOCK_FILE_NAME))).toBe(false);
  } finally {
    if (!closed) await database.close();
  }
}, 120_000);

test('the lock of a SIGKILLed server does not block the next opener', async () => {
  const dataDir = tempDir();
  const server = await startServer(await freePort(), { DATABASE_URL: '', DATA_DIR: dataDir });
  try {
    // While it runs, create-admin-key is refused and names the server's pid.
    const refused = await createAdminKey(dataDir);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`is in use by process ${server.child.pid} (node dist/src/main.js, since `);
    expect(refused.stderr).toContain('a running `npm start`?');
  } finally {
    await kill(server); // SIGKILL: no chance to remove its lock
  }
  expect(fs.existsSync(path.join(dataDir, LOCK_FILE_NAME))).toBe(true); // SIGKILL left it behind
  const created = await createAdminKey(dataDir);
  expect(created).toMatchObject({ code: 0 });
  expect(created.stdout).toMatch(/ck_/);
}, 180_000);

describe('stale locks are taken over; live ones are not', () => {
  test('a lock whose pid is gone', async () => {
    const dataDir = tempDir();
    writeLock(dataDir, { ...thisMachine(), pid: await deadPid() });
    const lock = lockDataDir(dataDir);
    expect((JSON.parse(fs.readFileSync(lock.path, 'utf8')) as LockOwner).pid).toBe(process.pid);
    lock.release();
    expect(fs.existsSync(lock.path)).toBe(false);
  });

  test('a lock whose pid now belongs to a process started at another time (pid reuse)', () => {
    const dataDir = tempDir();
    const machine = thisMachine();
    if (machine.boot === null) return; // needs Linux /proc
    writeLock(dataDir, { ...machine, pid: process.ppid, processStart: '1' });
    lockDataDir(dataDir).release();
  });

  test('a lock that is not a lock file of ours (empty, garbage)', () => {
    for (const content of ['', '{"pid":', 'hello']) {
      const dataDir = tempDir();
      fs.writeFileSync(path.join(dataDir, LOCK_FILE_NAME), content);
      lockDataDir(dataDir).release();
    }
  });

  test('a live process of this machine keeps its lock', () => {
    const dataDir = tempDir();
    const file = writeLock(dataDir, { ...thisMachine(), pid: process.ppid, processStart: null });
    expect(() => lockDataDir(dataDir, './data')).toThrow(`the data folder ./data is in use by process ${process.ppid}`);
    expect(() => lockDataDir(dataDir)).toThrow(`If no such process runs any more, delete ${file}`);
    expect(fs.existsSync(file)).toBe(true);
  });

  test('a lock from another machine or container: kept while touched, taken over after the stale time', () => {
    const dataDir = tempDir();
    const file = writeLock(dataDir, { pid: process.pid, host: 'another-host', boot: 'another-boot', pidNamespace: 'pid:[1]' });
    expect(() => lockDataDir(dataDir)).toThrow(`is in use by process ${process.pid} on another-host`);
    const old = new Date(Date.now() - LOCK_STALE_AFTER_MS - 5_000);
    fs.utimesSync(file, old, old);
    const lock = lockDataDir(dataDir);
    expect((JSON.parse(fs.readFileSync(file, 'utf8')) as { host: string }).host).toBe(os.hostname());
    lock.release();
  });

  test('releasing does not remove a lock that is no longer ours', () => {
    const dataDir = tempDir();
    const lock = lockDataDir(dataDir);
    fs.writeFileSync(lock.path, 'someone else');
    lock.release();
    expect(fs.readFileSync(lock.path, 'utf8')).toBe('someone else');
  });
});
