// The transaction of one merge or unmerge (build spec §10.8, §11 "ouzo should"): a plan computed
// before any change, journaled, then carried out in steps that can each be repeated. A merge is
// rolled back until every new file is staged beside its destination (STAGED), and rolled forward
// from then on; an unmerge rolls forward once its pkg_prerm is done. The same functions serve the
// run itself and a recovery after a crash, so a recovery takes exactly the path a run takes.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";
import { parseContents } from "../vdb/contents.js";
import { readInstalledEntry, type InstalledPackage } from "../vdb/installed.js";
import { commitVdbEntry, discardStagedEntry, removeVdbEntry, vdbEntryDir } from "../vdb/vdbWrite.js";
import { updateConfmem } from "./configProtect.js";
import type { Journal, JournalRecord } from "./journal.js";
import { applyRemoval, type RemovalStep } from "./removal.js";
import { lstatIfExists } from "./rootPath.js";

/** pkg_prerm / pkg_postrm of an instance being removed, run by the caller (it owns the phase runner). */
export interface MergeHooks {
  prerm?(old: InstalledPackage, replacedBy: string): Promise<void>;
  postrm?(old: InstalledPackage, replacedBy: string): Promise<void>;
}

/** A directory the merge creates (it did not exist when the plan was made). */
export interface PlanDir {
  readonly path: string;
  readonly phys: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Something that is not a directory is in the way: it is renamed to this `.backup.NNNN` host path first. */
  readonly aside?: string;
}

/** An entry staged beside its destination and renamed into place. */
export interface PlanPlace {
  readonly path: string;
  readonly type: "obj" | "sym" | "fif" | "dev";
  /** Its host path in the image (moved out of it when on the same filesystem). */
  readonly src: string;
  /** The host path it ends at: its real name, a `._cfgNNNN_` name or a `.backup.NNNN` name. */
  readonly final: string;
  /** The staged copy: `.<name>.ouzo-new.<txid>` in the destination directory. */
  readonly temp: string;
  /** A symlink created with this text instead of moving the image's (its ${D} was taken off). */
  readonly link?: string;
  /** Entries of one hard-link group in the image share this number. */
  readonly group?: number;
  /**
   * A regular file and nothing at `final` when the plan was made: staging moves it straight to
   * `final` (a second rename per file is the dearest part of a big merge), and undoing the staging
   * moves it back; `temp` then serves only a copy from another filesystem on its way in. Nothing
   * of the old state is hidden by it, so the transaction stays all or nothing.
   */
  readonly direct?: boolean;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly rdev: number;
}

/**
 * A directory of the image moved into place whole, with everything below it, by one rename: it
 * holds exactly the entries below it, nothing was at its place when the plan was made, and no
 * path below it is protected (MergeRequest.wholeDirs). Like a direct place, staging puts it at its
 * name and undoing the staging moves it back.
 */
export interface PlanMove {
  readonly path: string;
  readonly src: string;
  readonly final: string;
  /** Its inode number: what undoing the staging finds at `final` is this merge's only if it is this directory. */
  readonly ino: number;
  /** The directories moved (this one first), with the mode and owner each must have. */
  readonly dirs: readonly { readonly src: string; readonly mode: number; readonly uid: number; readonly gid: number }[];
}

/** A file already holding the new bytes: only its mtime becomes the image's (`===`). */
export interface PlanTouch {
  readonly path: string;
  readonly phys: string;
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

/** An installed instance this transaction removes, with the paths that go (decided at plan time). */
export interface PlanOld {
  readonly category: string;
  readonly pf: string;
  readonly cpv: string;
  readonly dir: string;
  readonly counter: number;
  readonly remove: RemovalStep[];
  readonly dirs: RemovalStep[];
}

export interface TxPlan {
  readonly v: 1;
  readonly tx: string;
  readonly kind: "merge" | "unmerge";
  readonly root: string;
  /** The package merged (merge) or removed (unmerge). */
  readonly category: string;
  readonly pf: string;
  readonly cpv: string;
  /** REPLACED_BY_VERSION for the removed instances: the new PVR, "" for a plain unmerge. */
  readonly replacedBy: string;
  /** COUNTER of the new entry (merge); tells our -MERGING- entry from anything else. */
  readonly counter: number;
  readonly mergingDir: string;
  readonly dirs: PlanDir[];
  /** Existing directories given the image's mode and owner once the files are in place (overwrite_dir_perms). */
  readonly dirPerms?: PlanDir[];
  readonly places: PlanPlace[];
  /** Staged after `dirs` (which may hold them), before `places`; absent in journals of older ouzo. */
  readonly moves?: PlanMove[];
  readonly touches: PlanTouch[];
  readonly old: PlanOld[];
  readonly confmem: { readonly set: Record<string, string>; readonly del: string[] };
  readonly mergeSync: boolean;
  /** One existing path per filesystem written to (for syncfs). */
  readonly syncPaths: string[];
}

/** The temp name of the `index`th place of transaction `tx`: beside its final name, hidden, marked with the transaction. */
export function tempPathOf(final: string, tx: string, index: number): string {
  // `final` is an absolute, normalised host path (a merge computes one per file: kept cheap)
  const slash = final.lastIndexOf("/");
  const base = final.slice(slash + 1);
  const fits = base.length * 3 + tx.length + 11 <= 255 || Buffer.byteLength(base) + tx.length + 11 <= 255;
  return `${final.slice(0, slash)}/${fits ? `.${base}.ouzo-new.${tx}` : `.ouzo-new.${tx}.${index}`}`;
}

type JournaledPlace = Omit<PlanPlace, "mode" | "uid" | "gid" | "atimeMs" | "mtimeMs" | "rdev" | "temp"> & { temp?: string };

/**
 * The plan as the journal keeps it. A recovery rolls back or forward and never stages, so a
 * place's mode, owner, times and device number are left out, and so is a temp name that follows
 * from tempPathOf: a package of many files journals half as much.
 */
export function journaledPlan(plan: TxPlan): object {
  const places = plan.places.map((p, i): JournaledPlace => {
    const { mode: _m, uid: _u, gid: _g, atimeMs: _a, mtimeMs: _t, rdev: _r, temp, ...kept } = p;
    return temp === tempPathOf(p.final, plan.tx, i) ? kept : { ...kept, temp };
  });
  return { ...plan, places, ...(plan.moves ? { moves: plan.moves.map((m) => ({ path: m.path, src: m.src, final: m.final, ino: m.ino, dirs: [] })) } : {}) };
}

/** A journal's plan back as a TxPlan (a full plan, as older journals hold, comes back as it is). */
export function planOfJournal(doc: unknown): TxPlan {
  const plan = doc as Omit<TxPlan, "places"> & { places: (JournaledPlace & Partial<PlanPlace>)[] };
  return {
    ...plan,
    places: plan.places.map((p, i) => ({ mode: 0, uid: 0, gid: 0, atimeMs: 0, mtimeMs: 0, rdev: 0, ...p, temp: p.temp ?? tempPathOf(p.final, plan.tx, i) })),
  };
}

/** Journal record names, in the order they are written. */
export const R = {
  begin: "BEGIN",
  staged: "STAGED",
  files: "FILES_DONE",
  prerm: "PRERM_DONE",
  removed: "REMOVED",
  postrm: "POSTRM_DONE",
  confmem: "CONFMEM_DONE",
  vdb: "VDB_COMMITTED",
} as const;

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;
const lexists = (p: string) => lstatIfExists(p) !== undefined;

function chownIfAllowed(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    // only root may give files away; an unprivileged merge (tests, prefix) keeps its own ids
    if (code(e) !== "EPERM") throw e;
  }
}

/**
 * §10.8 step 3: directories created, every entry staged under its temp name, except the direct
 * ones (new files where nothing was), which go to their names. Nothing old is hidden yet.
 */
export function stage(plan: TxPlan, reporter?: Reporter): void {
  const task = `${plan.cpv}: staging`;
  const moves = plan.moves ?? [];
  const total = plan.dirs.length + moves.length + plan.places.length;
  let done = 0;
  reporter?.report({ kind: "started", task, total });
  for (const d of plan.dirs) {
    const st = lstatIfExists(d.phys);
    if (st && !st.isDirectory() && d.aside) {
      fs.renameSync(d.phys, d.aside);
      reporter?.report({ kind: "warning", code: "merge-dir-blocked", message: `Installation of a directory is blocked by a file: ${d.path} was moved to ${path.basename(d.aside)}` });
    }
    if (!st || !st.isDirectory()) {
      fs.mkdirSync(d.phys, { mode: d.mode & 0o777 });
      chownIfAllowed(() => fs.chownSync(d.phys, d.uid, d.gid));
      fs.chmodSync(d.phys, d.mode);
    }
    reporter?.report({ kind: "progress", task, done: ++done, total, item: d.path });
  }
  for (const m of moves) {
    stageMove(m);
    reporter?.report({ kind: "progress", task, done: ++done, total, item: m.path });
  }
  const groupTemp = new Map<number, string>();
  for (const p of plan.places) {
    stageOne(p, groupTemp);
    reporter?.report({ kind: "progress", task, done: ++done, total, item: p.path });
  }
  reporter?.report({ kind: "finished", task });
}

/** The error of a directory that cannot be moved whole after all: mergePackage merges the package again, file by file. */
export const MOVE_BLOCKED = "merge-move-blocked";

/**
 * The directories of a move given their modes and owners where the image's differ, then the
 * rename, into a place that must still be free (`dirs` made its parent): a rename would replace
 * an empty directory that appeared meanwhile, and fails across mount points of one filesystem.
 */
function stageMove(m: PlanMove): void {
  const blocked = (why: string) => new OuzoError(MOVE_BLOCKED, `${m.path} cannot be moved into place whole (${why})`);
  if (lexists(m.final)) throw blocked("something is there now");
  for (const d of m.dirs) {
    const st = fs.lstatSync(d.src);
    if (st.uid !== d.uid || st.gid !== d.gid) chownIfAllowed(() => fs.chownSync(d.src, d.uid, d.gid));
    if ((st.mode & 0o7777) !== d.mode) fs.chmodSync(d.src, d.mode);
  }
  try {
    fs.renameSync(m.src, m.final);
  } catch (e) {
    const c = code(e);
    if (c === "EXDEV" || c === "ENOTEMPTY" || c === "EEXIST") throw blocked(c);
    throw e;
  }
}

function stageOne(p: PlanPlace, groupTemp: Map<number, string>): void {
  if (p.link !== undefined) {
    fs.symlinkSync(p.link, p.temp);
    chownIfAllowed(() => fs.lchownSync(p.temp, p.uid, p.gid));
    fs.lutimesSync(p.temp, p.atimeMs / 1000, p.mtimeMs / 1000);
    return;
  }
  // a direct entry (PlanPlace.direct) goes to its name, any other beside it
  const dest = p.direct ? p.final : p.temp;
  try {
    // same filesystem: the image's own inode moves (hard links among moved entries stay links)
    fs.renameSync(p.src, dest);
    if (p.group !== undefined) groupTemp.set(p.group, dest);
    return;
  } catch (e) {
    if (code(e) !== "EXDEV") throw e;
  }
  // another filesystem: a link to the group's first copy, or a copy, under the temp name
  const first = p.group !== undefined ? groupTemp.get(p.group) : undefined;
  let linked = false;
  if (first) {
    try {
      fs.linkSync(first, p.temp);
      linked = true;
    } catch (e) {
      if (code(e) !== "EXDEV") throw e;
    }
  }
  if (!linked) copyEntry(p);
  if (p.direct) fs.renameSync(p.temp, p.final);
  if (p.group !== undefined && !first) groupTemp.set(p.group, dest);
}

/** Another filesystem: a copy under the temp name with the image's owner, then mode (set-id bits survive chown), then mtime. */
function copyEntry(p: PlanPlace): void {
  switch (p.type) {
    case "obj":
      fs.copyFileSync(p.src, p.temp);
      break;
    case "sym":
      fs.symlinkSync(fs.readlinkSync(p.src), p.temp);
      chownIfAllowed(() => fs.lchownSync(p.temp, p.uid, p.gid));
      fs.lutimesSync(p.temp, p.atimeMs / 1000, p.mtimeMs / 1000);
      return;
    case "fif":
      run("mkfifo", ["-m", (p.mode & 0o7777).toString(8), p.temp]);
      break;
    case "dev": {
      const major = Math.floor(p.rdev / 256) & 0xfff;
      const minor = (p.rdev & 0xff) | ((Math.floor(p.rdev / 4096) & 0xfff00) >>> 0);
      run("mknod", ["-m", (p.mode & 0o7777).toString(8), p.temp, (p.mode & 0o170000) === 0o060000 ? "b" : "c", String(major), String(minor)]);
      break;
    }
  }
  chownIfAllowed(() => fs.chownSync(p.temp, p.uid, p.gid));
  fs.chmodSync(p.temp, p.mode & 0o7777);
  fs.utimesSync(p.temp, p.atimeMs / 1000, p.mtimeMs / 1000);
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new OuzoError("merge-special-file", `${cmd} ${args.join(" ")} failed: ${r.stderr || r.error?.message}`);
}

/** Before STAGED: undo the staging — moved entries go back into the image, copies and created directories go, things moved aside come back. Safe to repeat. */
export function rollBack(plan: TxPlan): void {
  for (let i = plan.places.length - 1; i >= 0; i--) {
    const p = plan.places[i]!;
    if (p.direct) {
      // nothing was at its name when the plan was made: what is there now is this merge's
      fs.rmSync(p.temp, { force: true });
      const placed = lstatIfExists(p.final);
      if (!placed) continue;
      const image = lstatIfExists(p.src);
      if (!image) {
        try {
          fs.renameSync(p.final, p.src);
          continue;
        } catch {
          // the image is gone: the file just goes
        }
      }
      // moved, or a copy of the image's file (same size and mtime), never somebody else's file
      if (!image || (image.size === placed.size && image.mtimeMs === placed.mtimeMs)) fs.rmSync(p.final, { force: true });
      continue;
    }
    if (!lexists(p.temp)) continue;
    if (p.link === undefined && !lexists(p.src)) {
      try {
        fs.renameSync(p.temp, p.src);
        continue;
      } catch {
        // the image is gone (its build directory was cleaned): the staged copy just goes
      }
    }
    fs.rmSync(p.temp, { force: true });
  }
  const moves = plan.moves ?? [];
  for (let i = moves.length - 1; i >= 0; i--) {
    const m = moves[i]!;
    // this merge's directory (by its inode) back into the image, or its files away when the image
    // is gone or made anew (a later run unpacked the package again)
    const st = lstatIfExists(m.final);
    if (!st?.isDirectory() || st.ino !== m.ino) continue;
    if (!lexists(m.src)) {
      try {
        fs.renameSync(m.final, m.src);
        continue;
      } catch {
        // its parent in the image is gone too
      }
    }
    removeMoved(plan, m);
  }
  for (let i = plan.dirs.length - 1; i >= 0; i--) {
    const d = plan.dirs[i]!;
    try {
      fs.rmdirSync(d.phys);
    } catch {
      // not ours any more, or not empty: left as it is
    }
    if (d.aside && lexists(d.aside) && !lexists(d.phys)) fs.renameSync(d.aside, d.phys);
  }
  discardStagedEntry(plan.root, plan.category, plan.pf);
  try {
    fs.rmdirSync(path.dirname(plan.mergingDir)); // a category directory made for this entry alone
  } catch {
    // other entries live there
  }
}

/**
 * A moved directory whose image is gone: what the staged entry's CONTENTS lists below it goes,
 * then its directories if empty, as a rollback file by file removes what it had put in place;
 * anything else someone put there meanwhile stays. Without that CONTENTS (never the case once a
 * move was made: the entry is staged first) it is left as it is.
 */
function removeMoved(plan: TxPlan, m: PlanMove): void {
  let listed;
  try {
    listed = parseContents(fs.readFileSync(path.join(plan.mergingDir, "CONTENTS"), "utf8"));
  } catch {
    return;
  }
  const prefix = `${m.path}/`;
  const below = listed.filter((e) => e.path.startsWith(prefix));
  const host = (p: string) => m.final + p.slice(m.path.length);
  for (const e of below) if (e.type !== "dir") fs.rmSync(host(e.path), { force: true });
  for (const e of [...below.filter((e) => e.type === "dir").reverse(), { path: m.path }]) {
    try {
      fs.rmdirSync(host(e.path));
    } catch {
      // not empty: what is left is not this merge's
    }
  }
}

/** syncfs of every filesystem written to (`sync -f`: node has no syncfs). */
export function syncFilesystems(paths: readonly string[], reporter?: Reporter): void {
  const existing = paths.filter((p) => fs.existsSync(p));
  if (!existing.length) return;
  const r = spawnSync("sync", ["-f", ...existing], { encoding: "utf8" });
  if (r.status !== 0) reporter?.report({ kind: "warning", code: "merge-sync", message: `sync -f failed: ${r.stderr || r.error?.message}` });
}

export interface ForwardResult {
  /** Per removed instance: paths removed and directories that stayed because they hold something. */
  readonly removed: Map<string, { removed: string[]; keptDirs: string[]; failed: string[] }>;
  /** Phases that failed or could not run (reported, the transaction went on). */
  readonly phaseProblems: string[];
}

/**
 * From STAGED (merge) or PRERM (unmerge) on: every remaining step, each skipped when the journal
 * says it is done and recorded when it is. Files: rename(temp, final), where a missing temp means
 * it is in place already.
 */
export async function rollForward(plan: TxPlan, journal: Journal, done: readonly JournalRecord[], hooks: MergeHooks | undefined, reporter?: Reporter): Promise<ForwardResult> {
  const has = (r: string, i?: number) => done.some((d) => d.r === r && (i === undefined || d.i === i));
  const result: ForwardResult = { removed: new Map(), phaseProblems: [] };
  // each durable step is told as it is recorded (a progress of the transaction's steps)
  const steps = (plan.kind === "merge" ? 1 : 0) + plan.old.length * 3 + 2;
  let stepNo = 0;
  const record = (rec: JournalRecord, what: string) => {
    journal.append(rec);
    reporter?.report({ kind: "progress", task: `${plan.cpv}: ${plan.kind === "merge" ? "merging" : "unmerging"}`, done: ++stepNo, total: steps, item: what });
  };
  if (plan.kind === "merge" && !has(R.files)) {
    commitFiles(plan, reporter);
    record({ r: R.files }, "every file in place");
  }
  for (let i = 0; i < plan.old.length; i++) {
    const old = plan.old[i]!;
    if (!has(R.prerm, i)) {
      await runPhase("prerm", old, plan, hooks, result, reporter);
      record({ r: R.prerm, i }, `pkg_prerm of ${old.cpv} done`);
    }
    if (!has(R.removed, i)) {
      const task = `${plan.cpv}: removing ${plan.kind === "merge" ? `files of ${old.cpv} that ${plan.cpv} does not have` : "its files"}`;
      const total = old.remove.length + old.dirs.length;
      let n = 0;
      reporter?.report({ kind: "started", task, total });
      const r = applyRemoval(old, (item) => reporter?.report({ kind: "progress", task, done: ++n, total, item }));
      reporter?.report({ kind: "finished", task });
      result.removed.set(old.cpv, r);
      for (const f of r.failed) reporter?.report({ kind: "warning", code: "unmerge-remove-failed", message: `${old.cpv}: cannot remove ${f}; left in place` });
      record({ r: R.removed, i }, `files of ${old.cpv} removed`);
    }
    if (!has(R.postrm, i)) {
      await runPhase("postrm", old, plan, hooks, result, reporter);
      record({ r: R.postrm, i }, `pkg_postrm of ${old.cpv} done`);
    }
  }
  if (!has(R.confmem)) {
    updateConfmem(plan.root, plan.confmem.set, plan.confmem.del);
    record({ r: R.confmem }, "configuration memory updated");
  }
  if (!has(R.vdb)) {
    commitVdb(plan);
    record({ r: R.vdb }, plan.kind === "merge" ? `${plan.cpv} recorded as installed` : `${plan.cpv} no longer recorded as installed`);
  }
  if (plan.mergeSync) syncFilesystems(plan.syncPaths, reporter);
  journal.remove();
  return result;
}

/** §10.8 step 4: every staged entry renamed onto its final name (non-links first, so links find their targets), identical files get the image mtime. */
function commitFiles(plan: TxPlan, reporter?: Reporter): void {
  const task = `${plan.cpv}: placing files`;
  // direct entries were put in place by the staging
  const order = [...plan.places.filter((p) => p.type !== "sym" && !p.direct), ...plan.places.filter((p) => p.type === "sym")];
  const total = order.length + plan.touches.length;
  let done = 0;
  reporter?.report({ kind: "started", task, total });
  for (const p of order) {
    try {
      fs.renameSync(p.temp, p.final);
    } catch (e) {
      if (code(e) !== "ENOENT" || lexists(p.temp)) throw new OuzoError("merge-rename", `cannot put ${p.path} in place (${p.final}): ${(e as Error).message}`);
      // the temp name is gone: this entry was put in place before an interruption
    }
    reporter?.report({ kind: "progress", task, done: ++done, total, item: p.path });
  }
  for (const d of plan.dirPerms ?? []) {
    try {
      chownIfAllowed(() => fs.chownSync(d.phys, d.uid, d.gid));
      fs.chmodSync(d.phys, d.mode);
    } catch (e) {
      if (code(e) !== "ENOENT") throw e;
    }
  }
  for (const t of plan.touches) {
    try {
      fs.utimesSync(t.phys, t.atimeMs / 1000, t.mtimeMs / 1000);
    } catch (e) {
      if (code(e) !== "ENOENT") throw e;
    }
    reporter?.report({ kind: "progress", task, done: ++done, total, item: t.path });
  }
  reporter?.report({ kind: "finished", task });
}

async function runPhase(phase: "prerm" | "postrm", old: PlanOld, plan: TxPlan, hooks: MergeHooks | undefined, result: ForwardResult, reporter?: Reporter): Promise<void> {
  const hook = hooks?.[phase];
  if (!hook) return;
  let pkg: InstalledPackage;
  try {
    pkg = readInstalledEntry(old.dir, old.category, old.pf);
  } catch (e) {
    const message = `pkg_${phase} of ${old.cpv} cannot run: its installed entry is unreadable (${(e as Error).message})`;
    result.phaseProblems.push(message);
    reporter?.report({ kind: "warning", code: "merge-phase-skipped", message });
    return;
  }
  try {
    await hook.call(hooks, pkg, plan.replacedBy);
  } catch (e) {
    // §11.1 steps 6 and 8: a failing prerm/postrm is reported and the removal goes on
    const message = `!!! FAILED ${phase}: ${old.cpv}: ${(e as Error).message} — the problem is in ${path.join(old.dir, `${old.pf}.ebuild`)}; removing environment.bz2 and/or that ebuild lets the unmerge proceed`;
    result.phaseProblems.push(message);
    reporter?.report({ kind: "warning", code: `merge-${phase}-failed`, message });
  }
}

/** COUNTER of an entry directory, or undefined when there is none. */
export function entryCounter(dir: string): number | undefined {
  const file = path.join(dir, "COUNTER");
  if (!fs.existsSync(file)) return undefined; // the usual case for a new entry: no exception to make
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** §10.8 step 6: the new entry in place (the commit point), then the removed instances' entries go. Safe to repeat: entries are told apart by COUNTER. */
function commitVdb(plan: TxPlan): void {
  if (plan.kind === "merge") {
    const entry = vdbEntryDir(plan.root, plan.category, plan.pf);
    if (entryCounter(entry) !== plan.counter) {
      if (entryCounter(plan.mergingDir) !== plan.counter) throw new OuzoError("merge-vdb-lost", `the staged entry ${plan.mergingDir} of ${plan.cpv} is missing or not this merge's (COUNTER ${plan.counter} expected)`);
      commitVdbEntry(plan.root, plan.category, plan.pf, plan.mergeSync);
    }
  }
  for (const old of plan.old) {
    if (plan.kind === "merge" && old.category === plan.category && old.pf === plan.pf) continue; // replaced by the commit itself
    const dir = vdbEntryDir(plan.root, old.category, old.pf);
    if (fs.existsSync(dir) && (entryCounter(dir) ?? 0) === old.counter) removeVdbEntry(plan.root, old.category, old.pf);
  }
}
