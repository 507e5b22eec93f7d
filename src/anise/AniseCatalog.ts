// The packages of the synced anise repositories (anise.md §4): `<state>/<repo>/treefs/<category>/
// <name>/<version>/{definition.yaml,metadata.json,finalize.yaml}` and `provides.yaml`, as
// sync/AniseSync.ts leaves them. Read lazily, one package directory at a time, so that a command
// about a few packages (an upgrade with nothing to do) reads only those.
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import type { AniseRepoDef } from "../config/aniseRepos.js";
import { OuzoError } from "../core/errors.js";
import { parseArtifactMetadata, parsePackageSpec, type ArtifactMetadata, type PackageRefSpec, type PackageSpec } from "./AnisePackage.js";
import type { MaskRule } from "./AniseConfig.js";
import { compareAniseNative, compareAniseVersions, parseAniseVersion, type AniseVersion } from "./version.js";

export interface AniseRepository {
  readonly def: AniseRepoDef;
  /** `<state>/<name>`: repository.yaml and treefs/. */
  readonly dir: string;
}

/** One version of one package in one repository. */
export interface AniseEntry {
  readonly repo: AniseRepoDef;
  /** The version directory in the tree. */
  readonly dir: string;
  readonly version: AniseVersion;
  readonly meta: ArtifactMetadata;
  readonly spec: PackageSpec;
  /** Why it cannot be chosen (mask.d rules), empty when it can. */
  readonly masks: readonly string[];
}

export interface CatalogOptions {
  readonly masks?: readonly MaskRule[];
  readonly ignoreMasks?: boolean;
  readonly warn?: (message: string) => void;
}

type Doc = Record<string, unknown>;

export function treeDir(repo: AniseRepository): string {
  return path.join(repo.dir, "treefs");
}

export class AniseCatalog {
  private readonly byCp = new Map<string, AniseEntry[]>();
  private provides?: Map<string, { repo: AniseRepoDef; ref: PackageRefSpec }[]>;
  private names?: Map<string, Set<string>>;
  private readonly warned = new Set<string>();
  readonly repos: readonly AniseRepository[];

  constructor(repos: readonly AniseRepository[], private readonly opts: CatalogOptions = {}) {
    // priority order, lower first, then name: the deterministic tie-break (§15.5)
    this.repos = [...repos].filter((r) => fs.existsSync(treeDir(r))).sort((a, b) => a.def.priority - b.def.priority || (a.def.name < b.def.name ? -1 : a.def.name > b.def.name ? 1 : 0));
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.opts.warn?.(message);
  }

  /** Every version of `category/name` in every repository, best first (version, then repository priority). */
  packages(cp: string): readonly AniseEntry[] {
    let list = this.byCp.get(cp);
    if (list) return list;
    list = [];
    const [category, name] = cp.split("/") as [string, string];
    for (const repo of this.repos) {
      const pkgDir = path.join(treeDir(repo), category, name);
      let versions: string[];
      try {
        versions = fs.readdirSync(pkgDir);
      } catch {
        continue;
      }
      for (const v of versions) {
        const e = this.readEntry(repo, path.join(pkgDir, v), cp);
        if (e) list.push(e);
      }
    }
    const order = (a: AniseEntry, b: AniseEntry) => compareAniseVersions(b.version, a.version);
    list.sort((a, b) => order(a, b) || a.repo.priority - b.repo.priority || (a.repo.name < b.repo.name ? -1 : 1));
    // where anise itself would take another version as the newest, say so (§15.1)
    const distinct = list.filter((e, i) => list.findIndex((x) => x.version.text === e.version.text) === i);
    if (distinct.length > 1) {
      const anise = [...distinct].sort((a, b) => compareAniseNative(b.version.text, a.version.text))[0]!;
      if (anise.version.text !== distinct[0]!.version.text) this.warnOnce(`${cp}: ouzo orders versions as PMS does and takes ${distinct[0]!.version.text} as the newest; anise would take ${anise.version.text}`);
    }
    this.byCp.set(cp, list);
    return list;
  }

  private readEntry(repo: AniseRepository, dir: string, cp: string): AniseEntry | undefined {
    if (!fs.existsSync(path.join(dir, "definition.yaml"))) return undefined; // §4: required
    let doc: unknown;
    const json = path.join(dir, "metadata.json");
    const yaml = path.join(dir, "metadata.yaml");
    try {
      if (fs.existsSync(json)) doc = JSON.parse(fs.readFileSync(json, "utf8"));
      else if (fs.existsSync(yaml)) doc = YAML.parse(fs.readFileSync(yaml, "utf8"));
      else {
        this.warnOnce(`${dir}: no metadata.json: skipped`);
        return undefined;
      }
    } catch (e) {
      this.warnOnce(`${dir}: unreadable metadata: ${(e as Error).message.split("\n")[0]}`);
      return undefined;
    }
    let meta: ArtifactMetadata;
    try {
      meta = parseArtifactMetadata(doc, dir);
    } catch (e) {
      this.warnOnce((e as OuzoError).message);
      return undefined;
    }
    const spec = meta.runtime;
    if (`${spec.category}/${spec.name}` !== cp) {
      this.warnOnce(`${dir}: its metadata names ${spec.category}/${spec.name}: skipped`);
      return undefined;
    }
    const version = parseAniseVersion(spec.version);
    if (!version) {
      this.warnOnce(`${cp}-${spec.version} (${repo.def.name}): '${spec.version}' is not a version ouzo can order (PMS, optionally +BUILD): skipped`);
      return undefined;
    }
    const masks: string[] = [];
    if (!this.opts.ignoreMasks) {
      const ref = { category: spec.category, package: spec.name, version: version.pms, repo: repo.def.name };
      for (const m of this.opts.masks ?? []) if (m.atom.matchesIgnoringUse(ref)) masks.push(`mask.d (${m.file}: ${m.text})`);
    }
    return { repo: repo.def, dir, version, meta, spec, masks };
  }

  /** The packages providing `cp` (provides.yaml of each repository), in repository order. */
  providersOf(cp: string): readonly { repo: AniseRepoDef; ref: PackageRefSpec }[] {
    if (!this.provides) {
      this.provides = new Map();
      for (const repo of this.repos) {
        const file = path.join(treeDir(repo), "provides.yaml");
        let doc: Doc;
        try {
          doc = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as Doc;
        } catch {
          continue;
        }
        const map = (doc.provides ?? {}) as Record<string, unknown>;
        for (const [provided, list] of Object.entries(map)) {
          if (!Array.isArray(list)) continue;
          for (const p of list as Doc[]) {
            if (typeof p?.name !== "string" || typeof p?.category !== "string") continue;
            const entry = { repo: repo.def, ref: { category: p.category, name: p.name, version: String(p.version ?? "") } };
            this.provides.set(provided, [...(this.provides.get(provided) ?? []), entry]);
          }
        }
      }
    }
    return this.provides.get(cp) ?? [];
  }

  /** `category` → names, over every repository (read once; for bare names and search). */
  private allNames(): Map<string, Set<string>> {
    if (this.names) return this.names;
    this.names = new Map();
    for (const repo of this.repos) {
      const tree = treeDir(repo);
      for (const c of safeList(tree)) {
        const cdir = path.join(tree, c);
        if (!isDir(cdir)) continue;
        for (const n of safeList(cdir)) {
          if (!isDir(path.join(cdir, n))) continue;
          const s = this.names.get(c) ?? new Set();
          s.add(n);
          this.names.set(c, s);
        }
      }
    }
    return this.names;
  }

  /** The categories that have a package called `name`. */
  categoriesOf(name: string): string[] {
    return [...this.allNames()].filter(([, names]) => names.has(name)).map(([c]) => c).sort();
  }

  /** Every `category/name` of every repository, sorted. */
  allPackages(): string[] {
    const out: string[] = [];
    for (const [c, names] of this.allNames()) for (const n of names) out.push(`${c}/${n}`);
    return out.sort();
  }

  /** finalize.yaml of an entry, as written (undefined when there is none). */
  finalizeText(e: AniseEntry): string | undefined {
    try {
      return fs.readFileSync(path.join(e.dir, "finalize.yaml"), "utf8");
    } catch {
      return undefined;
    }
  }

  /** definition.yaml of an entry, parsed (the finalizer's `.Values`). */
  definition(e: AniseEntry): Doc {
    try {
      const d = YAML.parse(fs.readFileSync(path.join(e.dir, "definition.yaml"), "utf8"));
      return typeof d === "object" && d !== null ? (d as Doc) : {};
    } catch {
      return {};
    }
  }
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** definition.yaml's package object (for `database get` and templates). */
export function definitionSpec(doc: Doc, where: string): PackageSpec | undefined {
  try {
    return parsePackageSpec(doc, where);
  } catch {
    return undefined;
  }
}
