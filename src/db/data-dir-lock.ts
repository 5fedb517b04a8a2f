/**
 * One process per PGlite data folder. PGlite runs the database inside the process that opened it:
 * a second process on the same folder (say `npm run create-admin-key` while `npm start` runs) works
 * on state the first never sees, and two writers can corrupt the folder. So opening a folder takes
 * an exclusive lock file in it (`credits.lock`: the owner's pid, host and start time), released on
 * close or exit, and a second opener is refused with what to do instead.
 *
 * A lock whose owner is gone (SIGKILL, crash, power loss) must not block the next start, so it is
 * taken over when stale:
 * - on the owner's machine (same host name, boot and pid namespace) the owner is checked directly:
 *   gone when its pid no longer exists, or now belongs to a process that started at another time
 *   (pid reuse; Linux, from /proc);
 * - from anywhere else (a recreated container, another host on a shared volume) the owner cannot be
 *   checked, so the owner touches the file every 10 s and a lock not touched for 30 s is stale.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const LOCK_FILE_NAME = 'credits.lock';
export const LOCK_HEARTBEAT_MS = 10_000;
export const LOCK_STALE_AFTER_MS = 30_000;

/** What the lock file holds. */
export interface LockOwner {
  pid: number;
  host: string;
  /** Linux boot id: a lock from before a reboot is stale. */
  boot: string | null;
  /** Linux pid namespace: pids of another container say nothing here. */
  pidNamespace: string | null;
  /** Linux: the owner's start time in clock ticks since boot, to tell a reused pid. */
  processStart: string | null;
  command: string;
  since: string;
}

export interface DataDirLock {
  /** The lock file. */
  path: string;
  /** Removes the lock (only if it is still this holder's); safe to call twice. */
  release(): void;
}

export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  constructor(readonly dataDir: string, readonly lockPath: string, readonly owner: LockOwner, sameMachine: boolean, lastSeenMs: number) {
    const hint = owner.pid === process.pid && sameMachine ? ', this process' : /main\.js$/.test(owner.command) ? ', a running `npm start`?' : '';
    const who = `process ${owner.pid}${sameMachine ? '' : ` on ${owner.host}`} (${owner.command}, since ${owner.since}${hint})`;
    const stale = sameMachine
      ? `If no such process runs any more, delete ${lockPath}.`
      : `It was last touched ${Math.round(lastSeenMs / 1000)} s ago; a lock not touched for ${LOCK_STALE_AFTER_MS / 1000} s is taken over.`;
    super(`the data folder ${dataDir} is in use by ${who}. PGlite allows one process per data folder. ` +
      'Stop it first, or use the running server: create an admin key with the createApiKey mutation, ' +
      `or set DATABASE_URL to use PostgreSQL where several processes may share the database. ${stale}`);
    this.name = 'DataDirInUseError';
    this.stack = `${this.name}: ${this.message}`; // an expected refusal: the message says it all, a stack trace is noise
  }
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

const linuxBootId = (): string | null => readOrNull('/proc/sys/kernel/random/boot_id')?.trim() ?? null;

function pidNamespace(): string | null {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) " start at field 3; starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function parseOwner(raw: string): LockOwner | null {
  try {
    const owner = JSON.parse(raw) as LockOwner;
    return Number.isInteger(owner?.pid) && owner.pid > 0 && typeof owner.host === 'string' ? owner : null;
  } catch {
    return null; // not complete (a crash before the write reached the disk) or not ours: nobody holds it
  }
}

function isSameMachine(owner: LockOwner): boolean {
  return owner.host === os.hostname() && (owner.boot ?? null) === linuxBootId() && (owner.pidNamespace ?? null) === pidNamespace();
}

/** Lock files this process holds (a second open of the same folder in one process is refused too). */
const heldHere = new Map<string, () => void>();
let exitHookInstalled = false;

function isRunning(owner: LockOwner, lockPath: string, touchedMs: number): boolean {
  if (!isSameMachine(owner)) return Date.now() - touchedMs <= LOCK_STALE_AFTER_MS;
  if (owner.pid === process.pid) return heldHere.has(lockPath);
  if (!pidExists(owner.pid)) return false;
  const start = owner.processStart ? processStart(owner.pid) : null;
  return start === null || start === owner.processStart;
}

/** Moves a stale lock away, unless another opener replaced it after we read it (then it is put back). */
function removeStale(lockPath: string, staleRaw: string): void {
  const aside = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    fs.renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (readOrNull(aside) !== staleRaw) {
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // A third opener took the place meanwhile; the caller's next attempt judges that lock.
    }
  }
  fs.rmSync(aside, { force: true });
}

/**
 * Takes the lock of a PGlite data folder (which must exist) or throws DataDirInUseError.
 * `shownAs` is how messages name the folder (the configured DATA_DIR).
 */
export function lockDataDir(dataDir: string, shownAs: string = dataDir): DataDirLock {
  const lockPath = path.join(path.resolve(dataDir), LOCK_FILE_NAME);
  const script = process.argv[1] ? path.relative(process.cwd(), process.argv[1]) || process.argv[1] : '';
  const mine: LockOwner = {
    pid: process.pid, host: os.hostname(), boot: linuxBootId(), pidNamespace: pidNamespace(), processStart: processStart(process.pid),
    command: `node ${script}`.trim(), since: new Date().toISOString(),
  };
  const content = JSON.stringify(mine) + '\n';
  // Written whole to a private file, then linked into place: link() fails if the lock exists, and a
  // reader never sees a half-written lock.
  const temp = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, content, { flag: 'wx' });
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        fs.linkSync(temp, lockPath);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let raw: string | null;
      let touchedMs: number;
      try {
        touchedMs = fs.statSync(lockPath).mtimeMs;
        raw = readOrNull(lockPath);
      } catch {
        continue; // released meanwhile
      }
      if (raw === null) continue;
      const owner = parseOwner(raw);
      if (owner && isRunning(owner, lockPath, touchedMs)) {
        throw new DataDirInUseError(shownAs, lockPath, owner, isSameMachine(owner), Date.now() - touchedMs);
      }
      if (attempt >= 10) throw new Error(`could not take over the stale lock ${lockPath}: other processes keep replacing it`);
      removeStale(lockPath, raw);
    }
  } finally {
    fs.rmSync(temp, { force: true });
  }

  const heartbeat = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(lockPath, now, now);
    } catch {
      // The folder is gone or unwritable; the database reports that itself.
    }
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    heldHere.delete(lockPath);
    if (readOrNull(lockPath) === content) fs.rmSync(lockPath, { force: true });
  };
  heldHere.set(lockPath, release);
  if (!exitHookInstalled) {
    // process.exit() without closing the database (a forced shutdown) still frees the folder.
    process.on('exit', () => { for (const releaseOne of [...heldHere.values()]) releaseOne(); });
    exitHookInstalled = true;
  }
  return { path: lockPath, release };
}
