// The GNU info directory index (build spec §10.7): `info` reads `dir` in each info directory for
// its menu of manuals, and packages do not install that file (the image stage strips it). At the
// end of a run, every info directory — /usr/share/info and those INFOPATH and INFODIR name in
// env.d — whose modification time moved since the index was last made has its `dir` made again
// by `install-info`, one manual at a time; mtimedb's `info` remembers the times.
//
// Where ouzo differs from Portage, on purpose: the times are kept to the millisecond (whole
// seconds miss a manual merged within the second the index was made), and the parts of a split
// manual (`foo.info-1`, `foo.info-2`…), which hold no menu entry, are not handed to install-info
// one by one to fail.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { atomicWriteFile, listDir } from "../core/fsutil.js";
import type { Reporter } from "../core/reporter.js";
import { normaliseOwnedPath } from "../vdb/ownerIndex.js";
import { withVdbLock } from "../vdb/vdbLock.js";
import { envdFiles, gatherEnv, mtimedbFile, readMtimedb } from "./envUpdate.js";
import { RootPaths } from "./rootPath.js";

export interface InfoDirOptions {
  /** FEATURES: `noinfo` leaves the indexes alone. */
  readonly features?: ReadonlySet<string>;
  /** The install-info program (default: `install-info` from PATH). */
  readonly installInfo?: string;
  readonly reporter?: Reporter;
}

export interface InfoDirResult {
  /** Info directories (ROOT-relative) whose index was made again. */
  readonly regenerated: string[];
  /** Manuals handed to install-info. */
  readonly processed: number;
  /** What install-info refused (`file: message`). */
  readonly errors: string[];
  /** Info directories found in ROOT. */
  readonly found: number;
  /** Why nothing was looked at (noinfo, no install-info), if so. */
  readonly skipped?: string;
}

/** The index and its leftovers: `dir`, `dir.old`, compressed or not. */
const INDEX_FILE = /^dir(\.old)?(\.(gz|bz2|xz|lzma|lz|zst|Z))?$/;
/** The parts of a split manual; the menu entry is in the first file. */
const MANUAL_PART = /\.info-\d+(\.(gz|bz2|xz|lzma|lz|zst|Z))?$/;

/** ROOT-relative info directories: /usr/share/info, then INFOPATH and INFODIR of env.d, each once. */
export function infoDirectories(root: string): string[] {
  const env = gatherEnv(envdFiles(path.join(root, "etc", "env.d")));
  const dirs = ["/usr/share/info", ...(env.get("INFOPATH") ?? "").split(":"), ...(env.get("INFODIR") ?? "").split(":")];
  return [...new Set(dirs.map(normaliseOwnedPath).filter((d): d is string => d !== undefined))];
}

/** The manuals among the names of one info directory, sorted: regular files that are neither the index nor a part. */
function manualsIn(dir: string, names: readonly string[]): string[] {
  return names
    .filter((n) => !n.startsWith(".") && !INDEX_FILE.test(n) && !MANUAL_PART.test(n))
    .filter((n) => fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.isFile())
    .sort();
}

/** Whether `program` can be run (install-info answers --version). */
function runnable(program: string): boolean {
  return !spawnSync(program, ["--version"], { stdio: "ignore" }).error;
}

/** Make the info indexes of ROOT that need it; see the file comment. Call it where merges are serialised. */
export function updateInfoDirs(root: string, opts: InfoDirOptions = {}): InfoDirResult {
  if (opts.features?.has("noinfo")) return { regenerated: [], processed: 0, errors: [], found: 0, skipped: "FEATURES=noinfo" };
  const file = mtimedbFile(root);
  const mtimedb = readMtimedb(file);
  const stored = (mtimedb.info && typeof mtimedb.info === "object" ? mtimedb.info : {}) as Record<string, number>;
  const times: Record<string, number> = {};
  const stale: string[] = [];
  // each directory where it really is in ROOT: an absolute link inside ROOT points inside ROOT
  // (never at the host's own info directory), and two names of one directory are one directory
  const paths = new RootPaths(root);
  /** ROOT-relative name → its host path, for the directories that exist. */
  const where = new Map<string, string>();
  const seen = new Set<string>();
  for (const d of infoDirectories(root)) {
    const real = paths.realRel(d);
    if (seen.has(real)) continue;
    seen.add(real);
    const abs = paths.abs(real);
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue;
    where.set(d, abs);
    times[d] = st.mtimeMs;
    if (stored[d] !== st.mtimeMs) stale.push(d);
  }
  const result = { regenerated: [] as string[], processed: 0, errors: [] as string[], found: Object.keys(times).length };
  const program = opts.installInfo ?? "install-info";
  if (stale.length && !runnable(program)) {
    // left unrecorded: the next run tries again. Said, not warned: a system without texinfo
    // would hear it at every run (Portage says nothing at all)
    opts.reporter?.report({ kind: "info", message: `install-info was not found: the GNU info directory index of ${stale.join(", ")} is not made again (install-info comes with texinfo)` });
    return { ...result, skipped: "no install-info" };
  }
  for (const d of stale) {
    const abs = where.get(d)!;
    const names = listDir(abs) ?? [];
    for (const name of names) if (INDEX_FILE.test(name)) fs.rmSync(path.join(abs, name), { force: true });
    for (const name of manualsIn(abs, names)) {
      result.processed++;
      const r = spawnSync(program, [`--dir-file=${path.join(abs, "dir")}`, path.join(abs, name)], { encoding: "utf8", env: { ...process.env, LANG: "C", LC_ALL: "C", LANGUAGE: "C" } });
      const said = `${r.stderr ?? ""}${r.stdout ?? ""}`.trim();
      // a manual without a menu entry is not an error: it has nothing to add to the index
      if (r.status !== 0 && !/no info dir entry/i.test(said)) result.errors.push(`${path.posix.join(d, name)}: ${said.split("\n")[0] || r.error?.message || `exit ${r.status}`}`);
    }
    result.regenerated.push(d);
    // the index written moved the directory's time: that is the time it now matches
    times[d] = fs.statSync(abs).mtimeMs;
  }
  if (JSON.stringify(stored) !== JSON.stringify(times)) atomicWriteFile(file, `${JSON.stringify({ ...readMtimedb(file), info: times })}\n`);
  return result;
}

/** updateInfoDirs under the VDB lock. */
export function updateInfoDirsLocked(root: string, opts: InfoDirOptions = {}): Promise<InfoDirResult> {
  return withVdbLock(root, () => updateInfoDirs(root, opts), { reporter: opts.reporter, what: "info directory index" });
}

/** What Portage says at the end of a run, as lines (none when ROOT has no info directory to look at). */
export function infoDirLines(r: InfoDirResult): string[] {
  if (r.skipped || !r.found) return [];
  if (!r.regenerated.length) return [" * GNU info directory index is up-to-date."];
  const lines = [" * Regenerating GNU info directory index..."];
  if (r.processed) lines.push(` * Processed ${r.processed} info file${r.processed === 1 ? "" : "s"}${r.errors.length ? `; ${r.errors.length} error${r.errors.length === 1 ? "" : "s"}` : ""}.`);
  return [...lines, ...r.errors.map((e) => ` * install-info: ${e}`)];
}
