// Recovery of an interrupted merge or unmerge (build spec §10.8): run before anything else, under
// the vdb lock. A merge whose staging was not complete is rolled back (the image gets its files
// back, ROOT is as it was); one that was staged is rolled forward to the end. An unmerge is
// finished once its pkg_prerm was recorded, and otherwise dropped (nothing was removed yet).
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";
import { vdbDir } from "../vdb/installed.js";
import { vdbLockHolding, withVdbLock } from "../vdb/vdbLock.js";
import { recoverVdbEntries } from "../vdb/vdbWrite.js";
import { Journal, listJournals, readJournal } from "./journal.js";
import { removeStaleTemps } from "../core/fsutil.js";
import { counterFile } from "../vdb/counter.js";
import { confmemFile } from "./configProtect.js";
import { planOfJournal, R, rollBack, rollForward, type MergeHooks } from "./transaction.js";

export interface RecoveredTransaction {
  readonly tx: string;
  readonly kind: "merge" | "unmerge" | "unknown";
  readonly cpv: string;
  /** rolled-back: as if it never started; rolled-forward: finished; discarded: a journal whose first record never became durable. */
  readonly action: "rolled-back" | "rolled-forward" | "discarded";
  /** The last record the interrupted run had written. */
  readonly state: string;
  /** pkg_prerm/pkg_postrm that failed or could not be run during the recovery. */
  readonly phaseProblems: string[];
}

export interface RecoveryReport {
  readonly transactions: RecoveredTransaction[];
  /** `-MERGING-` entries that no journal accounts for (left by Portage): reported, never deleted. */
  readonly strayMerging: string[];
}

export interface RecoveryOptions {
  /** pkg_prerm/pkg_postrm of replaced instances that the interrupted run had not reached. Without them these phases are skipped with a warning. */
  readonly hooks?: MergeHooks;
}

/**
 * Whether a journal is waiting in ROOT (cheap, no lock): a caller that only reads may skip
 * recoverInterrupted when there is none, rather than wait for the vdb lock of a running merge.
 */
export function pendingRecovery(root: string): boolean {
  return listJournals(root).length > 0;
}

/** Finish or undo whatever an interrupted ouzo left in ROOT; a no-op when nothing was interrupted. */
export async function recoverInterrupted(root: string, reporter?: Reporter, opts: RecoveryOptions = {}): Promise<RecoveryReport> {
  return withVdbLock(root, () => recoverUnderLock(root, { ...opts, reporter }));
}

/** The holding of the VDB lock (vdbLockHolding) under which each ROOT was last found in order. */
const inOrderUnder = new Map<string, number>();

/**
 * The same, for a caller that already holds the vdb lock (merge and unmerge start with it). Under
 * one holding the whole check is made once: what it looks for can only come back from a failed
 * transaction of this holding, which leaves its journal, and that is looked for every time.
 */
export async function recoverUnderLock(root: string, opts: RecoveryOptions & { reporter?: Reporter | undefined } = {}): Promise<RecoveryReport> {
  const holding = vdbLockHolding(root);
  const key = path.resolve(root);
  if (holding !== undefined && inOrderUnder.get(key) === holding && !pendingRecovery(root)) return { transactions: [], strayMerging: [] };
  const report = await recoverAll(root, opts);
  if (holding !== undefined) inOrderUnder.set(key, holding);
  return report;
}

async function recoverAll(root: string, opts: RecoveryOptions & { reporter?: Reporter | undefined }): Promise<RecoveryReport> {
  const reporter = opts.reporter;
  const transactions: RecoveredTransaction[] = [];
  // first the vdb's own half-done renames (an entry set aside by a commit comes back), so that
  // the journals below find each entry whole: old, or new, or staged
  recoverVdbEntries(root);
  // the files merges rewrite with atomicWriteFile under this lock: a kill between write and rename
  // leaves its temp file beside them, with or without a journal (COUNTER is taken before it)
  removeStaleTemps(confmemFile(root));
  removeStaleTemps(counterFile(root));
  for (const file of listJournals(root)) {
    const records = readJournal(file);
    const tx = path.basename(file);
    const head = records[0];
    if (head?.r !== R.begin) {
      // the first record never became durable, and nothing is changed before it is
      fs.rmSync(file, { force: true });
      transactions.push({ tx, kind: "unknown", cpv: "", action: "discarded", state: "", phaseProblems: [] });
      continue;
    }
    const plan = planOfJournal(head.plan);
    if (path.resolve(plan.root) !== path.resolve(root)) {
      throw new OuzoError("recover-root", `the interrupted ${plan.kind} of ${plan.cpv} was made in ${plan.root}, not ${root}: it can only be recovered there (journal ${file})`);
    }
    const state = records[records.length - 1]!.r;
    const has = (r: string) => records.some((x) => x.r === r);
    const undo = plan.kind === "merge" ? !has(R.staged) : !has(R.prerm);
    if (undo) {
      reporter?.report({ kind: "notice", message: `rolling back the interrupted ${plan.kind} of ${plan.cpv} (it had reached ${state})` });
      if (plan.kind === "merge") rollBack(plan);
      const j = Journal.reopen(file);
      j.remove();
      transactions.push({ tx, kind: plan.kind, cpv: plan.cpv, action: "rolled-back", state, phaseProblems: [] });
      continue;
    }
    reporter?.report({ kind: "notice", message: `finishing the interrupted ${plan.kind} of ${plan.cpv} (it had reached ${state})` });
    const fwd = await rollForward(plan, Journal.reopen(file), records.slice(1), opts.hooks, reporter);
    const phaseProblems = [...fwd.phaseProblems];
    if (!opts.hooks) {
      for (let i = 0; i < plan.old.length; i++) {
        for (const [r, phase] of [[R.prerm, "pkg_prerm"], [R.postrm, "pkg_postrm"]] as const) {
          if (!records.some((x) => x.r === r && x.i === i)) phaseProblems.push(`${phase} of ${plan.old[i]!.cpv} was not run: the interrupted run had not reached it and no phase runner was given to the recovery`);
        }
      }
      for (const m of phaseProblems) reporter?.report({ kind: "warning", code: "recover-phase-skipped", message: m });
    }
    transactions.push({ tx, kind: plan.kind, cpv: plan.cpv, action: "rolled-forward", state, phaseProblems });
  }
  // an unmerge's removal empties a category directory and removes it; one interrupted between the
  // two leaves the empty directory, which a finished run would not have
  if (transactions.some((t) => t.action !== "discarded")) {
    const vdb = vdbDir(root);
    for (const cat of fs.existsSync(vdb) ? fs.readdirSync(vdb) : []) {
      const d = path.join(vdb, cat);
      try {
        if (fs.statSync(d).isDirectory() && fs.readdirSync(d).length === 0) fs.rmdirSync(d);
      } catch {
        // gone meanwhile, or not ours to remove
      }
    }
  }
  const strayMerging = findMerging(root);
  for (const d of strayMerging) reporter?.report({ kind: "warning", code: "recover-stray-merging", message: `${d}: an entry under construction that no ouzo journal accounts for (an interrupted Portage merge?); it is not counted as installed and is left for you to inspect` });
  return { transactions, strayMerging };
}

function findMerging(root: string): string[] {
  const base = vdbDir(root);
  const out: string[] = [];
  let cats: string[];
  try {
    cats = fs.readdirSync(base);
  } catch {
    return out;
  }
  for (const c of cats) {
    if (c.startsWith(".")) continue;
    try {
      for (const n of fs.readdirSync(path.join(base, c))) if (n.startsWith("-MERGING-")) out.push(path.join(base, c, n));
    } catch {
      // not a directory
    }
  }
  return out.sort();
}
