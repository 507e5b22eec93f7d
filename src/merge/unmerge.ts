// Unmerge (build spec §11): pkg_prerm, the files of CONTENTS that are still the package's
// (§11.2), pkg_postrm, then the vdb entry — journaled like a merge, so that a crash after
// pkg_prerm finishes the removal and still removes the entry exactly once.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";
import { parseContents } from "../vdb/contents.js";
import type { InstalledPackage } from "../vdb/installed.js";
import type { OwnerIndex } from "../vdb/ownerIndex.js";
import { withVdbLock } from "../vdb/vdbLock.js";
import { ConfigProtect, readConfmem } from "./configProtect.js";
import { Journal, newTxid } from "./journal.js";
import { recoverUnderLock } from "./recover.js";
import { checkSetidLinks, planRemoval, type KeptEntry } from "./removal.js";
import { ignoreMatcher, RootPaths } from "./rootPath.js";
import { R, rollForward, type MergeHooks, type TxPlan } from "./transaction.js";

export interface UnmergeRequest {
  root: string;
  pkg: InstalledPackage;
  configProtect: string[];
  configProtectMask: string[];
  /** unmerge-orphans, merge-sync… */
  features: ReadonlySet<string>;
  hooks?: MergeHooks;
  reporter?: Reporter;
  /** UNINSTALL_IGNORE (fnmatch patterns relative to EROOT). */
  uninstallIgnore?: string[];
  /** Other installed instances of the slot: paths they own stay (`replaced`). */
  othersInSlot?: InstalledPackage[];
  /** ouzo's owner index, updated once the entry is gone. */
  ownerIndex?: OwnerIndex;
}

export interface UnmergeResult {
  readonly cpv: string;
  /** Paths removed (`<<<`), directories included. */
  readonly removed: string[];
  /** Paths left in place, with Portage's reason (`--- !md5 obj /etc/foo`). */
  readonly kept: KeptEntry[];
  /** Paths that should have gone but could not be removed (reported as warnings too). */
  readonly failed: string[];
  /** pkg_prerm/pkg_postrm failures (reported; the unmerge went on, §11.1). */
  readonly phaseProblems: string[];
}

function contentsOf(pkg: InstalledPackage) {
  let text = "";
  try {
    text = fs.readFileSync(path.join(pkg.dir, "CONTENTS"), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  return parseContents(text);
}

export async function unmergePackage(req: UnmergeRequest): Promise<UnmergeResult> {
  const { pkg } = req;
  return withVdbLock(req.root, async () => {
    await recoverUnderLock(req.root, { hooks: req.hooks, reporter: req.reporter });
    if (!fs.existsSync(pkg.dir)) throw new OuzoError("unmerge-not-installed", `${pkg.cpv} is not installed (no ${pkg.dir})`, { pkg: pkg.cpv });
    const paths = new RootPaths(req.root);
    const contents = contentsOf(pkg);
    checkSetidLinks(contents, paths, pkg.cpv);
    const others = (req.othersInSlot ?? []).filter((o) => o.cpv !== pkg.cpv);
    const otherPaths = new Set(others.flatMap((o) => contentsOf(o).map((e) => e.path)));
    const r = planRemoval(contents, {
      paths,
      protect: new ConfigProtect(req.configProtect, req.configProtectMask),
      features: req.features,
      ignore: ignoreMatcher(paths, req.uninstallIgnore ?? []),
      ownedElsewhere: (p) => otherPaths.has(p),
    });
    if (r.protectedSymlinks.length) req.reporter?.report({ kind: "warning", code: "unmerge-protected-symlinks", message: `${pkg.cpv}: kept symlinks to directories that other files still use: ${r.protectedSymlinks.join(", ")} (UNINSTALL_IGNORE can name them)` });
    const confmem = readConfmem(req.root);
    const pf = pkg.cpv.slice(pkg.category.length + 1);
    const tx = newTxid();
    const plan: TxPlan = {
      v: 1,
      tx,
      kind: "unmerge",
      root: req.root,
      category: pkg.category,
      pf,
      cpv: pkg.cpv,
      replacedBy: "",
      counter: pkg.counter,
      mergingDir: "",
      dirs: [],
      places: [],
      touches: [],
      old: [{ category: pkg.category, pf, cpv: pkg.cpv, dir: pkg.dir, counter: pkg.counter, remove: r.remove, dirs: r.dirs }],
      confmem: { set: {}, del: contents.filter((e) => !otherPaths.has(e.path) && confmem.has(e.path)).map((e) => e.path) },
      mergeSync: req.features.has("merge-sync"),
      syncPaths: [paths.root, path.dirname(pkg.dir)],
    };
    const journal = Journal.create(req.root, tx, { r: R.begin, plan }, { durable: req.features.has("merge-sync") });
    let fwd;
    try {
      fwd = await rollForward(plan, journal, [], req.hooks, req.reporter);
    } catch (e) {
      journal.close();
      throw new OuzoError("unmerge-interrupted", `the unmerge of ${pkg.cpv} stopped: ${(e as Error).message}; 'ouzo recover' (or the next ouzo run) finishes it`, { pkg: pkg.cpv });
    }
    req.ownerIndex?.update(pkg.cpv, undefined);
    const done = fwd.removed.get(pkg.cpv) ?? { removed: [], keptDirs: [], failed: [] };
    return {
      cpv: pkg.cpv,
      removed: done.removed,
      kept: [...r.kept, ...done.keptDirs.map((p) => ({ path: p, type: "dir" as const, reason: "!empty" }))],
      failed: done.failed,
      phaseProblems: fwd.phaseProblems,
    };
  });
}
