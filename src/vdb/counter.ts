// COUNTER (build spec §9.5): the installation order of a ROOT. A new package gets one more than
// the highest of the global counter file and every entry's COUNTER (the scan guards against a
// lost or stale global file); the global file is rewritten atomically with the new value. The
// caller holds the VDB lock (vdbLock.ts), so two merges never draw the same number.
import * as fs from "node:fs";
import * as path from "node:path";
import { atomicWriteFile } from "../core/fsutil.js";
import { vdbDir } from "./installed.js";
import { atVdbLockRelease, vdbLockHolding } from "./vdbLock.js";

export function counterFile(root: string): string {
  return path.join(root, "var", "cache", "edb", "counter");
}

function readCounter(file: string): number {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch {
    return 0;
  }
  // a damaged value counts for nothing: the scan of the entries still gives a safe maximum
  return /^\d+$/.test(text) ? Number(text) : 0;
}

/**
 * The highest COUNTER recorded in the VDB, entries under construction and set aside included
 * (they hold numbers already handed out).
 */
export function highestInstalledCounter(root: string): number {
  const base = vdbDir(root);
  let max = 0;
  let cats: fs.Dirent[];
  try {
    cats = fs.readdirSync(base, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const c of cats) {
    if (c.name.startsWith(".") || !c.isDirectory()) continue;
    let entries: string[];
    try {
      entries = fs.readdirSync(path.join(base, c.name));
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.startsWith(".")) continue;
      const n = readCounter(path.join(base, c.name, e, "COUNTER"));
      if (n > max) max = n;
    }
  }
  return max;
}

/** The last number drawn per ROOT under the current holding of its VDB lock. */
const drawn = new Map<string, { holding: number; value: number }>();

/**
 * Draw the COUNTER of a new entry (§9.5) and record it in `${root}/var/cache/edb/counter`. Call
 * under the VDB lock. The scan of every entry is made once per holding of the lock, and the
 * counter file rewritten (atomically) once, as the holding ends: while the lock is held no one
 * else draws or reads a number to draw from, so a run merging many packages under one holding
 * counts on from its last number. A holder killed before the write leaves the file behind the
 * entries, which the scan of the next draw covers, as it covers a lost file. `durable: false` (a
 * merge without merge-sync) skips the flushes.
 */
export function nextCounter(root: string, opts: { durable?: boolean } = {}): number {
  const file = counterFile(root);
  const holding = vdbLockHolding(root);
  const key = path.resolve(root);
  const last = drawn.get(key);
  if (holding !== undefined && last?.holding === holding) return ++last.value;
  // one decimal number, no newline, as Portage writes it
  const write = (n: number) => atomicWriteFile(file, String(n), 0o644, { fsync: opts.durable !== false });
  const next = Math.max(readCounter(file), highestInstalledCounter(root)) + 1;
  if (holding === undefined) {
    write(next);
    return next;
  }
  const mine = { holding, value: next };
  drawn.set(key, mine);
  atVdbLockRelease(root, () => {
    if (drawn.get(key) === mine) drawn.delete(key);
    write(mine.value);
  });
  return next;
}
