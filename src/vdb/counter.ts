// COUNTER (build spec §9.5): the installation order of a ROOT. A new package gets one more than
// the highest of the global counter file and every entry's COUNTER (the scan guards against a
// lost or stale global file); the global file is rewritten atomically with the new value. The
// caller holds the VDB lock (vdbLock.ts), so two merges never draw the same number.
import * as fs from "node:fs";
import * as path from "node:path";
import { atomicWriteFile } from "../core/fsutil.js";
import { vdbDir } from "./installed.js";

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

/** Draw the COUNTER of a new entry (§9.5) and record it in `${root}/var/cache/edb/counter`. Call under the VDB lock. */
export function nextCounter(root: string): number {
  const file = counterFile(root);
  const next = Math.max(readCounter(file), highestInstalledCounter(root)) + 1;
  // one decimal number, no newline, as Portage writes it
  atomicWriteFile(file, String(next), 0o644);
  return next;
}
