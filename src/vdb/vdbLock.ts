// The VDB lock and the other Portage lock files ouzo shares with Portage (build spec §14.2).
//
// Portage locks `<path>` with a POSIX record lock on the whole file (fcntl F_SETLKW, F_WRLCK,
// offset 0, length 0 = to the end and beyond). core's FileLock holds an SQLite EXCLUSIVE
// transaction on the lock file, which is also a POSIX record lock (on SQLite's lock bytes at
// 1 GiB): the ranges overlap, so each excludes the other, and the kernel drops it when its holder
// dies. What FileLock lacks of Portage's protocol is added here: the lock file is created with
// Portage's mode, the inode is checked again once the lock is held (another holder may have
// deleted the file on unlock), and the file is deleted on release while still held, so it
// "exists only while held" (§9.1). Within one process, callers queue in order; a caller that
// already holds the lock (in its async context) runs at once, so lock-taking helpers nest.
import { AsyncLocalStorage } from "node:async_hooks";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { FileLock } from "../core/lock.js";
import type { Reporter } from "../core/reporter.js";

export function vdbLockFile(root: string): string {
  return path.join(root, "var", "db", ".pkg.portage_lockfile");
}

export interface PortageLockOptions {
  /** Told once, as a notice, when the lock is held elsewhere and this caller starts to wait. */
  readonly reporter?: Reporter;
  /** Called once when waiting starts, with the holder's pid when an ouzo holds it. */
  readonly onWait?: (message: string, holder: number | undefined) => void;
  /** What the holder is doing, for the messages of those who wait (default "ouzo"). */
  readonly what?: string;
  /** Give up after this long (default: wait as long as it takes, as emerge does). */
  readonly timeoutMs?: number;
  /** How the lock is named in messages (default: the lock file). */
  readonly name?: string;
}

/** Lock files this async context holds (so nested calls do not wait for themselves). */
const held = new AsyncLocalStorage<ReadonlySet<string>>();
/** The last caller queued for each lock file in this process. */
const queues = new Map<string, Promise<void>>();
/** Each acquisition of a lock file by this process gets a new number, kept while it is held. */
let acquisitions = 0;
const holdings = new Map<string, number>();
/** What is to be done as the current holding of a lock file ends, before the lock goes. */
const atRelease = new Map<string, (() => void)[]>();

/**
 * Run `fn` when the calling context's holding of ROOT's VDB lock ends, just before the lock is
 * let go (a file kept up to date once per holding rather than once per change). An error from it
 * is thrown to the holder once the lock is released.
 */
export function atVdbLockRelease(root: string, fn: () => void): void {
  const key = path.resolve(vdbLockFile(root));
  if (!held.getStore()?.has(key)) throw new Error(`atVdbLockRelease: the VDB lock of ${root} is not held here`);
  atRelease.set(key, [...(atRelease.get(key) ?? []), fn]);
}

/**
 * The number of this process's current holding of ROOT's VDB lock, when the calling async
 * context holds it; undefined otherwise. What was read under one holding stays true until it
 * ends (no other writer can come between), so it may be remembered for that holding alone.
 */
export function vdbLockHolding(root: string): number | undefined {
  const key = path.resolve(vdbLockFile(root));
  return held.getStore()?.has(key) ? holdings.get(key) : undefined;
}

/** Hold the VDB lock (`${root}/var/db/.pkg.portage_lockfile`) while `fn` runs: one writer of /var/db/pkg at a time. */
export function withVdbLock<T>(root: string, fn: () => Promise<T> | T, opts: PortageLockOptions = {}): Promise<T> {
  return withPortageLock(vdbLockFile(root), fn, { name: "the installed-package database", ...opts });
}

/** Hold a Portage-compatible lock file while `fn` runs (§14.2). */
export async function withPortageLock<T>(file: string, fn: () => Promise<T> | T, opts: PortageLockOptions = {}): Promise<T> {
  const key = path.resolve(file);
  const mine = held.getStore();
  if (mine?.has(key)) return await fn();
  const before = queues.get(key) ?? Promise.resolve();
  let done!: () => void;
  const turn = new Promise<void>((r) => (done = r));
  const tail = before.then(() => turn);
  queues.set(key, tail);
  try {
    await before;
    const lock = await acquire(key, opts);
    holdings.set(key, ++acquisitions);
    let failed: unknown;
    try {
      return await held.run(new Set([...(mine ?? []), key]), fn);
    } finally {
      for (const f of atRelease.get(key) ?? []) {
        try {
          f();
        } catch (e) {
          failed ??= e;
        }
      }
      atRelease.delete(key);
      holdings.delete(key);
      release(lock);
      if (failed !== undefined) throw failed;
    }
  } finally {
    done();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

function inode(file: string): string | undefined {
  try {
    const s = fs.statSync(file, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

async function acquire(file: string, opts: PortageLockOptions): Promise<FileLock> {
  const lock = new FileLock(file, opts.what ?? "ouzo");
  let told = false;
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  for (;;) {
    createLockFile(file);
    const first = inode(file);
    await lock.acquire({
      timeoutMs: Math.max(0, deadline - Date.now()),
      onWait: (pid, what) => {
        if (told) return;
        told = true;
        const by = pid ? `process ${pid}${what ? ` (${what})` : ""}` : "another process (Portage, or an ouzo that is waiting too)";
        const message = `waiting for the lock on ${opts.name ?? file} (${file}), held by ${by}`;
        opts.onWait?.(message, pid);
        opts.reporter?.report({ kind: "notice", message });
      },
    });
    // a holder that let go deleted the file: what is locked now may be a name no one else sees
    if (first !== undefined && inode(file) === first) return lock;
    lock.release();
  }
}

let tmpCounter = 0;

/**
 * Create the lock file (mode 0660, as Portage creates it) if it is missing, so that its inode can
 * be checked once the lock is held. Made beside and linked into place: an existing lock file is
 * never opened here, since closing any descriptor of it would drop every POSIX lock this process
 * holds on it.
 */
function createLockFile(file: string): void {
  if (inode(file) !== undefined) return;
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, "", { mode: 0o660 });
    fs.chmodSync(tmp, 0o660);
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new OuzoError("LOCK_FAILED", `cannot create the lock file: ${(e as Error).message}`, { file });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function release(lock: FileLock): void {
  try {
    // deleted while still held: a waiter that opened it sees the inode gone and retries
    if (fs.statSync(lock.file).nlink === 1) fs.unlinkSync(lock.file);
  } catch {
    // already gone
  }
  lock.release();
}
