// anise's administration commands (anise.md §14): `repo enable/disable`, `mask
// add/del/list/enable/disable`, `subsets list/enable/disable` and `database
// create/remove/reindex`. The first three change anise's configuration where AniseConfig.ts reads
// it (repos.conf.d, mask.d, subsets.conf.d, anise.yaml), so that install and upgrade honour the
// change at once; the files are edited as YAML documents (comments and other keys kept) and
// replaced atomically, every error found before the first write. `database` works on ouzo's
// installed view, /var/db/pkg, under the VDB lock (src/anise/aniseDatabase.ts). ROOT and the
// configuration are found as the other anise commands find them (--system-target, --config).
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { AniseCatalog } from "../../anise/AniseCatalog.js";
import { envOverrides, yamlFiles } from "../../anise/AniseConfig.js";
import { subsetRules } from "../../anise/AnisePackage.js";
import { aniseRecordOf } from "../../anise/AniseRecord.js";
import {
  checkMaskRule,
  commitYamlEdits,
  enabledSubsetsIn,
  planMaskAdd,
  planMaskDel,
  planMaskEnable,
  planRepoEnable,
  planSubsetsDisable,
  planSubsetsEnable,
  readMaskFile,
  type MaskFile,
  type YamlEdit,
} from "../../anise/aniseConfigWrite.js";
import { createRecords, readPackageRegistration, reindexOwners, removeRecords } from "../../anise/aniseDatabase.js";
import type { AniseRepoDef } from "../../config/aniseRepos.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import type { Output } from "../../ui/Output.js";
import { readInstalled, type InstalledPackage } from "../../vdb/installed.js";
import { OwnerIndex } from "../../vdb/ownerIndex.js";
import { withPortageLock } from "../../vdb/vdbLock.js";
import { configRootOf, type GlobalArgs } from "../context.js";
import { aniseCatalogOf, emit, installedNamed, openAniseBase, outputMode, type AniseBase } from "./aniseSystem.js";

export interface AniseAdminArgs extends GlobalArgs {
  systemTarget?: string;
  config?: string;
  output?: string;
  /** repo enable/disable */
  repos?: string[];
  /** mask add/del */
  rules?: string[];
  /** subsets enable/disable */
  names?: string[];
  /** database create */
  files?: string[];
  /** database remove */
  packages?: string[];
  /** -f/--file of mask and subsets */
  file?: string;
  /** mask list --enabled */
  enabled?: boolean;
  /** database remove --force */
  force?: boolean;
}

/** What these commands need of the system: ROOT, the configuration, the repository definitions. */
type AdminSystem = AniseBase;

/** ROOT and the configuration as the other anise commands find them; -o checked first. */
function openAdmin(args: AniseAdminArgs, out: Output): AdminSystem {
  outputMode(args);
  return openAniseBase(args, out);
}

/**
 * Open the system and change its configuration holding a lock, so that two commands editing the
 * same file do not lose each other's change (each reads, changes and replaces it). The lock file
 * (CONFIG_ROOT/var/lib/ouzo/anise-config.lock) exists only while held.
 */
function withConfigEdit<T>(args: AniseAdminArgs, out: Output, fn: (sys: AdminSystem) => T): Promise<T> {
  outputMode(args);
  const given = args.systemTarget ?? args.root ?? process.env.ROOT;
  const configRoot = configRootOf({ ...args, root: path.resolve(given ?? "/") });
  const lock = path.join(configRoot, "var", "lib", "ouzo", "anise-config.lock");
  return withPortageLock(lock, () => fn(openAdmin(args, out)), { reporter: out, name: "anise's configuration", what: "ouzo anise" });
}

function catalogOf(sys: AdminSystem, out: Output): AniseCatalog {
  return aniseCatalogOf(sys, out);
}

const inside = (dir: string, file: string) => {
  const rel = path.relative(dir, file);
  return !!rel && !rel.startsWith("..") && !path.isAbsolute(rel);
};

/**
 * The file `-f/--file` names, as anise takes it: NAME is DIR/NAME.yml in the first directory of
 * `dirs`; a path (under the configuration root, as the directories are) must be in one of them,
 * since no other file is read. Without -f: DIR/main.yml, anise's default.
 */
function fileOption(sys: AdminSystem, dirs: readonly string[], name: string | undefined, what: string): string {
  const first = dirs[0];
  if (!first) throw new OuzoError("ANISE_CONFIG", `no ${what} directory is configured`);
  if (!name) return path.join(first, "main.yml");
  if (!name.includes("/")) return path.join(first, /\.ya?ml$/.test(name) ? name : `${name}.yml`);
  const candidates = path.isAbsolute(name) ? [path.join(sys.configRoot, name), name] : [path.resolve(name)];
  const file = candidates.find((f) => dirs.some((d) => inside(d, f)));
  if (!file) throw new UsageError(`${name} is not in a ${what} directory (${dirs.join(", ")}): it would not be read`);
  return /\.ya?ml$/.test(file) ? file : `${file}.yml`;
}

const show = (sys: AdminSystem, file: string) => (sys.configRoot !== "/" && inside(sys.configRoot, file) ? `/${path.relative(sys.configRoot, file)}` : file);

// --- repo enable / disable ---

async function setRepos(args: AniseAdminArgs, out: Output, enable: boolean): Promise<number> {
  const names = args.repos ?? [];
  if (!names.length) throw new UsageError(`repo ${enable ? "enable" : "disable"} needs a repository name`);
  const { sys, edits } = await withConfigEdit(args, out, (sys) => {
    const defs: AniseRepoDef[] = [];
    for (const n of names) {
      const d = sys.defs.find((x) => x.name === n);
      if (!d) throw new OuzoError("ANISE_NO_REPO", `no anise repository called '${n}' is configured${sys.defs.length ? ` (there are: ${sys.defs.map((x) => x.name).join(", ")})` : ""}`);
      if (!defs.includes(d)) defs.push(d);
    }
    const edits = defs.map((d) => ({ def: d, edit: d.enable === enable ? undefined : planRepoEnable(d.file, enable) }));
    commitYamlEdits(edits.flatMap((e) => (e.edit ? [e.edit] : [])));
    return { sys, edits };
  });
  const doc = { repositories: edits.map((e) => ({ name: e.def.name, enable, changed: !!e.edit, file: e.def.file })) };
  const word = enable ? "enabled" : "disabled";
  emit(args, out, doc, () => edits.map((e) => (e.edit ? `Repository ${e.def.name} ${word} (${show(sys, e.def.file)}).` : `Repository ${e.def.name} is already ${word}: nothing to do.`)));
  return 0;
}

/** `anise repo enable REPO…`: `enable: true` in each repository's definition file. */
export function aniseRepoEnableCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  return setRepos(args, out, true);
}

/** `anise repo disable REPO…`: `enable: false`; install, upgrade and search no longer see its packages. */
export function aniseRepoDisableCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  return setRepos(args, out, false);
}

// --- mask ---

function maskFiles(sys: AdminSystem, out: Output): MaskFile[] {
  const files: MaskFile[] = [];
  for (const dir of sys.config.maskDirs) {
    for (const f of yamlFiles(dir)) {
      try {
        files.push(readMaskFile(f));
      } catch (e) {
        out.warn((e as OuzoError).describe?.() ?? (e as Error).message);
      }
    }
  }
  return files;
}

/** `anise mask add RULE…`: into mask.d/main.yml (or -f NAME), made when missing. */
export async function aniseMaskAddCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  if (!args.rules?.length) throw new UsageError("mask add needs a rule (a package atom such as '>=cat/pkg-1.0')");
  const rules = args.rules.map(checkMaskRule);
  return withConfigEdit(args, out, (sys) => {
    const file = fileOption(sys, sys.config.maskDirs, args.file, "packages_maskdir");
    const { edit, added, present } = planMaskAdd(file, rules);
    commitYamlEdits([edit]);
    const disabled = readMaskFile(file).enabled === false;
    emit(args, out, { file, added, already_present: present, enabled: !disabled }, () => [
      ...(added.length ? [`Mask rules added to ${show(sys, file)}: ${added.join(" ")}`] : []),
      ...present.map((r) => `${r}: already in ${show(sys, file)}`),
    ]);
    if (disabled) out.warn(`${file} is disabled: its rules do not count until 'anise mask enable -f ${path.basename(file, path.extname(file))}'`);
    return 0;
  });
}

/** `anise mask del RULE…`: from -f FILE, or from every mask file that has it; a rule none has is an error. */
export async function aniseMaskDelCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  if (!args.rules?.length) throw new UsageError("mask del needs a rule");
  const wanted = new Set(args.rules.map((r) => r.trim()));
  return withConfigEdit(args, out, (sys) => {
    const files = args.file ? [fileOption(sys, sys.config.maskDirs, args.file, "packages_maskdir")] : maskFiles(sys, out).map((m) => m.file);
    if (args.file && !fs.existsSync(files[0]!)) throw new OuzoError("ANISE_NO_MASK_FILE", "no such mask file", { file: files[0] });
    const edits: YamlEdit[] = [];
    const removed: { rule: string; file: string }[] = [];
    for (const f of files) {
      const r = planMaskDel(f, wanted);
      if (!r.removed.length) continue;
      edits.push(r.edit);
      for (const rule of r.removed) removed.push({ rule, file: f });
    }
    const missing = [...wanted].filter((w) => !removed.some((r) => r.rule === w));
    if (missing.length) {
      throw new OuzoError("ANISE_NO_MASK", `no mask rule ${missing.map((m) => `'${m}'`).join(", ")} in ${args.file ? show(sys, files[0]!) : `the mask files (${sys.config.maskDirs.map((d) => show(sys, d)).join(", ")})`}; 'anise mask list' shows them`);
    }
    commitYamlEdits(edits);
    emit(args, out, { removed }, () => removed.map((r) => `Mask rule ${r.rule} removed from ${show(sys, r.file)}.`));
    return 0;
  });
}

/** `anise mask list`: every rule of every mask file (`--enabled`: of the enabled files only). */
export async function aniseMaskListCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  const sys = openAdmin(args, out);
  const files = maskFiles(sys, out).filter((m) => !args.enabled || m.enabled);
  emit(args, out, { files: files.map((m) => ({ file: m.file, description: m.description, enabled: m.enabled, rules: m.rules })) }, () =>
    files.flatMap((m) => m.rules.map((r) => `${r} (${show(sys, m.file)}${m.enabled ? "" : ", disabled"})`)),
  );
  return 0;
}

async function setMaskFile(args: AniseAdminArgs, out: Output, enabled: boolean): Promise<number> {
  return withConfigEdit(args, out, (sys) => {
    const file = fileOption(sys, sys.config.maskDirs, args.file, "packages_maskdir");
    if (!fs.existsSync(file)) throw new OuzoError("ANISE_NO_MASK_FILE", `no such mask file${args.file ? "" : " (name one with -f)"}`, { file });
    const edit = planMaskEnable(file, enabled);
    commitYamlEdits([edit]);
    const word = enabled ? "enabled" : "disabled";
    emit(args, out, { file, enabled, changed: edit.changed }, () => [edit.changed ? `Mask file ${show(sys, file)} ${word}.` : `Mask file ${show(sys, file)} is already ${word}.`]);
    return 0;
  });
}

/** `anise mask enable [-f FILE]`: its rules count again. */
export function aniseMaskEnableCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  return setMaskFile(args, out, true);
}

/** `anise mask disable [-f FILE]`: its rules no longer count (the file stays). */
export function aniseMaskDisableCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  return setMaskFile(args, out, false);
}

// --- subsets ---

/** anise's own words for the subsets its packages use most (anise subsets list). */
const BUILTIN: Record<string, string> = { portage: "Portage metadata and files.", devel: "Includes and devel files. Needed for compilation." };

interface SubsetInfo {
  name: string;
  enabled: boolean;
  description: string;
  /** subsets.def.d files defining it. */
  definitions: string[];
  /** Packages (repositories and installed) whose subsets annotation has it. */
  packages: number;
}

/** Every subset known: subsets.def.d, the packages' annotations (repositories and installed), and the enabled ones. */
function knownSubsets(sys: AdminSystem, out: Output): Map<string, SubsetInfo> {
  const known = new Map<string, SubsetInfo>();
  const get = (name: string) => {
    let s = known.get(name);
    if (!s) known.set(name, (s = { name, enabled: sys.config.subsetsEnabled.has(name), description: BUILTIN[name] ?? "", definitions: [], packages: 0 }));
    return s;
  };
  for (const dir of sys.config.subsetsDefDirs) {
    for (const f of yamlFiles(dir)) {
      let d: unknown;
      try {
        d = YAML.parse(fs.readFileSync(f, "utf8"));
      } catch (e) {
        out.warn(`${f}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
        continue;
      }
      const defs = (d as { subsets_def?: unknown } | null)?.subsets_def;
      if (typeof defs !== "object" || defs === null) continue;
      for (const [name, def] of Object.entries(defs as Record<string, { descr?: unknown; description?: unknown }>)) {
        const s = get(name);
        s.definitions.push(f);
        const descr = def?.descr ?? def?.description;
        if (typeof descr === "string" && descr) s.description = descr;
      }
    }
  }
  const counted = new Set<string>();
  const count = (key: string, names: Iterable<string>) => {
    if (counted.has(key)) return;
    counted.add(key);
    for (const n of names) get(n).packages++;
  };
  const catalog = catalogOf(sys, out);
  for (const cp of catalog.allPackages()) for (const e of catalog.packages(cp)) count(`${cp}-${e.spec.version}`, subsetRules(e.spec).keys());
  for (const p of readInstalled(sys.root)) {
    const rec = aniseRecordOf(p);
    if (rec?.spec) count(`${p.category}/${p.package}-${rec.version}`, subsetRules(rec.spec).keys());
  }
  for (const n of sys.config.subsetsEnabled) get(n);
  return known;
}

/** `anise subsets list`: the subsets known, enabled or not (`-q`: the enabled names only, as anise -q). */
export async function aniseSubsetsListCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  const sys = openAdmin(args, out);
  const subsets = [...knownSubsets(sys, out).values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  emit(args, out, { subsets }, () =>
    args.quiet
      ? subsets.filter((s) => s.enabled).map((s) => s.name)
      : subsets.length
        ? subsets.map((s) => `${s.enabled ? "*" : " "} ${s.name}${s.description ? ` - ${s.description}` : ""}${s.packages ? ` (${s.packages} package${s.packages === 1 ? "" : "s"})` : ""}`)
        : ["No subsets are defined or enabled."],
  );
  return 0;
}

function checkSubsetNames(names: readonly string[] | undefined, what: string): string[] {
  if (!names?.length) throw new UsageError(`subsets ${what} needs a subset name`);
  for (const n of names) if (!/^[^\s]+$/.test(n)) throw new UsageError(`'${n}' is not a subset name (ANISE_SUBSETS separates them with blanks)`);
  return [...new Set(names)];
}

/** `anise subsets enable NAME…`: into subsets.conf.d/main.yml (or -f NAME), made when missing. */
export async function aniseSubsetsEnableCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  const names = checkSubsetNames(args.names, "enable");
  return withConfigEdit(args, out, (sys) => {
    const file = fileOption(sys, sys.config.subsetsConfDirs, args.file, "subsets_confdir");
    const already = names.filter((n) => sys.config.subsetsEnabled.has(n));
    const added = names.filter((n) => !already.includes(n));
    if (added.length) commitYamlEdits([planSubsetsEnable(file, added)]);
    const unknown = added.filter((n) => !BUILTIN[n]);
    if (unknown.length) {
      const known = knownSubsets(sys, out);
      for (const n of unknown) if (!known.get(n)?.definitions.length && !known.get(n)?.packages) out.warn(`no subsets.def.d definition and no package names the subset '${n}'; enabled all the same`);
    }
    emit(args, out, { file, enabled: added, already_enabled: already }, () => [
      ...(added.length ? [`Subsets ${added.join(" ")} enabled (${show(sys, file)}).`] : []),
      ...already.map((n) => `Subset ${n} is already enabled.`),
    ]);
    return 0;
  });
}

/**
 * `anise subsets disable NAME…`: removed from every subsets.conf.d file that enables it, and from
 * the configuration file's `subsets.enabled` (anise only edits main.yml, and says "maybe the
 * subset is enabled in another file"). One the ANISE_ environment enables cannot be disabled here.
 */
export async function aniseSubsetsDisableCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  const names = checkSubsetNames(args.names, "disable");
  return withConfigEdit(args, out, (sys) => {
    const env = envOverrides(process.env) as { subsets?: { enabled?: unknown } };
    const fromEnv = env.subsets?.enabled;
    const envList = Array.isArray(fromEnv) ? fromEnv.map(String) : typeof fromEnv === "string" ? fromEnv.split(/[\s,]+/) : [];
    const pinned = names.filter((n) => envList.includes(n));
    if (pinned.length) throw new OuzoError("ANISE_SUBSET_ENV", `the environment (ANISE_SUBSETS__ENABLED) enables ${pinned.join(", ")}: unset it to disable ${pinned.length === 1 ? "it" : "them"}`);
    const wanted = new Set(names);
    const files = args.file ? [fileOption(sys, sys.config.subsetsConfDirs, args.file, "subsets_confdir")] : sys.config.subsetsConfDirs.flatMap((d) => yamlFiles(d));
    const edits: YamlEdit[] = [];
    const removed: { subset: string; file: string }[] = [];
    const plan = (file: string, keys: string[]) => {
      if (!fs.existsSync(file) || !enabledSubsetsIn(file, keys).some((n) => wanted.has(n))) return;
      const r = planSubsetsDisable(file, keys, wanted);
      edits.push(r.edit);
      for (const s of r.removed) removed.push({ subset: s, file });
    };
    for (const f of files) plan(f, ["enabled"]);
    if (!args.file && sys.config.file) plan(sys.config.file, ["subsets", "enabled"]);
    commitYamlEdits(edits);
    const done = names.filter((n) => removed.some((r) => r.subset === n));
    const notEnabled = names.filter((n) => !done.includes(n));
    emit(args, out, { disabled: done, not_enabled: notEnabled, files: [...new Set(removed.map((r) => r.file))] }, () => [
      ...done.map((n) => `Subset ${n} disabled (${removed.filter((r) => r.subset === n).map((r) => show(sys, r.file)).join(", ")}).`),
      ...notEnabled.map((n) => `Subset ${n} is not enabled${args.file ? ` in ${show(sys, files[0]!)}` : ""}: nothing to do.`),
    ]);
    return 0;
  });
}

// --- database ---

/** `anise database create FILE…`: record packages from their metadata without unpacking them. */
export async function aniseDatabaseCreateCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  if (!args.files?.length) throw new UsageError("database create needs a metadata file (<fingerprint>.metadata.yaml, metadata.json or definition.yaml)");
  const sys = openAdmin(args, out);
  const pkgs = args.files.map((f) => readPackageRegistration(f));
  const index = OwnerIndex.open(sys.root, sys.cacheDir, { reporter: out });
  let created;
  try {
    created = await createRecords(sys.root, pkgs, { ownerIndex: index, reporter: out });
  } finally {
    index.close();
  }
  emit(args, out, { created }, () => created.map((c) => `${c.package} created (${c.vdb}, ${c.files} files${c.missing.length ? `, ${c.missing.length} not on disk` : ""}).`));
  for (const c of created) if (c.missing.length && outputMode(args) === "terminal") out.warn(`${c.package}: ${c.missing.length} of its files ${c.missing.length === 1 ? "is" : "are"} not on disk (recorded all the same): ${c.missing.slice(0, 3).join(", ")}${c.missing.length > 3 ? ", …" : ""}`);
  return 0;
}

/** `anise database remove PKG…`: drop the installed record; the files stay. Packages built from source need --force. */
export async function aniseDatabaseRemoveCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  if (!args.packages?.length) throw new UsageError("database remove needs a package");
  const sys = openAdmin(args, out);
  const installed = readInstalled(sys.root);
  let catalog: AniseCatalog | undefined;
  const names = {
    categoriesOf: (name: string) => [...new Set([...(catalog ??= catalogOf(sys, out)).categoriesOf(name), ...installed.filter((p) => p.package === name).map((p) => p.category)])].sort(),
  };
  const targets: InstalledPackage[] = [];
  for (const a of args.packages) {
    const m = installedNamed(a, installed, names);
    const fromSource = m.filter((p) => !aniseRecordOf(p));
    if (fromSource.length && !args.force) throw new OuzoError("ANISE_NOT_ANISE", `${fromSource.map((p) => p.cpv).join(", ")} was built from source, not installed by anise; 'ouzo emerge -C' removes it, or --force drops its record all the same`);
    for (const p of m) if (!targets.includes(p)) targets.push(p);
  }
  const index = OwnerIndex.open(sys.root, sys.cacheDir, { reporter: out });
  let removed: string[];
  try {
    removed = await removeRecords(sys.root, targets, { ownerIndex: index, reporter: out });
  } finally {
    index.close();
  }
  emit(args, out, { removed }, () => removed.map((r) => `${r} removed from the database (its files stay).`));
  return 0;
}

/** `anise database reindex`: rebuild the owner index (who owns which path) from /var/db/pkg. */
export async function aniseDatabaseReindexCommand(args: AniseAdminArgs, out: Output): Promise<number> {
  const sys = openAdmin(args, out);
  const r = await reindexOwners(sys.root, sys.cacheDir, out);
  if (r.file === ":memory:") out.warn(`the owner index cannot be kept in ${sys.cacheDir}: every command builds it anew`);
  emit(args, out, { index: r.file, packages: r.packages, files: r.files }, () => [`Owner index rebuilt: ${r.packages} packages, ${r.files} paths (${r.file}).`]);
  return 0;
}
