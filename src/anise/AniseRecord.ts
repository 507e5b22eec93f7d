// The installed record of an anise package: one /var/db/pkg entry, so that emerge, Portage's
// tools and ouzo see one installed view (anise.md §13: ouzo keeps its own DB). The entry is the
// VDB entry the package carries when it was built from Portage, otherwise generated from its
// metadata; either way anise's own facts travel with it in ANISE_* files: the repository, the
// version as anise writes it, the package object, the finalizer (so that uninstall works after
// the repository changed) and, for a name another package provides, its provider.
import * as fs from "node:fs";
import * as path from "node:path";
import { vdbDir, readInstalled, type InstalledPackage, type VdbWarning } from "../vdb/installed.js";
import { parsePackageSpec, packageDocument, type PackageSpec } from "./AnisePackage.js";
import { readFinalizerRecord, type Finalizer } from "./finalizer.js";
import { parseAniseVersion, parseSelector, selectorDependency } from "./version.js";

/** The ANISE_* files of a VDB entry. */
export const RECORD = {
  repository: "ANISE_REPOSITORY",
  version: "ANISE_VERSION",
  package: "ANISE_PACKAGE",
  finalizer: "ANISE_FINALIZER",
  providedBy: "ANISE_PROVIDED_BY",
  configProtect: "ANISE_CONFIG_PROTECT",
} as const;

/** An installed package that anise put there (or ouzo anise). */
export interface AniseInstalled {
  readonly pkg: InstalledPackage;
  readonly repository: string;
  /** The version as anise writes it (`1.0+2`). */
  readonly version: string;
  readonly spec: PackageSpec | undefined;
  readonly finalizer: Finalizer | undefined;
  /** For an entry recording a name that another package provides: that package (`cat/name-ver`). */
  readonly providedBy: string | undefined;
  readonly configProtect: string | undefined;
}

function readFile(dir: string, name: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, name), "utf8");
  } catch {
    return undefined;
  }
}

/** The anise record of an installed package, or undefined for a package built from source. */
export function aniseRecordOf(pkg: InstalledPackage): AniseInstalled | undefined {
  const repository = readFile(pkg.dir, RECORD.repository)?.trim();
  if (!repository) return undefined;
  let spec: PackageSpec | undefined;
  const doc = readFile(pkg.dir, RECORD.package);
  if (doc) {
    try {
      spec = parsePackageSpec(JSON.parse(doc), path.join(pkg.dir, RECORD.package));
    } catch {
      spec = undefined;
    }
  }
  return {
    pkg,
    repository,
    version: readFile(pkg.dir, RECORD.version)?.trim() || pkg.version.text,
    spec,
    finalizer: readFinalizerRecord(readFile(pkg.dir, RECORD.finalizer)),
    providedBy: readFile(pkg.dir, RECORD.providedBy)?.trim() || undefined,
    configProtect: readFile(pkg.dir, RECORD.configProtect)?.trim() || undefined,
  };
}

/** Every installed package, with its anise record when it has one. */
export function readInstalledWithRecords(root: string, warn?: (w: VdbWarning) => void): { pkg: InstalledPackage; anise: AniseInstalled | undefined }[] {
  return readInstalled(root, warn).map((pkg) => ({ pkg, anise: aniseRecordOf(pkg) }));
}

/** `requires` as a runtime dependency string, `conflicts` as strong blockers (names the package provides left out). */
export function runtimeDependencies(spec: PackageSpec, warn?: (m: string) => void): string {
  const provided = new Set(spec.provides.map((p) => `${p.category}/${p.name}`));
  const parts: string[] = [];
  const one = (r: { category: string; name: string; version: string }, blocker: boolean) => {
    try {
      parts.push(selectorDependency(r.category, r.name, parseSelector(r.version), blocker));
    } catch (e) {
      warn?.(`${spec.category}/${spec.name}-${spec.version}: ${blocker ? "conflict" : "requirement"} ${r.category}/${r.name} '${r.version}': ${(e as Error).message}; taken as any version`);
      parts.push(selectorDependency(r.category, r.name, undefined, blocker));
    }
  };
  for (const r of spec.requires) one(r, false);
  for (const c of spec.conflicts) if (!provided.has(`${c.category}/${c.name}`) && `${c.category}/${c.name}` !== `${spec.category}/${spec.name}`) one(c, true);
  return parts.join(" ");
}

/** The PF of an anise package in the VDB: name and PMS version (a build number lives in ANISE_VERSION). */
export function pfOf(spec: Pick<PackageSpec, "name" | "version">): string {
  const v = parseAniseVersion(spec.version);
  return `${spec.name}-${v ? v.pms.text : spec.version}`;
}

/** The SLOT recorded for an anise package: the Portage slot it was converted from, else 0. */
export function slotOf(spec: PackageSpec): string {
  return spec.labels["original.package.slot"]?.trim() || "0";
}

export interface GeneratedEntry {
  readonly spec: PackageSpec;
  readonly repository: string;
  /** RDEPEND as written (requires and conflicts); computed from the spec when absent. */
  readonly rdepend?: string;
  readonly buildTime?: number;
}

/**
 * The files of a generated VDB entry, name → value (handed to the merge as its extra files, with
 * an empty build-info directory: nothing is written twice). Empty values are left out, as
 * Portage leaves out empty dependency files; a reader takes a missing file as empty.
 */
export function generatedEntryFiles(e: GeneratedEntry): Record<string, string> {
  const s = e.spec;
  const files: Record<string, string> = {
    CATEGORY: s.category,
    PF: pfOf(s),
    SLOT: slotOf(s),
    EAPI: "8",
    repository: e.repository,
    DESCRIPTION: s.description,
    LICENSE: s.license,
    HOMEPAGE: s.uri.join(" "),
    RDEPEND: e.rdepend ?? runtimeDependencies(s),
    USE: s.useFlags.join(" "),
    BUILD_TIME: String(e.buildTime ?? Math.floor(Date.now() / 1000)),
  };
  return Object.fromEntries(Object.entries(files).filter(([, v]) => v !== ""));
}

/** The ANISE_* files of an entry, for the merge's vdbExtra. */
export function recordFiles(r: { repository: string; spec: PackageSpec; finalizer?: string; providedBy?: string; configProtect?: string; raw?: Record<string, unknown> }): Record<string, string> {
  const out: Record<string, string> = {
    [RECORD.repository]: r.repository,
    [RECORD.version]: r.spec.version,
    [RECORD.package]: JSON.stringify(packageDocument(r.spec, { repository: r.repository })),
  };
  if (r.finalizer) out[RECORD.finalizer] = r.finalizer;
  if (r.providedBy) out[RECORD.providedBy] = r.providedBy;
  if (r.configProtect) out[RECORD.configProtect] = r.configProtect;
  return out;
}

/** Whether the VDB has any entry (a cheap check for an empty ROOT). */
export function vdbExists(root: string): boolean {
  return fs.existsSync(vdbDir(root));
}
