// `ouzo anise` commands that look and publish rather than install (anise.md §14): search, the
// repository list and update, q files/belongs/orphans, database get/import, cleanup, pack and
// create-repo. What they start from is commands/aniseSystem.ts.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { packageDocument, type PackageSpec } from "../../anise/AnisePackage.js";
import { aniseRecordOf, readInstalledWithRecords } from "../../anise/AniseRecord.js";
import { createRepository } from "../../anise/createRepo.js";
import { importAniseDb } from "../../anise/importDb.js";
import { packPackage, readVdbFiles, specOfInstalled } from "../../anise/pack.js";
import { parsePackageArg } from "../../anise/packageArgs.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import type { Output } from "../../ui/Output.js";
import { parseContents } from "../../vdb/contents.js";
import { readInstalled, readInstalledEntry, type InstalledPackage } from "../../vdb/installed.js";
import { emit, installedNamed, labelOf, nameLookup, openIndex, openSystem, outputMode, syncRepos, type AniseArgs } from "./aniseSystem.js";

/** The JSON shape anise prints for a package (`search -o json` "stones", §14). */
function stone(spec: PackageSpec, repository: string, files?: readonly string[]) {
  const ref = (r: { category: string; name: string; version: string }) => ({ name: r.name, category: r.category, version: r.version });
  return {
    name: spec.name,
    category: spec.category,
    version: spec.version,
    license: spec.license,
    repository,
    hidden: spec.hidden,
    files: files ? [...files] : null,
    annotations: spec.annotations,
    labels: spec.labels,
    use_flags: spec.useFlags,
    provides: spec.provides.map(ref),
    requires: spec.requires.map(ref),
    conflicts: spec.conflicts.map(ref),
  };
}

function installedFiles(p: InstalledPackage): string[] {
  try {
    return parseContents(fs.readFileSync(path.join(p.dir, "CONTENTS"), "utf8")).filter((e) => e.type !== "dir").map((e) => e.path);
  } catch {
    return [];
  }
}

/** The package object of any installed package: its anise record, or made from its VDB entry. */
function installedSpec(p: InstalledPackage): { spec: PackageSpec; repository: string } {
  const rec = aniseRecordOf(p);
  if (rec?.spec) return { spec: rec.spec, repository: rec.repository };
  return { spec: specOfInstalled(p), repository: p.repo };
}

/** `ouzo anise search REGEX`: packages of the repositories (or installed, --installed) whose `category/name` matches. */
export async function aniseSearchCommand(args: AniseArgs, out: Output): Promise<number> {
  const sys = openSystem(args, out);
  const re = (s: string | undefined) => {
    try {
      return s ? new RegExp(s) : undefined;
    } catch (e) {
      throw new UsageError(`'${s}' is not a regular expression: ${(e as Error).message}`);
    }
  };
  const main = re(args.regex);
  const byName = re(args.name);
  const byCat = re(args.category);
  const keep = (s: PackageSpec) =>
    (!main || main.test(`${s.category}/${s.name}`)) &&
    (!byName || byName.test(s.name)) &&
    (!byCat || byCat.test(s.category)) &&
    (!args.label || Object.keys(s.labels).some((k) => k.includes(args.label!))) &&
    (!args.annotation || Object.keys(s.annotations).some((k) => k.includes(args.annotation!))) &&
    (args.hidden || !s.hidden);
  const stones: ReturnType<typeof stone>[] = [];
  if (args.installed) {
    for (const p of readInstalled(sys.root)) {
      const { spec, repository } = installedSpec(p);
      if (keep(spec)) stones.push(stone(spec, repository, args.files ? installedFiles(p).map((f) => f.slice(1)) : undefined));
    }
  } else {
    for (const cp of sys.catalog.allPackages()) {
      for (const e of sys.catalog.packages(cp)) if (keep(e.spec)) stones.push(stone(e.spec, e.repo.name, args.files ? e.meta.files : undefined));
    }
  }
  emit(args, out, { stones }, () => stones.flatMap((s) => [`${s.category}/${s.name}-${s.version} (${s.repository})`, ...(s.files ?? []).map((f) => `  ${f}`)]));
  return 0;
}

/** `ouzo anise repo list`. */
export async function aniseRepoListCommand(args: AniseArgs, out: Output): Promise<number> {
  const sys = openSystem(args, out);
  const repos = sys.defs.map((d) => {
    let revision: number | undefined;
    let lastUpdate: string | undefined;
    try {
      const y = YAML.parse(fs.readFileSync(path.join(sys.reposDir, d.name, "repository.yaml"), "utf8")) as Record<string, unknown>;
      revision = Number(y.revision);
      lastUpdate = String(y.last_update ?? "");
    } catch {
      // not synced yet
    }
    return { name: d.name, description: d.description, type: d.type, urls: d.urls, priority: d.priority, enable: d.enable, revision: revision ?? null, last_update: lastUpdate ?? null, file: d.file };
  });
  emit(args, out, { repositories: repos }, () =>
    repos.map((r) => `${r.enable ? "*" : " "} ${r.name} (priority ${r.priority}, ${r.type}) ${r.revision !== null ? `revision ${r.revision}${r.last_update ? `, ${new Date(Number(r.last_update) * 1000).toISOString()}` : ""}` : "not synced"}${r.description ? ` - ${r.description}` : ""}`),
  );
  return 0;
}

/** `ouzo anise repo update [REPO…]`: `-f` syncs even unchanged repositories, `-i` ignores failures. */
export async function aniseRepoUpdateCommand(args: AniseArgs, out: Output): Promise<number> {
  const sys = openSystem(args, out);
  if (!sys.defs.length) {
    out.warn("no anise repositories are configured");
    return 0;
  }
  return (await syncRepos(sys, args, out, args.repos, !!args.force)) ? 0 : 1;
}

/** `ouzo anise q files PKG…`: the files of a package, as its repository lists them (or installed, --installed). */
export async function aniseQFilesCommand(args: AniseArgs, out: Output): Promise<number> {
  if (!args.packages?.length) throw new UsageError("q files needs a package");
  const sys = openSystem(args, out);
  const installed = readInstalled(sys.root);
  const result: { package: string; files: string[] }[] = [];
  for (const a of args.packages) {
    if (args.installed) {
      for (const p of installedNamed(a, installed, nameLookup(sys, installed))) result.push({ package: p.cpv, files: installedFiles(p) });
    } else {
      const pa = parsePackageArg(a, nameLookup(sys, installed));
      const e = sys.catalog.packages(pa.atom.cp).find((x) => pa.atom.matchesIgnoringUse({ category: x.spec.category, package: x.spec.name, version: x.version.pms, repo: x.repo.name }));
      if (!e) throw new OuzoError("ANISE_NO_PACKAGE", `no anise package matches '${a}'`);
      result.push({ package: labelOf(e.spec), files: e.meta.files.map((f) => `/${f}`) });
    }
  }
  emit(args, out, result.length === 1 ? result[0] : result, () => result.flatMap((r) => r.files));
  return 0;
}

/** `ouzo anise q belongs PATH…`: the installed package (anise or source-built) owning each path. */
export async function aniseQBelongsCommand(args: AniseArgs, out: Output): Promise<number> {
  if (!args.paths?.length) throw new UsageError("q belongs needs a path");
  const sys = openSystem(args, out);
  const index = openIndex(sys, out);
  const rel = (p: string) => {
    const abs = path.resolve(p);
    if (sys.root !== "/" && (abs === sys.root || abs.startsWith(`${sys.root}/`)) && fs.existsSync(abs)) return abs.slice(sys.root.length) || "/";
    return p.startsWith("/") ? p : `/${p}`;
  };
  let owners: Map<string, string[]>;
  try {
    owners = index.owners(args.paths.map(rel));
  } finally {
    index.close();
  }
  const found = args.paths.map((p) => ({ path: p, owners: owners.get(rel(p)) ?? [] }));
  emit(args, out, { belongs: found }, () => found.flatMap((f) => f.owners.map((o) => `${o} (${f.path})`)));
  for (const f of found) if (!f.owners.length && outputMode(args) === "terminal") out.warn(`no installed package owns ${f.path}`);
  return found.some((f) => f.owners.length) ? 0 : 1;
}

/** `ouzo anise q orphans`: installed anise packages no enabled repository has any more. */
export async function aniseQOrphansCommand(args: AniseArgs, out: Output): Promise<number> {
  const sys = openSystem(args, out);
  const orphans: { package: string; repository: string }[] = [];
  for (const { pkg, anise } of readInstalledWithRecords(sys.root)) {
    if (!anise || anise.providedBy) continue;
    const there = sys.catalog.packages(`${pkg.category}/${pkg.package}`).some((e) => e.version.text === anise.version);
    if (!there) orphans.push({ package: `${pkg.category}/${pkg.package}-${anise.version}`, repository: anise.repository });
  }
  emit(args, out, { orphans }, () => orphans.map((o) => `${o.package} (${o.repository})`));
  return 0;
}

/** `ouzo anise database get PKG…`: the installed record of a package (`--files` with its files). */
export async function aniseDatabaseGetCommand(args: AniseArgs, out: Output): Promise<number> {
  if (!args.packages?.length) throw new UsageError("database get needs a package");
  const sys = openSystem(args, out);
  const installed = readInstalled(sys.root);
  const docs: unknown[] = [];
  for (const a of args.packages) {
    for (const p of installedNamed(a, installed, nameLookup(sys, installed))) {
      const rec = aniseRecordOf(p);
      const { spec, repository } = installedSpec(p);
      docs.push({
        ...packageDocument(spec, { repository }),
        ...(args.files ? { files: installedFiles(p).map((f) => f.slice(1)) } : {}),
        ...(rec?.finalizer ? { finalizer: rec.finalizer } : {}),
        ...(rec?.providedBy ? { provided_by: rec.providedBy } : {}),
        installed_by: rec ? "anise" : "emerge",
        vdb: p.cpv,
      });
    }
  }
  const mode = outputMode(args);
  const doc = docs.length === 1 ? docs[0] : docs;
  if (mode === "terminal") process.stdout.write(YAML.stringify(doc));
  else emit(args, out, doc, () => []);
  return 0;
}

/**
 * `ouzo anise database import`: record in /var/db/pkg what an existing anise (or luet) system's
 * database says is installed (read-only: anise.db is not written), so that ouzo and emerge see it.
 */
export async function aniseDatabaseImportCommand(args: AniseArgs, out: Output): Promise<number> {
  const sys = openSystem(args, out);
  const dir = args.systemDbpath ? path.resolve(args.systemDbpath) : path.join(sys.root, sys.config.databasePath);
  const candidates = args.db ? [path.resolve(args.db)] : [path.join(dir, "anise.db"), path.join(dir, "luet.db"), path.join(sys.root, "var/cache/luet/luet.db")];
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new OuzoError("ANISE_NO_DB", `no anise database found (looked for ${candidates.join(", ")}); name it with --db`);
  const index = openIndex(sys, out);
  let r;
  try {
    r = await importAniseDb(sys.root, file, { ownerIndex: index, reporter: out, dryRun: !!args.pretend });
  } finally {
    index.close();
  }
  emit(args, out, { database: file, imported: r.imported, skipped: r.skipped }, () => [
    ...r.imported.map((p) => `${args.pretend ? "would record" : "recorded"} ${p}`),
    ...r.skipped.map((s) => `${s.package}: already recorded as ${s.because}`),
  ]);
  return 0;
}

/** `ouzo anise cleanup`: empty the package cache (`--purge-repos`: the synced trees too). */
export async function aniseCleanupCommand(args: AniseArgs, out: Output): Promise<number> {
  const sys = openSystem(args, out);
  const cache = path.join(sys.cacheDir, "anise", "packages");
  let n = 0;
  for (const f of fs.existsSync(cache) ? fs.readdirSync(cache) : []) {
    fs.rmSync(path.join(cache, f), { recursive: true, force: true });
    if (!f.endsWith(".sha256")) n++;
  }
  fs.rmSync(path.join(sys.cacheDir, "anise", "work"), { recursive: true, force: true });
  if (args.purgeRepos) fs.rmSync(sys.reposDir, { recursive: true, force: true });
  emit(args, out, { removed: n, purged_repos: !!args.purgeRepos }, () => [`Cleaned: ${n} package(s) removed from the cache${args.purgeRepos ? "; repository trees purged" : ""}.`]);
  return 0;
}

/**
 * `ouzo anise pack ATOM|FILE`: an installed package (its files from ROOT, its VDB entry carried)
 * or a binary package ouzo built (.tbz2, .gpkg.tar) made into an anise package with its
 * metadata sidecar, in --destination (default: the current directory).
 */
export async function anisePackCommand(args: AniseArgs, out: Output): Promise<number> {
  const what = args.atom;
  if (!what) throw new UsageError("pack needs an installed package or a binary package file");
  const dest = path.resolve(args.destination ?? ".");
  let result;
  if (fs.existsSync(what) && fs.statSync(what).isFile()) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-anise-pack-"));
    try {
      const image = path.join(tmp, "image");
      const info = path.join(tmp, "info");
      fs.mkdirSync(info);
      let metadata: Map<string, Buffer>;
      if (/\.gpkg\.tar$/.test(what)) {
        const g = await import("../../build/gpkg.js");
        metadata = await g.readGpkg(what);
        await g.extractGpkg(what, image);
      } else {
        const t = await import("../../build/tbz2.js");
        metadata = t.readTbz2(what);
        await t.extractTbz2(what, image, {});
      }
      for (const [k, v] of metadata) if (/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/.test(k)) fs.writeFileSync(path.join(info, k), v);
      const cat = metadata.get("CATEGORY")?.toString().trim();
      const pf = metadata.get("PF")?.toString().trim();
      if (!cat || !pf) throw new OuzoError("ANISE_PACK", `${what}: the binary package has no CATEGORY or PF`);
      const pkg = readInstalledEntry(info, cat, pf);
      fs.mkdirSync(image, { recursive: true });
      result = await packPackage({ spec: specOfInstalled(pkg), source: { kind: "image", dir: image }, vdb: readVdbFiles(info), vdbPf: pf, outDir: dest });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    const sys = openSystem(args, out);
    const installed = readInstalled(sys.root);
    const m = installedNamed(what, installed, nameLookup(sys, installed), " (pack takes an installed package or a .tbz2/.gpkg.tar file)");
    if (m.length > 1) throw new OuzoError("ANISE_AMBIGUOUS", `'${what}' matches ${m.map((p) => p.cpv).join(", ")}; name one version`, {}, 2);
    const p = m[0]!;
    const { spec } = installedSpec(p);
    result = await packPackage({ spec, source: { kind: "installed", root: sys.root, pkg: p }, vdb: aniseRecordOf(p) ? undefined : readVdbFiles(p.dir), vdbPf: p.cpv.slice(p.category.length + 1), outDir: dest });
  }
  emit(args, out, { artifact: result.artifact, metadata: result.sidecar, sha256: result.sha256, files: result.files.length }, () => [`${result.artifact} (${result.files.length} files, sha256 ${result.sha256})`, result.sidecar]);
  return 0;
}

/** `ouzo anise create-repo DIR`: a repository from the packages (and sidecars) in DIR. */
export async function aniseCreateRepoCommand(args: AniseArgs, out: Output): Promise<number> {
  if (!args.dir) throw new UsageError("create-repo needs the directory of packages");
  if (!args.name) throw new UsageError("create-repo needs --name");
  const type = args.type ?? "http";
  if (type !== "http" && type !== "disk") throw new UsageError(`--type takes http or disk, not '${type}'`);
  const r = await createRepository({
    packagesDir: args.dir,
    outputDir: args.destination,
    treeDir: args.tree,
    name: args.name,
    description: args.description,
    urls: args.urls,
    type,
    priority: args.priority,
    treeFilename: args.treeFilename,
  });
  emit(args, out, { repository: r.repositoryYaml, revision: r.revision, packages: r.packages, tree: r.treeFile, tree_sha256: r.treeSha256 }, () => [`${r.repositoryYaml}: revision ${r.revision}, ${r.packages.length} package(s)`, ...r.packages.map((p) => `  ${p}`)]);
  return 0;
}
