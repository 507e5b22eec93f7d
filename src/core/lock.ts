import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "./errors.js";

export interface AcquireOptions {
  /** How long to wait for another holder to let go (default 10 minutes; Infinity: as long as it takes). */
  readonly timeoutMs?: number;
  /**
   * Called once, when the lock is held elsewhere and acquire starts to wait, with the holder's pid
   * and what it is doing (the `what` it took the lock with), as far as they are known.
   */
  readonly onWait?: (holder: number | undefined, what: string | undefined) => void;
}

/** Consecutive I/O errors taking a lock that count as its file changing hands (at 100 ms apart). */
const IO_ERROR_RETRIES = 20;

/**
 * An exclusive lock that the kernel holds: the lock file is an SQLite database kept in an
 * EXCLUSIVE transaction, that is a POSIX record lock, which the kernel drops when its process
 * ends however it ends. So there is no stale lock to judge and no race to take one over (a pid
 * file is judged and removed by one waiter while another creates it anew). Connections of one
 * process exclude each other too. The holder's pid is written beside the lock, for messages.
 */
export class FileLock {
  private db: Database.Database | undefined;
  private ioErrors = 0;

  /** `what`: what the holder is doing, told to those who wait (e.g. "ouzo regen"). */
  constructor(readonly file: string, readonly what?: string) {}

  private get pidFile(): string {
    return `${this.file}.pid`;
  }

  async acquire(opts: AcquireOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 600_000;
    const start = Date.now();
    let waiting = false;
    while (!this.tryAcquire()) {
      if (!waiting) {
        waiting = true;
        const h = this.holderInfo();
        opts.onWait?.(h?.pid, h?.what);
      }
      if (Date.now() - start >= timeoutMs) {
        const pid = this.holder();
        throw new OuzoError("LOCKED", `locked by ${pid ? `process ${pid}` : "another process"} for more than ${+(timeoutMs / 1000).toFixed(1)} s`, { file: this.file });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Take the lock if no one holds it: true when taken. */
  tryAcquire(): boolean {
    if (this.db) return true;
    let db: Database.Database;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      // SQLite opens a file it may not write read-only, and a read-only lock excludes no one
      // (the file may come and go meanwhile, as holders let go: gone, the directory decides)
      let target = this.file;
      let writable = mayWrite(target);
      if (writable === undefined) writable = mayWrite((target = path.dirname(this.file)));
      if (!writable) throw new OuzoError("LOCK_FAILED", `cannot take the lock: this user may not write ${target === this.file ? "it" : target}`, { file: this.file });
      db = new Database(this.file, { timeout: 0 });
    } catch (e) {
      if (e instanceof OuzoError) throw e;
      throw new OuzoError("LOCK_FAILED", `cannot open the lock: ${(e as Error).message}`, { file: this.file });
    }
    try {
      db.exec("BEGIN EXCLUSIVE");
    } catch (e) {
      db.close();
      const code = (e as { code?: string }).code;
      if (code === "SQLITE_BUSY") return false;
      // A holder that lets go may delete the lock file (vdbLock does, as Portage does) and the next
      // recreate it while this one opens it: SQLite then fails on a file that is gone or another
      // one (SQLITE_IOERR_FSTAT; the inode number may even be the same, reused). That is the lock
      // changing hands: try again, as when it is busy; an I/O error that stays is told.
      if (code?.startsWith("SQLITE_IOERR") && this.ioErrors++ < IO_ERROR_RETRIES) return false;
      if (code === "SQLITE_NOTADB") {
        // the pid file an older ouzo used as its lock: that ouzo is not running any more
        fs.truncateSync(this.file);
        return this.tryAcquire();
      }
      throw new OuzoError("LOCK_FAILED", `cannot take the lock: ${(e as Error).message}`, { file: this.file });
    }
    this.db = db;
    this.ioErrors = 0;
    try {
      fs.writeFileSync(this.pidFile, `${process.pid}\n${this.what ? `${this.what}\n` : ""}`);
    } catch {
      // who holds the lock is only for messages
    }
    return true;
  }

  release(): void {
    const db = this.db;
    if (!db) return;
    this.db = undefined;
    if (this.holder() === process.pid) fs.rmSync(this.pidFile, { force: true });
    db.close(); // ends the transaction and with it the lock
  }

  /** The pid of a live holder, as far as the pid file beside the lock tells. */
  private holder(): number | undefined {
    return this.holderInfo()?.pid;
  }

  /** A live holder's pid and what it said it is doing, as the file beside the lock tells. */
  private holderInfo(): { pid: number; what: string | undefined } | undefined {
    let lines: string[];
    try {
      lines = fs.readFileSync(this.pidFile, "utf8").split("\n");
    } catch {
      return undefined;
    }
    const pid = Number(lines[0]!.trim());
    return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? { pid, what: lines[1]?.trim() || undefined } : undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether this user may write `p`; undefined when it does not exist. */
function mayWrite(p: string): boolean | undefined {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? undefined : false;
  }
}
