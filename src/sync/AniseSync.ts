import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile, readFileIfExists } from "../core/fsutil.js";
import type { Reporter } from "../core/reporter.js";
import { silentReporter } from "../core/reporter.js";
import { unpackTarball } from "../core/tarball.js";
import type { AniseRepoDef } from "../config/aniseRepos.js";
import { DEFAULT_DOWNLOAD, type DownloadOptions, fetchRepoFile, sha256File } from "./download.js";
import { parseRepositoryYaml, type RepoFile, type RepositoryYaml } from "./repositoryYaml.js";

export interface AniseSyncOutcome {
  readonly repo: string;
  readonly status: "updated" | "up-to-date" | "failed";
  readonly revision?: number;
  readonly url?: string;
  readonly error?: string;
}

/**
 * Sync anise repositories into `stateDir/<name>/{repository.yaml,treefs}` (anise.md §8): fetch
 * repository.yaml from the first URL that answers, stop when revision and last_update are
 * unchanged, otherwise download and verify the tree (sha256 required), unpack it into a staging
 * directory and switch with one rename. A failure leaves the previous tree in place.
 */
export class AniseSync {
  private readonly reporter: Reporter;

  constructor(private readonly stateDir: string, private readonly downloadsDir: string, reporter?: Reporter, private readonly download: DownloadOptions = DEFAULT_DOWNLOAD) {
    this.reporter = reporter ?? silentReporter;
  }

  async syncAll(defs: readonly AniseRepoDef[], force = false): Promise<AniseSyncOutcome[]> {
    const enabled = defs.filter((d) => d.enable);
    const task = "sync anise repositories";
    this.reporter.report({ kind: "started", task, total: enabled.length });
    let done = 0;
    const results = await Promise.all(
      enabled.map(async (d) => {
        const r = await this.syncOne(d, force).catch((e: Error): AniseSyncOutcome => ({ repo: d.name, status: "failed", error: e.message }));
        this.reporter.report({ kind: "progress", task, done: ++done, total: enabled.length, item: `${d.name} ${r.status}` });
        return r;
      }),
    );
    this.reporter.report({ kind: "finished", task });
    return results;
  }

  async syncOne(def: AniseRepoDef, force: boolean): Promise<AniseSyncOutcome> {
    const repoDir = path.join(this.stateDir, def.name);
    const staging = path.join(this.stateDir, `.${def.name}.staging`);
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    try {
      // 1. repository.yaml from the first URL that works
      const errors: string[] = [];
      let base: string | undefined;
      let index: RepositoryYaml | undefined;
      for (const url of def.urls) {
        try {
          const file = path.join(staging, "repository.yaml");
          await fetchRepoFile(def, url, "repository.yaml", file, this.download);
          index = parseRepositoryYaml(fs.readFileSync(file, "utf8"), url);
          base = url;
          break;
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      if (!index || !base) throw new OuzoError("ANISE_SYNC", `no URL answered: ${errors.join("; ")}`);

      // 2. unchanged revision and last_update: nothing to do
      const cachedText = readFileIfExists(path.join(repoDir, "repository.yaml"));
      if (!force && cachedText !== undefined && fs.existsSync(path.join(repoDir, "treefs"))) {
        try {
          const cached = parseRepositoryYaml(cachedText, path.join(repoDir, "repository.yaml"));
          if (cached.revision === index.revision && cached.lastUpdate === index.lastUpdate) {
            fs.rmSync(staging, { recursive: true, force: true });
            return { repo: def.name, status: "up-to-date", revision: index.revision, url: base };
          }
        } catch {
          // an unreadable cached copy is simply replaced
        }
      }

      // 3. download, verify and unpack the tree into the staging directory
      const treefs = path.join(staging, "treefs");
      if (index.files.has("treev2")) {
        const tree = await this.fetchVerified(def, base, index.files.get("treev2")!, "treev2");
        await unpackTarball(tree, treefs, index.files.get("treev2")!.compressiontype);
      } else {
        const tree = await this.fetchVerified(def, base, index.files.get("tree")!, "tree");
        const meta = await this.fetchVerified(def, base, index.files.get("meta")!, "meta");
        await unpackTarball(tree, treefs, index.files.get("tree")!.compressiontype);
        const metaDir = path.join(staging, "meta");
        await unpackTarball(meta, metaDir, index.files.get("meta")!.compressiontype);
        convertLegacyTree(treefs, metaDir, def.name);
        fs.rmSync(metaDir, { recursive: true, force: true });
      }
      if (!fs.existsSync(treefs)) fs.mkdirSync(treefs);

      // 4. switch: the new tree replaces the old one with renames only
      atomicWriteFile(path.join(staging, "repository.yaml"), index.text);
      const old = path.join(this.stateDir, `.${def.name}.old`);
      fs.rmSync(old, { recursive: true, force: true });
      if (fs.existsSync(repoDir)) fs.renameSync(repoDir, old);
      fs.renameSync(staging, repoDir);
      fs.rmSync(old, { recursive: true, force: true });
      return { repo: def.name, status: "updated", revision: index.revision, url: base };
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw new OuzoError("ANISE_SYNC", `anise repository '${def.name}': ${(e as Error).message}`);
    }
  }

  private async fetchVerified(def: AniseRepoDef, base: string, f: RepoFile, key: string): Promise<string> {
    if (!f.filename) throw new OuzoError("BAD_ANISE_REPO", `repo_files.${key} has no filename`);
    if (!f.sha256) throw new OuzoError("BAD_ANISE_REPO", `repo_files.${key} (${f.filename}) has no sha256 checksum`);
    const dest = path.join(this.downloadsDir, def.name, f.filename);
    if (!(fs.existsSync(dest) && sha256File(dest) === f.sha256)) {
      await fetchRepoFile(def, base, f.filename, dest, this.download);
    }
    const got = sha256File(dest);
    if (got !== f.sha256) {
      fs.rmSync(dest, { force: true });
      throw new OuzoError("ANISE_CHECKSUM", `${f.filename}: sha256 mismatch (expected ${f.sha256}, got ${got})`);
    }
    return dest;
  }
}

/**
 * Legacy v1 repositories (anise.md §4): the meta tarball's repository.meta.yaml indexes every
 * artifact; write each one's metadata next to its definition.yaml (with requires, conflicts,
 * provides and annotations taken from the definition) and generate provides.yaml.
 */
function convertLegacyTree(treefs: string, metaDir: string, repo: string): void {
  const metaFile = findFile(metaDir, "repository.meta.yaml");
  if (!metaFile) throw new OuzoError("BAD_ANISE_REPO", "the meta tarball has no repository.meta.yaml");
  const meta = (YAML.parse(fs.readFileSync(metaFile, "utf8")) ?? {}) as { index?: Record<string, unknown>[] };
  const provides: Record<string, unknown[]> = {};
  for (const artifact of meta.index ?? []) {
    const pkg = (artifact.runtime ?? (artifact.compilespec as Record<string, unknown> | undefined)?.package) as Record<string, unknown> | undefined;
    if (!pkg?.name || !pkg.category || pkg.version === undefined) continue;
    const dir = path.join(treefs, String(pkg.category), String(pkg.name), String(pkg.version));
    const defFile = path.join(dir, "definition.yaml");
    if (!fs.existsSync(defFile)) continue;
    const def = (YAML.parse(fs.readFileSync(defFile, "utf8")) ?? {}) as Record<string, unknown>;
    const runtime: Record<string, unknown> = { ...pkg, repository: repo };
    for (const k of ["requires", "conflicts", "provides", "annotations"]) if (def[k] !== undefined) runtime[k] = def[k];
    fs.writeFileSync(path.join(dir, "metadata.json"), JSON.stringify({ ...artifact, runtime }));
    for (const p of (runtime.provides as Record<string, unknown>[] | undefined) ?? []) {
      const key = `${p.category}/${p.name}`;
      (provides[key] ??= []).push({ name: pkg.name, category: pkg.category, version: pkg.version });
    }
  }
  fs.writeFileSync(path.join(treefs, "provides.yaml"), YAML.stringify({ provides }));
}

function findFile(dir: string, name: string): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      const f = findFile(p, name);
      if (f) return f;
    }
  }
  return undefined;
}
