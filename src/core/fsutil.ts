import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Temp names are unique per process (pid and a counter); "w" truncates a leftover of a crashed run. */
let tmpCounter = 0;

/**
 * Write a file crash-safely: temp file in the same directory, fsync, rename, fsync the directory.
 * `fsync: false` keeps the atomic rename but skips the flushes, for derived files such as caches.
 */
export function atomicWriteFile(file: string, data: string | Buffer, mode = 0o644, opts: { fsync?: boolean } = {}): void {
  const sync = opts.fsync !== false;
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tmpCounter}.tmp`);
  const fd = fs.openSync(tmp, "w", mode);
  try {
    if (typeof data === "string") fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    if (sync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (sync) fsyncDir(dir);
}

/** Write atomically only when the content differs from what is there; returns whether it wrote. */
export function writeFileIfChanged(file: string, text: string, opts: { fsync?: boolean } = {}): boolean {
  if (readFileIfExists(file) === text) return false;
  atomicWriteFile(file, text, 0o644, opts);
  return true;
}

export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}

// --- inputs: which paths a computation looked at ---
//
// A derived result that is kept between runs (the configuration snapshot) is valid only while
// everything it was computed from is unchanged. The readers below, and the configuration's own
// direct reads, note each path they look at (a file read, a directory listed, a path probed)
// while a recording is on; the owner of the result then stamps those paths.

let recording: Set<string> | undefined;

/** Note that the computation being recorded depends on `p` (its content, listing or absence). */
export function noteInput(p: string): void {
  recording?.add(p);
}

/** Run `fn`, collecting every path noted meanwhile; an enclosing recording gets them too. */
export function recordInputs<T>(fn: () => T): { value: T; inputs: Set<string> } {
  const outer = recording;
  const inputs = new Set<string>();
  recording = inputs;
  try {
    return { value: fn(), inputs };
  } finally {
    recording = outer;
    if (outer) for (const p of inputs) outer.add(p);
  }
}

export function readFileIfExists(file: string): string | undefined {
  noteInput(file);
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw e;
  }
}

/** Names in a directory, or undefined when it cannot be listed (absent, not a directory, unreadable). */
export function listDir(dir: string): string[] | undefined {
  noteInput(dir);
  try {
    return fs.readdirSync(dir);
  } catch {
    return undefined;
  }
}

export function isDirectory(p: string): boolean {
  noteInput(p);
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function exists(p: string): boolean {
  noteInput(p);
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Files of a directory in name order, skipping hidden and backup (`~`) files, as Portage reads config directories. */
export function listConfigDir(dir: string): string[] {
  noteInput(dir);
  return fs
    .readdirSync(dir)
    .filter((n) => !n.startsWith(".") && !n.endsWith("~"))
    .sort()
    .map((n) => path.join(dir, n));
}

/** A file's sha256 in hex, read in 1 MiB blocks. */
export function sha256File(file: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (!n) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

/**
 * Remove what an atomicWriteFile of `file` killed between its write and its rename left behind
 * (`.<name>.<pid>.<n>.tmp` beside it). Only for files whose writers hold a lock the caller holds.
 */
export function removeStaleTemps(file: string): void {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(prefix) && n.endsWith(".tmp")) fs.rmSync(path.join(dir, n), { force: true });
}

let umaskSeen: number | undefined;
/** The process's umask, read once (a worker thread may read it too; 0o777, "trust nothing", if it cannot). */
export function currentUmask(): number {
  if (umaskSeen === undefined) {
    try {
      umaskSeen = process.umask();
    } catch {
      umaskSeen = 0o777; // unknown: never rely on it
    }
  }
  return umaskSeen;
}

/**
 * rmSync (recursive) of a path that is usually not there (a staging directory, a stale stamp):
 * looked for first, since a removal of what is missing costs an exception, hundreds of them in
 * a run of many packages.
 */
export function removeIfPresent(p: string): void {
  if (fs.lstatSync(p, { throwIfNoEntry: false })) fs.rmSync(p, { recursive: true, force: true });
}
