// A configuration snapshot: the evaluated configuration, kept between runs in ouzo's cache
// directory, together with the stamp of every path it was computed from.
//
// Evaluating a MARK-sized stack (75 profile entries over 30 repositories, ~4,400 mask atoms)
// costs ~25 ms of every command's start; reading a snapshot back costs a stat per input and one
// JSON.parse. A snapshot is used only when every input is exactly as it was: same file
// (inode), same size, same modification and change times; the same directory listing (a
// directory's times change when an entry is added, removed or renamed); still absent where it
// was absent. The key (build of ouzo, ROOT, config root, the environment variables the
// configuration reads) must match too. Anything else, including a damaged file, means the
// configuration is evaluated afresh and the snapshot rewritten.
//
// Racy inputs: a file changed while it was being read could be stamped with its new times and
// remembered with its old content. Timestamps come from a coarse clock, so a snapshot is not
// written while any input changed less than RACY_MS before evaluation began (git's "racily
// clean" rule). Every later change gives the file a change time after the stamp.
import * as fs from "node:fs";
import * as path from "node:path";
import { atomicWriteFile } from "../core/fsutil.js";

const FORMAT = 1;
const RACY_MS = 100;

/** Where a snapshot lives and what it must have been made for. */
export interface SnapshotPlace {
  readonly file: string;
  /** Everything outside the files that the configuration depends on, as one string. */
  readonly key: string;
}

interface SnapshotFile {
  format: number;
  key: string;
  /** [path, stamp] of every input. */
  inputs: [string, string][];
  data: unknown;
}

/** One options object for every stat: node validates a new one per call (~2 µs each here). */
const STAT_OPTIONS = { throwIfNoEntry: false } as const;

/** A path's stamp: kind, inode, size, modification and change times; "-" when absent. */
function stampOf(p: string): { stamp: string; ctimeMs: number } | undefined {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(p, STAT_OPTIONS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return { stamp: "-", ctimeMs: 0 };
    return undefined; // unreadable: no snapshot can stand on it
  }
  if (!st) return { stamp: "-", ctimeMs: 0 };
  return { stamp: `${st.isDirectory() ? "d" : "f"}${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, ctimeMs: st.ctimeMs };
}

/** The snapshot's data if it was made for `place.key` and none of its inputs changed since. */
export function readSnapshot(place: SnapshotPlace): unknown {
  let snap: SnapshotFile;
  let fd: number | undefined;
  try {
    fd = fs.openSync(place.file, "r");
    // only a snapshot written by this user or by root is trusted: it stands for /etc/portage
    const uid = process.getuid?.();
    const owner = fs.fstatSync(fd).uid;
    if (uid !== undefined && owner !== uid && owner !== 0) return undefined;
    snap = JSON.parse(fs.readFileSync(fd, "utf8")) as SnapshotFile;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (snap?.format !== FORMAT || snap.key !== place.key || !Array.isArray(snap.inputs)) return undefined;
  for (const [p, stamp] of snap.inputs) if (stampOf(p)?.stamp !== stamp) return undefined;
  return snap.data;
}

/**
 * Keep `data`, computed from `inputs` by an evaluation that began at `began` (Date.now()), unless
 * an input is racy or unreadable. Best effort: a cache directory that cannot be written (a user
 * without rights on ROOT) only means no snapshot. Returns whether it was written.
 */
export function writeSnapshot(place: SnapshotPlace, inputs: Iterable<string>, data: unknown, began: number): boolean {
  const stamps: [string, string][] = [];
  for (const p of inputs) {
    const s = stampOf(p);
    if (!s || s.ctimeMs >= began - RACY_MS) return false;
    stamps.push([p, s.stamp]);
  }
  const snap: SnapshotFile = { format: FORMAT, key: place.key, inputs: stamps, data };
  try {
    atomicWriteFile(place.file, JSON.stringify(snap), 0o644, { fsync: false });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a snapshot could be written at `place`: its directory, or the nearest existing
 * directory above it, is writable. Asked before the configuration is encoded, so that a user
 * without rights on the cache directory does not pay for a snapshot on every run.
 */
export function snapshotWritable(place: SnapshotPlace): boolean {
  try {
    for (let dir = path.dirname(place.file); ; dir = path.dirname(dir)) {
      const st = fs.statSync(dir, STAT_OPTIONS);
      if (st) {
        if (!st.isDirectory()) return false;
        fs.accessSync(dir, fs.constants.W_OK);
        return true;
      }
      if (dir === path.dirname(dir)) return false;
    }
  } catch {
    return false; // not writable, or a file where a directory should be (ENOTDIR)
  }
}

/** The snapshot file of a cache directory. */
export function snapshotFile(cacheDir: string): string {
  return path.join(cacheDir, "config-snapshot.json");
}
