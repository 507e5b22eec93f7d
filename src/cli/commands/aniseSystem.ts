// What every `ouzo anise` command starts from (commands/anise.ts, aniseQuery.ts, aniseAdmin.ts):
// the arguments, ROOT and anise's configuration found as anise finds them, the repository
// definitions, the catalog of the synced repositories and their sync, the owner index, and
// anise's output formats.
import * as path from "node:path";
import YAML from "yaml";
import { AniseCatalog } from "../../anise/AniseCatalog.js";
import { loadAniseConfig, type AniseClientConfig } from "../../anise/AniseConfig.js";
import { readRepoDefs, type AniseRepoDef } from "../../config/aniseRepos.js";
import type { PackageSpec } from "../../anise/AnisePackage.js";
import { parsePackageArg } from "../../anise/packageArgs.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { AniseSync } from "../../sync/AniseSync.js";
import { DEFAULT_DOWNLOAD } from "../../sync/download.js";
import type { Output } from "../../ui/Output.js";
import type { InstalledPackage } from "../../vdb/installed.js";
import { OwnerIndex } from "../../vdb/ownerIndex.js";
import { cacheDirOf, configRootOf, type GlobalArgs } from "../context.js";

export interface AniseBaseArgs extends GlobalArgs {
  systemTarget?: string;
  config?: string;
  output?: string;
}

/** ROOT, the configuration and the repository definitions of a command. */
export interface AniseBase {
  readonly root: string;
  readonly configRoot: string;
  readonly cacheDir: string;
  readonly config: AniseClientConfig;
  readonly defs: AniseRepoDef[];
  /** Where synced repository trees live (`ROOT/var/lib/ouzo/anise/repos/<name>`). */
  readonly reposDir: string;
}

/** `-o terminal|json|yaml` (ouzo's --json too); anything else is a usage error. */
export function outputMode(args: AniseBaseArgs): "terminal" | "json" | "yaml" {
  if (args.json) return "json";
  const o = (args.output ?? "terminal").toLowerCase();
  if (o !== "terminal" && o !== "json" && o !== "yaml") throw new UsageError(`-o takes terminal, json or yaml, not '${args.output}'`);
  return o;
}

/** A command's result: the document as JSON or YAML, or its lines on the terminal. */
export function emit(args: AniseBaseArgs, out: Output, doc: unknown, lines: () => string[]): void {
  const mode = outputMode(args);
  if (mode === "json") process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
  else if (mode === "yaml") process.stdout.write(YAML.stringify(doc));
  else for (const l of lines()) out.result(l);
}

/** ROOT: --system-target, --root, ROOT, then the configuration's system.rootfs (ANISE_SYSTEM__ROOTFS too), then /. */
export function openAniseBase(args: AniseBaseArgs, out: Output): AniseBase {
  const given = args.systemTarget ?? args.root ?? process.env.ROOT;
  let root = path.resolve(given ?? "/");
  const configRoot = configRootOf({ ...args, root });
  const warn = (m: string) => out.warn(m);
  const config = loadAniseConfig({ configRoot, configFile: args.config ? path.resolve(args.config) : undefined, warn });
  if (!given && config.rootfs) root = path.resolve(config.rootfs);
  const defs = readRepoDefs([path.join(configRoot, "etc", "ouzo", "anise", "repos.conf.d"), ...config.reposConfDirs], warn);
  return { root, configRoot, cacheDir: cacheDirOf({ ...args, root }), config, defs, reposDir: path.join(root, "var", "lib", "ouzo", "anise", "repos") };
}

/** The synced trees of the enabled repositories, masks applied unless ignoreMasks. */
export function aniseCatalogOf(base: AniseBase, out: Output, ignoreMasks?: boolean): AniseCatalog {
  return new AniseCatalog(
    base.defs.filter((d) => d.enable).map((def) => ({ def, dir: path.join(base.reposDir, def.name) })),
    { masks: base.config.masks, ...(ignoreMasks !== undefined ? { ignoreMasks } : {}), warn: (m) => out.warn(m) },
  );
}

export interface AniseArgs extends GlobalArgs {
  packages?: string[];
  paths?: string[];
  regex?: string;
  dir?: string;
  repos?: string[];
  atom?: string;
  yes?: boolean;
  pretend?: boolean;
  nodeps?: boolean;
  force?: boolean;
  downloadOnly?: boolean;
  syncRepos?: boolean;
  skipFinalizers?: boolean;
  finalizerEnv?: string[];
  ignoreMasks?: boolean;
  ignoreConflicts?: boolean;
  skipCheckSystem?: boolean;
  deep?: boolean;
  keepProtectedFiles?: boolean;
  systemTarget?: string;
  output?: string;
  config?: string;
  skipConfigProtect?: boolean;
  concurrency?: number;
  showInstallOrder?: boolean;
  showUpgradeOrder?: boolean;
  cleanup?: boolean;
  purgeRepos?: boolean;
  installed?: boolean;
  files?: boolean;
  label?: string;
  annotation?: string;
  category?: string;
  name?: string;
  hidden?: boolean;
  ignoreErrors?: boolean;
  systemDbpath?: string;
  db?: string;
  destination?: string;
  // create-repo
  tree?: string;
  urls?: string[];
  type?: string;
  description?: string;
  priority?: number;
  treeFilename?: string;
}

/** Everything a command needs to know about the system it works on. */
export interface AniseSystem extends AniseBase {
  readonly catalog: AniseCatalog;
}

export function openSystem(args: AniseArgs, out: Output): AniseSystem {
  const base = openAniseBase(args, out);
  return { ...base, catalog: aniseCatalogOf(base, out, args.ignoreMasks) };
}

export function reopenCatalog(sys: AniseSystem, args: AniseArgs, out: Output): AniseSystem {
  return { ...sys, catalog: aniseCatalogOf(sys, out, args.ignoreMasks) };
}

export async function syncRepos(sys: AniseSystem, args: AniseArgs, out: Output, only?: string[], force = false): Promise<boolean> {
  const t = Number(process.env.HTTP_TIMEOUT);
  const sync = new AniseSync(sys.reposDir, path.join(sys.cacheDir, "anise", "downloads"), out, { ...DEFAULT_DOWNLOAD, timeoutMs: Number.isFinite(t) && t > 0 ? t * 1000 : DEFAULT_DOWNLOAD.timeoutMs });
  const defs = sys.defs.filter((d) => !only?.length || only.includes(d.name));
  for (const n of only ?? []) if (!sys.defs.some((d) => d.name === n)) throw new OuzoError("ANISE_NO_REPO", `no anise repository called '${n}' is configured`);
  const results = await sync.syncAll(defs, force);
  let ok = true;
  for (const r of results) {
    if (r.status === "failed") {
      ok = false;
      out.error(r.error ?? `${r.repo}: failed`);
    } else out.notice(`repository ${r.repo}: ${r.status}${r.revision !== undefined ? ` (revision ${r.revision})` : ""}`);
  }
  return ok || !!args.ignoreErrors;
}

/** An installed package as atoms match it. */
export const instRef = (p: InstalledPackage) => ({ category: p.category, package: p.package, version: p.version, slot: p.slot, subslot: p.subslot, repo: p.repo });

export const labelOf = (s: Pick<PackageSpec, "category" | "name" | "version">) => `${s.category}/${s.name}-${s.version}`;

/** Names known to the repositories and to the installed database, for `name` arguments. */
export function nameLookup(sys: AniseSystem, installed: readonly InstalledPackage[]) {
  return {
    categoriesOf: (name: string) => [...new Set([...sys.catalog.categoriesOf(name), ...installed.filter((p) => p.package === name).map((p) => p.category)])].sort(),
  };
}

export function openIndex(sys: AniseSystem, out: Output): OwnerIndex {
  return OwnerIndex.open(sys.root, sys.cacheDir, { reporter: out });
}

/** The installed packages an argument names (`cat/name`, `name`, `>=cat/name-1.0`…); naming none is an error. */
export function installedNamed(arg: string, installed: readonly InstalledPackage[], names: Parameters<typeof parsePackageArg>[1], hint = ""): InstalledPackage[] {
  const pa = parsePackageArg(arg, names);
  const m = installed.filter((p) => pa.atom.matchesIgnoringUse(instRef(p)));
  if (!m.length) throw new OuzoError("ANISE_NOT_INSTALLED", `'${arg}' is not installed${hint}`);
  return m;
}
