// Package moves from profiles/updates applied to the VDB and the world file (emerge spec §5.10):
//   move OLD-CP NEW-CP       installed OLD-CP entries become NEW-CP (directory, CATEGORY, PF, the
//                            saved ebuild's name); OLD-CP atoms in every entry's dependency files
//                            and in the world file name NEW-CP.
//   slotmove ATOM OLD NEW    installed entries matching ATOM in slot OLD get SLOT NEW (sub-slot
//                            kept); `cp:OLD` atoms in dependency files and world name NEW.
// [MARK] a versioned `move` source renames only the matching installed versions; dependency
// strings and world are not rewritten for it. Moves apply in the order given (the order of the
// update files), so chains (a → b, b → c) end where they should. Applying them again changes
// nothing: what they rename is no longer there.
import * as fs from "node:fs";
import * as path from "node:path";
import { atomicWriteFile, fsyncDir } from "../core/fsutil.js";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";
import { splitPackageDir, vdbDir } from "./installed.js";
import { withVdbLock, type PortageLockOptions } from "./vdbLock.js";
import { bumpVdbMtimes } from "./vdbWrite.js";
import { editWorldFile } from "./worldWrite.js";

/** One update line; sync/packageMoves.ts's PackageMove is one of these. */
export type VdbPackageMove =
  | { readonly kind: "move"; readonly from: Atom; readonly to: string; readonly file?: string; readonly line?: number }
  | { readonly kind: "slotmove"; readonly atom: Atom; readonly fromSlot: string; readonly toSlot: string; readonly file?: string; readonly line?: number };

export interface PackageMovesReport {
  /** Entries renamed: `category/PF` before and after. */
  readonly renamed: { from: string; to: string }[];
  /** Entries whose SLOT changed (values as in the SLOT file). */
  readonly slots: { cpv: string; from: string; to: string }[];
  /** Entries whose dependency files were rewritten, with the files. */
  readonly deps: { cpv: string; files: string[] }[];
  /** World entries rewritten. */
  readonly world: { from: string; to: string }[];
  /** Moves that could not be applied to an entry, and why. */
  readonly skipped: { cpv: string; why: string }[];
}

const DEP_FILES = ["DEPEND", "RDEPEND", "PDEPEND", "BDEPEND", "IDEPEND"];
const notEntry = (name: string) => name.startsWith(".") || name.startsWith("-MERGING-") || name === "CVS" || name === "lost+found";

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Entries of one category whose package name is `pn`: [PF, version]. */
function entriesOf(root: string, category: string, pn: string) {
  const dir = path.join(vdbDir(root), category);
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.flatMap((pf) => {
    if (notEntry(pf)) return [];
    const split = splitPackageDir(pf);
    return split && split.pn === pn ? [{ pf, dir: path.join(dir, pf), version: split.version }] : [];
  });
}

function slotOf(dir: string): string {
  return (readText(path.join(dir, "SLOT")) ?? "").trim();
}

function applyMove(root: string, m: Extract<VdbPackageMove, { kind: "move" }>, report: PackageMovesReport): void {
  const [toCat, toPn] = m.to.split("/") as [string, string];
  for (const e of entriesOf(root, m.from.category, m.from.package_)) {
    const slot = slotOf(e.dir).split("/");
    if (m.from.version && !m.from.matchesIgnoringUse({ category: m.from.category, package: m.from.package_, version: e.version, slot: slot[0], subslot: slot[1] ?? slot[0] })) continue;
    const newPf = `${toPn}-${e.version.text}`;
    const from = `${m.from.category}/${e.pf}`;
    const target = path.join(vdbDir(root), toCat, newPf);
    if (fs.existsSync(target)) {
      report.skipped.push({ cpv: from, why: `${toCat}/${newPf} is installed already` });
      continue;
    }
    // in place first: a run cut short here is finished by the next (entries are found by directory name)
    atomicWriteFile(path.join(e.dir, "CATEGORY"), `${toCat}\n`, 0o644);
    atomicWriteFile(path.join(e.dir, "PF"), `${newPf}\n`, 0o644);
    if (e.pf !== newPf && fs.existsSync(path.join(e.dir, `${e.pf}.ebuild`))) fs.renameSync(path.join(e.dir, `${e.pf}.ebuild`), path.join(e.dir, `${newPf}.ebuild`));
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    bumpVdbMtimes(root, m.from.category);
    bumpVdbMtimes(root, toCat);
    fs.renameSync(e.dir, target);
    fsyncDir(path.dirname(target));
    fsyncDir(path.dirname(e.dir));
    try {
      fs.rmdirSync(path.dirname(e.dir));
    } catch {
      // other entries remain
    }
    bumpVdbMtimes(root, m.from.category);
    bumpVdbMtimes(root, toCat);
    report.renamed.push({ from, to: `${toCat}/${newPf}` });
  }
}

function applySlotMove(root: string, m: Extract<VdbPackageMove, { kind: "slotmove" }>, report: PackageMovesReport): void {
  for (const e of entriesOf(root, m.atom.category, m.atom.package_)) {
    const text = slotOf(e.dir);
    const [slot, subslot] = text.split("/", 2) as [string, string | undefined];
    if (slot !== m.fromSlot) continue;
    if (!m.atom.matchesIgnoringUse({ category: m.atom.category, package: m.atom.package_, version: e.version, slot, subslot: subslot ?? slot })) continue;
    const to = subslot !== undefined ? `${m.toSlot}/${subslot}` : m.toSlot;
    bumpVdbMtimes(root, m.atom.category);
    atomicWriteFile(path.join(e.dir, "SLOT"), `${to}\n`, 0o644);
    bumpVdbMtimes(root, m.atom.category);
    report.slots.push({ cpv: `${m.atom.category}/${e.pf}`, from: text, to });
  }
}

const PREFIX_RE = /^(?:!!?)?(?:<=|>=|=|~|<|>)?/;

/**
 * A dependency string (or a world entry) with the moves applied to its atoms; every other
 * character is kept. Only unversioned `move`s and `slotmove`s belong in `moves`.
 */
export function applyMovesToDependencies(text: string, moves: readonly VdbPackageMove[]): string {
  const sources = new Set(moves.map((m) => (m.kind === "move" ? m.from.cp : m.atom.cp)));
  if (!sources.size) return text;
  return text
    .split(/(\s+)/)
    .map((tok) => {
      if (!tok.includes("/")) return tok;
      const a = Atom.tryParse(tok, USER_CONFIG_EAPI);
      if (!a || a.extended || !sources.has(a.cp)) return tok;
      const prefix = PREFIX_RE.exec(tok)![0];
      if (!tok.startsWith(a.cp, prefix.length)) return tok;
      let cp = a.cp;
      let rest = tok.slice(prefix.length + cp.length);
      for (const m of moves) {
        if (m.kind === "move") {
          if (m.from.cp === cp) cp = m.to;
        } else if (m.atom.cp === cp) {
          rest = rest.replace(new RegExp(`^([^:[]*):${m.fromSlot.replace(/[.+]/g, "\\$&")}(?=$|[/=[:])`), `$1:${m.toSlot}`);
        }
      }
      return prefix + cp + rest;
    })
    .join("");
}

function rewriteDependencies(root: string, moves: readonly VdbPackageMove[], report: PackageMovesReport): void {
  if (!moves.length) return;
  const base = vdbDir(root);
  let cats: string[];
  try {
    cats = fs.readdirSync(base).sort();
  } catch {
    return;
  }
  for (const cat of cats) {
    if (notEntry(cat)) continue;
    let names: string[];
    try {
      names = fs.readdirSync(path.join(base, cat)).sort();
    } catch {
      continue;
    }
    let touched = false;
    for (const pf of names) {
      if (notEntry(pf)) continue;
      const files: string[] = [];
      for (const f of DEP_FILES) {
        const file = path.join(base, cat, pf, f);
        const text = readText(file);
        if (text === undefined) continue;
        const next = applyMovesToDependencies(text, moves);
        if (next === text) continue;
        if (!touched) bumpVdbMtimes(root, cat);
        touched = true;
        atomicWriteFile(file, next, 0o644);
        files.push(f);
      }
      if (files.length) report.deps.push({ cpv: `${cat}/${pf}`, files });
    }
    if (touched) bumpVdbMtimes(root, cat);
  }
}

/**
 * Apply package moves to ROOT's VDB (under the VDB lock) and world file (under its lock), in
 * order; returns what changed (nothing, when they were applied before).
 */
export function applyPackageMoves(root: string, moves: readonly VdbPackageMove[], opts: PortageLockOptions = {}): Promise<PackageMovesReport> {
  return withVdbLock(
    root,
    async () => {
      const report: PackageMovesReport = { renamed: [], slots: [], deps: [], world: [], skipped: [] };
      for (const m of moves) {
        if (m.kind === "move") applyMove(root, m, report);
        else applySlotMove(root, m, report);
      }
      // [MARK] versioned moves leave dependency strings and world alone
      const textual = moves.filter((m) => m.kind === "slotmove" || !m.from.version);
      rewriteDependencies(root, textual, report);
      if (textual.length && fs.existsSync(path.join(root, "var", "lib", "portage", "world"))) {
        await editWorldFile(
          root,
          "world",
          (entries) =>
            entries.map((e) => {
              const to = applyMovesToDependencies(e, textual);
              if (to !== e) report.world.push({ from: e, to });
              return to;
            }),
          opts,
        );
      }
      return report;
    },
    opts,
  );
}
