// Merging an image into ROOT (build spec §10), as one transaction (§10.8): everything is decided
// first — collisions, CONFIG_PROTECT, `.backup` names, what the replaced instances lose — without
// touching ROOT; then the plan is journaled, staged beside the destinations, renamed into place,
// the replaced instances' leftovers removed, and the vdb entry committed. pkg_preinst and
// pkg_postinst are the caller's, before and after; pkg_prerm/pkg_postrm of the replaced instances
// run through the hooks at their place in §1.2's order.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";
import { compareVersions } from "../pms/version.js";
import { parseContents, type ContentsEntry } from "../vdb/contents.js";
import { splitPackageDir, vdbDir, type InstalledPackage } from "../vdb/installed.js";
import { counterFile, nextCounter } from "../vdb/counter.js";
import type { OwnerIndex } from "../vdb/ownerIndex.js";
import { withVdbLock } from "../vdb/vdbLock.js";
import { stageVdbEntry, stagingDir, vdbEntryDir } from "../vdb/vdbWrite.js";
import { findOwners, judgeCollisions, type Collision } from "./collisions.js";
import { cfgName, ConfigProtect, currentValue, md5File, neverProtected, readConfmem } from "./configProtect.js";
import { checkImageEntries, seconds, walkImage, type ImageEntry } from "./imageWalk.js";
import { Journal, journalDir, newTxid } from "./journal.js";
import { recoverUnderLock } from "./recover.js";
import { planRemoval, type KeptEntry } from "./removal.js";
import { ignoreMatcher, isDirectoryIn, lstatIfExists, RootPaths } from "./rootPath.js";
import { journaledPlan, MOVE_BLOCKED, R, rollBack, rollForward, stage, syncFilesystems, tempPathOf, type MergeHooks, type PlanDir, type PlanMove, type PlanOld, type PlanPlace, type PlanTouch, type TxPlan } from "./transaction.js";

export type { MergeHooks } from "./transaction.js";

export interface MergeRequest {
  root: string;
  category: string;
  pf: string;
  slot: string;
  /** ${D}; its entries are moved out of it (same filesystem) or copied. */
  imageDir: string;
  /**
   * The image's entries, top-down with every directory before what it holds, when the image is
   * not laid out as the tree it installs (each `src` says where an entry's bytes are); otherwise
   * imageDir is walked.
   */
  imageEntries?: readonly ImageEntry[];
  /**
   * Directories of imageEntries whose `src` is a real directory holding exactly the entries
   * below them, which follow it in imageEntries (ImageBuilder's `wholeDirs`): when nothing is at
   * such a directory's place in ROOT and nothing below it can be protected, it is moved there by
   * one rename (on the same filesystem), with everything it holds.
   */
  wholeDirs?: ReadonlySet<string>;
  buildInfoDir: string;
  configProtect: string[];
  configProtectMask: string[];
  /** collision-protect, protect-owned, config-protect-if-modified, unmerge-orphans, merge-sync… */
  features: ReadonlySet<string>;
  /** The installed instances this one replaces: the same slot, and an installed copy of the same PF. */
  replacing: InstalledPackage[];
  hooks?: MergeHooks;
  reporter?: Reporter;
  /** COLLISION_IGNORE (fnmatch patterns relative to EROOT). */
  collisionIgnore?: string[];
  /** UNINSTALL_IGNORE, for the replaced instances' files. */
  uninstallIgnore?: string[];
  /** ouzo's owner index: used for owner look-ups and updated after the commit. */
  ownerIndex?: OwnerIndex;
  /** --noconfmem: write `._cfg` files even for updates the user already rejected. */
  noConfmem?: boolean;
  /** More files for the vdb entry (INSTALL_MASK…). */
  vdbExtra?: Record<string, string>;
  /**
   * Directories that exist already take the image's mode and owner (anise's
   * `overwrite_dir_perms`); by default they are kept as they are.
   */
  overwriteDirPerms?: boolean;
}

export interface ReplacedResult {
  readonly cpv: string;
  readonly removed: string[];
  readonly kept: KeptEntry[];
  /** Paths that should have gone but could not be removed (reported as warnings too). */
  readonly failed: string[];
}

export interface MergeResult {
  readonly cpv: string;
  readonly counter: number;
  /** The entry's directory in /var/db/pkg. */
  readonly vdbDir: string;
  /** CONTENTS as recorded (real paths, also for `._cfg` and skipped files). */
  readonly contents: ContentsEntry[];
  /** Paths written under their own name (`>>>`). */
  readonly merged: string[];
  /** Files whose bytes were already in place: only their mtime was set (`===`). */
  readonly identical: string[];
  /** Protected files whose update went beside them: `file` is the `._cfgNNNN_` path, relative to ROOT. */
  readonly configPending: { path: string; file: string }[];
  /** Protected updates not written at all: the user already rejected exactly this content (confmem). */
  readonly confmemSkipped: string[];
  /** Paths that could not take their place: what was in the way, or the new file, went to a `.backup.NNNN` name. */
  readonly backups: { path: string; backup: string }[];
  /** Collisions merged over with a warning (orphans under protect-owned, or neither feature). */
  readonly collisions: Collision[];
  readonly replaced: ReplacedResult[];
  /** pkg_prerm/pkg_postrm failures of the replaced instances (the merge went on, §11.1). */
  readonly phaseProblems: string[];
}

/** Merge an image into ROOT under the vdb lock; see the file comment. */
export async function mergePackage(req: MergeRequest): Promise<MergeResult> {
  const cpv = `${req.category}/${req.pf}`;
  if (!req.slot.trim()) throw new OuzoError("merge-no-slot", "!!! SLOT is undefined", { pkg: cpv });
  return withVdbLock(req.root, async () => {
    await recoverUnderLock(req.root, { hooks: req.hooks, reporter: req.reporter });
    const built = buildPlan(req, cpv);
    const { plan } = built;
    const journal = Journal.create(req.root, plan.tx, { r: R.begin, plan: journaledPlan(plan) }, { durable: req.features.has("merge-sync") });
    try {
      stageVdbEntry(req.root, { category: req.category, pf: req.pf, buildInfoDir: req.buildInfoDir, contents: built.contents, counter: plan.counter, durable: req.features.has("merge-sync"), ...(req.vdbExtra ? { extra: req.vdbExtra } : {}) });
      stage(plan, req.reporter);
      if (plan.mergeSync) syncFilesystems(plan.syncPaths, req.reporter);
      journal.append({ r: R.staged });
      req.reporter?.report({ kind: "progress", task: `${cpv}: merging`, done: 0, item: "every file staged beside its place" });
    } catch (e) {
      // nothing is visible under a final name yet: undo, and the system is as it was
      try {
        rollBack(plan);
        journal.remove();
      } catch (undo) {
        journal.close();
        throw new OuzoError("merge-rollback-failed", `the merge of ${cpv} failed (${(e as Error).message}) and undoing it failed too (${(undo as Error).message}); 'ouzo recover' (or the next ouzo run) tries again`, { pkg: cpv });
      }
      // a directory that could not be moved whole (another mount, something appeared at its
      // place): the same merge again, file by file
      if (e instanceof OuzoError && e.code === MOVE_BLOCKED && req.wholeDirs) {
        req.reporter?.report({ kind: "info", message: `${cpv}: ${e.message}; merging it file by file` });
        return mergePackage({ ...req, wholeDirs: undefined });
      }
      throw e;
    }
    let forward;
    try {
      forward = await rollForward(plan, journal, [], req.hooks, req.reporter);
    } catch (e) {
      journal.close();
      throw new OuzoError("merge-interrupted", `the merge of ${cpv} stopped after its files were staged: ${(e as Error).message}; 'ouzo recover' (or the next ouzo run) finishes it`, { pkg: cpv });
    }
    if (req.ownerIndex) {
      for (const old of plan.old) if (old.cpv !== cpv) req.ownerIndex.update(old.cpv, undefined);
      req.ownerIndex.update(cpv, built.contents);
    }
    return {
      ...built.result,
      cpv,
      counter: plan.counter,
      vdbDir: vdbEntryDir(req.root, req.category, req.pf),
      contents: built.contents,
      replaced: plan.old.map((o, i) => {
        const done = forward.removed.get(o.cpv) ?? { removed: [], keptDirs: [], failed: [] };
        return { cpv: o.cpv, removed: done.removed, kept: [...built.kept[i]!, ...done.keptDirs.map((p) => ({ path: p, type: "dir" as const, reason: "!empty" }))], failed: done.failed };
      }),
      phaseProblems: forward.phaseProblems,
    };
  });
}

interface BuiltPlan {
  plan: TxPlan;
  contents: ContentsEntry[];
  kept: KeptEntry[][];
  result: Pick<MergeResult, "merged" | "identical" | "configPending" | "confmemSkipped" | "backups" | "collisions">;
}

function readContents(pkg: InstalledPackage): ContentsEntry[] {
  try {
    return parseContents(fs.readFileSync(path.join(pkg.dir, "CONTENTS"), "utf8"));
  } catch {
    return [];
  }
}

/**
 * `consider` each entry, with progress. A function of its own: the optimiser compiles the hot
 * loop where it is (on-stack replacement), and in buildPlan that meant compiling all of buildPlan
 * again (~45 ms of compiler time each time, `--trace-opt`), here a few lines.
 */
function considerEach(entries: readonly ImageEntry[], consider: (e: ImageEntry) => void, cpv: string, reporter: Reporter | undefined): void {
  let n = 0;
  for (const e of entries) {
    if (++n % 50 === 0) reporter?.report({ kind: "progress", task: `${cpv}: checking the image`, done: n, total: entries.length });
    consider(e);
  }
}

/** §10.1 steps 4–7 and §10.3/§10.4 decided, nothing changed. */
function buildPlan(req: MergeRequest, cpv: string): BuiltPlan {
  const reporter = req.reporter;
  const tx = newTxid();
  const paths = new RootPaths(req.root);
  const eapi = readValue(req.buildInfoDir, "EAPI") ?? "0";
  const entries = req.imageEntries ? checkImageEntries(req.imageEntries) : walkImage(req.imageDir, { eapi, reporter });
  const version = splitPackageDir(req.pf)?.version;
  if (!version) throw new OuzoError("merge-bad-pf", `'${req.pf}' is not a package name followed by a version`, { pkg: cpv });

  // the installed instance (highest COUNTER) supplies the CONTENTS that config-protect-if-modified compares with
  const olds = [...req.replacing].sort((a, b) => b.counter - a.counter);
  const oldContents = olds.map(readContents);
  const installed = new Map<string, ContentsEntry>();
  if (oldContents.length) for (const e of oldContents[0]!) installed.set(e.path, e);
  const replacedPaths = new Set<string>();
  const replacedPhys = new Set<string>();
  for (const c of oldContents)
    for (const e of c) {
      replacedPaths.add(e.path);
      replacedPhys.add(paths.physRel(e.path));
    }
  const downgrade = olds[0] !== undefined && compareVersions(version, olds[0].version) < 0;
  const ignoreConfmem = req.noConfmem === true || downgrade;
  const protect = new ConfigProtect(req.configProtect, req.configProtectMask);
  let confmem: Map<string, string> | undefined;
  const confmemGet = (p: string) => (confmem ??= readConfmem(req.root)).get(p);
  const confmemSet: Record<string, string> = {};
  const collisionIgnored = ignoreMatcher(paths, req.collisionIgnore ?? []);

  const contents: ContentsEntry[] = [];
  const dirs: PlanDir[] = [];
  const dirPerms: PlanDir[] = [];
  const places: PlanPlace[] = [];
  const moves: PlanMove[] = [];
  /** The directory being moved whole, while its entries come ("/usr/share/foo/"), and its directories. */
  let moving: { prefix: string; dirs: PlanMove["dirs"][number][] } | undefined;
  const touches: PlanTouch[] = [];
  const result: BuiltPlan["result"] = { merged: [], identical: [], configPending: [], confmemSkipped: [], backups: [], collisions: [] };
  const candidates: string[] = [];
  const symlinkOverDir: string[] = [];
  const readOnly = new Set<string>();
  const seenPhys = new Map<string, { type: string; value: string }>();
  const chosen = new Set<string>();
  const cfgTaken = new Map<string, Set<string>>();
  // hard-link groups of the image, numbered in the order of the entries
  const groups = new Map<string, number>();
  const srcGroup = new Map<string, number>();
  for (const e of entries) {
    if (e.type !== "obj" || e.nlink < 2) continue;
    const key = `${e.dev}:${e.ino}`;
    if (!groups.has(key)) groups.set(key, groups.size);
    srcGroup.set(e.src, groups.get(key)!);
  }
  /** Where `e` goes, staged beside `final` under a temp name (see PlanPlace). */
  const place = (e: ImageEntry, final: string, direct = false): PlanPlace => ({
    path: e.path,
    type: e.type as PlanPlace["type"],
    src: e.src,
    final,
    temp: tempPathOf(final, tx, places.length),
    // every place has the same fields, set or not: one shape for the code that reads them
    link: e.rewritten ? e.target! : undefined,
    group: srcGroup.get(e.src),
    direct: direct || undefined,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    atimeMs: e.atimeMs,
    mtimeMs: e.mtimeMs,
    rdev: e.rdev,
  });
  const writable = new Map<string, boolean>();
  /** The filesystem a new directory `physDir` would be made on: its nearest existing ancestor's (ROOT itself may be a link). */
  const devs = new Map<string, number>();
  const devOf = (physDir: string): number => {
    let dev = devs.get(physDir);
    if (dev === undefined) {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(physDir, { throwIfNoEntry: false });
      } catch {
        st = undefined; // ENOTDIR and the like: not a directory to make anything in
      }
      dev = st?.isDirectory() ? st.dev : physDir === path.dirname(physDir) ? -1 : devOf(path.dirname(physDir));
      devs.set(physDir, dev);
    }
    return dev;
  };
  /** `e`, a new directory, moved whole (MergeRequest.wholeDirs) if it can be. */
  const moveWhole = (e: ImageEntry, phys: string): boolean => {
    if (!req.wholeDirs?.has(e.path) || !protect.noneBelow(e.path) || collisionIgnored(e.path)) return false;
    // the merge itself makes these before staging (the journal, the vdb entry, COUNTER)
    if (STATE_DIRS.some((d) => d === e.path || d.startsWith(`${e.path}/`))) return false;
    const img = lstatIfExists(e.src);
    if (!img?.isDirectory() || img.dev !== devOf(path.dirname(phys))) return false;
    const dirs = [{ src: e.src, mode: e.mode, uid: e.uid, gid: e.gid }];
    moves.push({ path: e.path, src: e.src, final: phys, ino: img.ino, dirs });
    moving = { prefix: `${e.path}/`, dirs };
    return true;
  };

  const backupName = (phys: string) => {
    for (let n = 0; ; n++) {
      const b = `${phys}.backup.${String(n).padStart(4, "0")}`;
      if (!chosen.has(b) && !lstatIfExists(b)) {
        chosen.add(b);
        return b;
      }
    }
  };
  // §10.1 step 7: a destination directory on a read-only filesystem stops the merge before any change
  const checkedDirs = new Set<string>();
  const checkWritable = (physDir: string) => {
    if (checkedDirs.has(physDir)) return;
    checkedDirs.add(physDir);
    let d = physDir;
    while (!writable.has(d) && !fs.existsSync(d) && d !== path.dirname(d)) d = path.dirname(d);
    if (writable.has(d)) return;
    try {
      fs.accessSync(d, fs.constants.W_OK);
      writable.set(d, true);
    } catch (e) {
      writable.set(d, false);
      if ((e as NodeJS.ErrnoException).code === "EROFS") readOnly.add(d);
    }
  };

  /** §10.4 for a protected path: written under its name, beside it as `._cfg`, or not at all. */
  const protectDecision = (e: ImageEntry, st: fs.Stats | undefined, phys: string, value: string): "plain" | "cfg" | "skip" => {
    const before = installed.get(e.path);
    let forced = false;
    let cur: string | undefined;
    if (before && (before.type === "obj" || before.type === "sym")) {
      if (!st) forced = true; // the user deleted or renamed it: ask rather than bring it back
      else if (req.features.has("config-protect-if-modified")) {
        cur = currentValue(phys, st);
        if (cur === (before.type === "obj" ? before.md5 : before.target)) return "plain"; // never modified
      }
    }
    if (st) {
      cur ??= currentValue(phys, st);
      const sameKind = st.isSymbolicLink() === (e.type === "sym");
      if (sameKind && cur === value) {
        confmemSet[e.path] = value;
        return "plain";
      }
      if (!ignoreConfmem && confmemGet(e.path) === value) return "skip";
      confmemSet[e.path] = value;
      return "cfg";
    }
    if (forced) {
      confmemSet[e.path] = value;
      return "cfg";
    }
    return "plain";
  };

  /** What becomes of one image entry (a function of its own: the loop that calls it stays small, and so does what the optimiser compiles again when a shape changes). */
  const consider = (e: ImageEntry) => {
    const physRel = paths.physRel(e.path);
    const md5 = e.type === "obj" ? (e.md5 ?? md5File(e.src)) : "";
    const value = e.type === "obj" ? md5 : e.type === "sym" ? e.target! : "";
    contents.push(contentsEntry(e, md5));
    // §10.2 internal collisions: two image paths landing on one real destination
    const twin = seenPhys.get(physRel);
    if (twin) {
      if (twin.type !== e.type || twin.value !== value) throw new OuzoError("merge-internal-collision", `Package '${cpv}' NOT merged due to internal collisions: ${e.path} lands on ${physRel}, which another path of the image also fills with different content`, { pkg: cpv });
      return;
    }
    seenPhys.set(physRel, { type: e.type, value });
    if (moving && e.path.startsWith(moving.prefix)) {
      // below a directory moved whole: it comes along
      if (e.type === "dir") moving.dirs.push({ src: e.src, mode: e.mode, uid: e.uid, gid: e.gid });
      else result.merged.push(e.path);
      return;
    }
    // (below a directory moved whole, nothing is there to look at)
    const phys = paths.abs(physRel);
    const st = paths.inAbsentDir(physRel) ? undefined : lstatIfExists(phys);
    const ours = replacedPaths.has(e.path) || replacedPhys.has(physRel);
    checkWritable(path.dirname(phys));

    if (e.type === "dir") {
      if (st?.isDirectory()) {
        // kept as it is, mode and owner too, unless asked otherwise
        if (req.overwriteDirPerms && ((st.mode & 0o7777) !== e.mode || st.uid !== e.uid || st.gid !== e.gid)) dirPerms.push({ path: e.path, phys, mode: e.mode, uid: e.uid, gid: e.gid });
        return;
      }
      if (st?.isSymbolicLink() && isDirectoryIn(paths, e.path)) return; // a link to a directory stays a link
      if (!st) {
        if (!moveWhole(e, phys)) dirs.push({ path: e.path, phys, mode: e.mode, uid: e.uid, gid: e.gid });
        return;
      }
      if (!ours && !collisionIgnored(e.path)) candidates.push(e.path);
      const aside = backupName(phys);
      result.backups.push({ path: e.path, backup: rootRel(req.root, aside) });
      dirs.push({ path: e.path, phys, mode: e.mode, uid: e.uid, gid: e.gid, aside });
      paths.pin(e.path, physRel); // its children go into the new directory, not where the link in the way pointed
      return;
    }
    if (e.type === "fif" || e.type === "dev") {
      if (!st) {
        places.push(place(e, phys));
        result.merged.push(e.path);
      }
      return; // an existing one is left as it is (`---`)
    }

    // regular files and symlinks
    if (e.type === "sym" && st?.isDirectory()) {
      symlinkOverDir.push(e.path);
      return;
    }
    const isProtected = !protect.empty && protect.isProtected(e.path) && !neverProtected(e.path, e.size) && !st?.isDirectory();
    if (st && !ours && !isProtected && !collisionIgnored(e.path)) candidates.push(e.path);
    if (st?.isDirectory()) {
      // §10.3: a file where a directory is goes to a backup name beside it
      const b = backupName(phys);
      result.backups.push({ path: e.path, backup: rootRel(req.root, b) });
      places.push(place(e, b));
      return;
    }
    const decision = isProtected ? protectDecision(e, st, phys, value) : "plain";
    if (decision === "skip") {
      result.confmemSkipped.push(e.path);
      return;
    }
    if (decision === "cfg") {
      const dir = path.dirname(phys);
      const taken = cfgTaken.get(dir) ?? new Set<string>();
      cfgTaken.set(dir, taken);
      const name = cfgName(dir, path.basename(phys), value, taken);
      taken.add(name);
      const final = path.join(dir, name);
      result.configPending.push({ path: e.path, file: rootRel(req.root, final) });
      places.push(place(e, final));
      return;
    }
    if (e.type === "obj" && e.nlink < 2 && st?.isFile() && (st.mode & 0o7777) === e.mode && st.uid === e.uid && st.gid === e.gid && st.size === e.size && md5File(phys) === md5) {
      touches.push({ path: e.path, phys, atimeMs: e.atimeMs, mtimeMs: e.mtimeMs });
      result.identical.push(e.path);
      return;
    }
    // a file where nothing is goes straight to its name at staging (see PlanPlace.direct)
    places.push(place(e, phys, !st && e.type === "obj"));
    result.merged.push(e.path);
  };
  considerEach(entries, consider, cpv, reporter);

  if (symlinkOverDir.length) {
    throw new OuzoError("merge-symlink-over-dir", `Package '${cpv}' NOT merged since it has one or more symlinks where directories are installed, which is explicitly forbidden by PMS: ${symlinkOverDir.slice(0, 20).join(", ")}`, { pkg: cpv });
  }
  if (readOnly.size) throw new OuzoError("merge-read-only", `Package '${cpv}' NOT merged due to read-only file systems: ${[...readOnly].join(", ")}`, { pkg: cpv });
  const oldCpvs = new Set(olds.map((o) => o.cpv));
  result.collisions.push(...judgeCollisions(cpv, candidates, req.features, () => findOwners(req.root, candidates, oldCpvs, req.ownerIndex), reporter));


  // §10.1 step 15 decided now: what each replaced instance loses (the new instance, and the instances
  // still to be removed after it, count as owners)
  // (only a package that replaces another needs them: a new install makes none)
  const newPaths = new Set(olds.length ? contents.map((c) => c.path) : []);
  const newPhys = new Set(olds.length ? contents.map((c) => paths.physRel(c.path)) : []);
  const uninstallIgnored = ignoreMatcher(paths, req.uninstallIgnore ?? []);
  const confmemDel: string[] = [];
  const kept: KeptEntry[][] = [];
  const planOld: PlanOld[] = olds.map((o, i) => {
    const later = new Set(oldContents.slice(i + 1).flatMap((c) => c.map((e) => e.path)));
    const r = planRemoval(oldContents[i]!, {
      paths,
      protect,
      features: req.features,
      ignore: uninstallIgnored,
      ownedElsewhere: (p, physRel) => newPaths.has(p) || newPhys.has(physRel) || later.has(p),
    });
    if (r.protectedSymlinks.length) reporter?.report({ kind: "warning", code: "merge-protected-symlinks", message: `${o.cpv}: kept symlinks to directories that other files still use: ${r.protectedSymlinks.join(", ")} (UNINSTALL_IGNORE can name them)` });
    kept.push(r.kept);
    for (const e of oldContents[i]!) if (!newPaths.has(e.path) && confmemGet(e.path) !== undefined) confmemDel.push(e.path);
    return { category: o.category, pf: pfOf(o), cpv: o.cpv, dir: o.dir, counter: o.counter, remove: r.remove, dirs: r.dirs };
  });

  const counter = nextCounter(req.root, { durable: req.features.has("merge-sync") });
  const mergingDir = stagingDir(req.root, req.category, req.pf);
  const plan: TxPlan = {
    v: 1,
    tx,
    kind: "merge",
    root: req.root,
    category: req.category,
    pf: req.pf,
    cpv,
    replacedBy: version.text,
    counter,
    mergingDir,
    dirs,
    ...(dirPerms.length ? { dirPerms } : {}),
    places,
    ...(moves.length ? { moves } : {}),
    touches,
    old: planOld,
    confmem: { set: confmemSet, del: confmemDel },
    mergeSync: req.features.has("merge-sync"),
    // only merge-sync syncs them: finding them stats every destination directory
    syncPaths: req.features.has("merge-sync") ? syncPathsOf(req.root, [...dirs.map((d) => d.phys), ...moves.map((m) => m.final), ...places.map((p) => p.final)]) : [],
  };
  return { plan, contents, kept, result };
}

/** Where a merge writes its own state in ROOT before it stages anything (ROOT-relative): no directory above them is moved whole. */
const STATE_DIRS = [journalDir("/"), vdbDir("/"), path.dirname(counterFile("/"))];

function contentsEntry(e: ImageEntry, md5: string): ContentsEntry {
  switch (e.type) {
    case "obj":
      return { type: "obj", path: e.path, md5, mtime: seconds(e.mtimeMs) };
    case "sym":
      return { type: "sym", path: e.path, target: e.target!, mtime: seconds(e.mtimeMs) };
    default:
      return { type: e.type, path: e.path };
  }
}

const rootRel = (root: string, host: string) => {
  const r = path.relative(path.resolve(root), host);
  return `/${r}`;
};

function readValue(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

function pfOf(p: InstalledPackage): string {
  return p.cpv.slice(p.category.length + 1);
}

/** One existing path per filesystem among the destinations, and the vdb's. */
function syncPathsOf(root: string, finals: string[]): string[] {
  const byDev = new Map<number, string>();
  const seenDirs = new Set<string>();
  for (const f of [path.join(vdbDir(root), "x"), ...finals]) {
    let d = path.dirname(f);
    if (seenDirs.has(d)) continue;
    seenDirs.add(d);
    while (!fs.existsSync(d) && d !== path.dirname(d)) d = path.dirname(d);
    const dev = fs.statSync(d).dev;
    if (!byDev.has(dev)) byDev.set(dev, d);
  }
  return [...byDev.values()];
}
