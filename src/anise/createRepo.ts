// Publishing a repository (anise.md §2–§5, §16 "Writer reference"): from a directory of packages
// with their `.metadata.yaml` sidecars (and optionally a tree of definition.yaml/finalize.yaml
// directories), write the tree tarball (`treev2`: provides.yaml and one
// `<category>/<name>/<version>/{definition.yaml,metadata.json[,finalize.yaml]}` per package),
// every artifact's sha256, and repository.yaml with the next revision and last_update = now.
// repository.yaml is written last and by a rename, so a client never reads one that names a
// tree not yet in place.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { compress } from "zstd-napi";
import tar from "tar-stream";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fsutil.js";
import { fingerprint, packageDocument, parseArtifactMetadata, type ArtifactMetadata } from "./AnisePackage.js";
import { sha256File } from "./download.js";

export interface CreateRepoOptions {
  /** Where the packages and their sidecars are. */
  readonly packagesDir: string;
  /** Where the repository is written (default: packagesDir); artifacts are copied there when it differs. */
  readonly outputDir?: string;
  /** A tree of `<cat>/<name>/<version>/` with definition.yaml and finalize.yaml (optional). */
  readonly treeDir?: string;
  readonly name: string;
  readonly description?: string;
  readonly urls?: readonly string[];
  readonly type?: "http" | "disk";
  readonly priority?: number;
  readonly treeFilename?: string;
  /** For tests: the time written as last_update (seconds). */
  readonly now?: number;
}

export interface CreateRepoResult {
  readonly repositoryYaml: string;
  readonly revision: number;
  readonly packages: string[];
  readonly treeFile: string;
  readonly treeSha256: string;
}

async function tarOf(entries: { name: string; data?: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  const mtime = new Date(0);
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.data) pack.entry({ name: e.name, mode: 0o644, uid: 0, gid: 0, mtime, type: "file" }, e.data, cb);
      else pack.entry({ name: e.name, mode: 0o755, uid: 0, gid: 0, mtime, type: "directory" }, Buffer.alloc(0), cb);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Write a repository; see the file comment. */
export async function createRepository(o: CreateRepoOptions): Promise<CreateRepoResult> {
  const out = path.resolve(o.outputDir ?? o.packagesDir);
  const src = path.resolve(o.packagesDir);
  fs.mkdirSync(out, { recursive: true });
  const sidecars = fs.readdirSync(src).filter((n) => n.endsWith(".metadata.yaml")).sort();
  if (!sidecars.length) throw new OuzoError("ANISE_CREATE_REPO", `${src}: no <fingerprint>.metadata.yaml files; make packages with 'ouzo anise pack' first`, { file: src });
  const files: { name: string; data?: Buffer }[] = [{ name: "." }];
  const dirs = new Set<string>();
  const mkdirs = (rel: string) => {
    const parts = rel.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) {
        dirs.add(d);
        files.push({ name: d });
      }
    }
  };
  const provides: Record<string, { name: string; category: string; version: string }[]> = {};
  const packages: string[] = [];
  const seen = new Set<string>();
  for (const n of sidecars) {
    const file = path.join(src, n);
    let meta: ArtifactMetadata;
    try {
      meta = parseArtifactMetadata(YAML.parse(fs.readFileSync(file, "utf8")), file);
    } catch (e) {
      throw new OuzoError("ANISE_CREATE_REPO", (e as Error).message, { file });
    }
    const s = meta.runtime;
    const art = meta.file || `${fingerprint(s)}.package.tar.zst`;
    const artPath = path.join(src, art);
    if (!fs.existsSync(artPath)) throw new OuzoError("ANISE_CREATE_REPO", `the artifact ${art} of ${n} is missing`, { file });
    const sha = sha256File(artPath);
    if (meta.sha256 && meta.sha256 !== sha) throw new OuzoError("ANISE_CREATE_REPO", `${art}: sha256 ${sha} is not the ${meta.sha256} its metadata records`, { file: artPath });
    if (out !== src) fs.copyFileSync(artPath, path.join(out, art));
    const key = `${s.category}/${s.name}/${s.version}`;
    if (seen.has(key)) throw new OuzoError("ANISE_CREATE_REPO", `${key} is there twice`, { file });
    seen.add(key);
    mkdirs(key);
    const metadata = { ...meta.raw, path: art, checksums: { sha256: sha }, compressiontype: meta.compression || "zstd" };
    const given = o.treeDir ? path.join(o.treeDir, key) : undefined;
    const definition = given && fs.existsSync(path.join(given, "definition.yaml")) ? fs.readFileSync(path.join(given, "definition.yaml")) : Buffer.from(YAML.stringify(packageDocument(s)));
    files.push({ name: `${key}/definition.yaml`, data: definition });
    files.push({ name: `${key}/metadata.json`, data: Buffer.from(JSON.stringify(metadata)) });
    if (given && fs.existsSync(path.join(given, "finalize.yaml"))) files.push({ name: `${key}/finalize.yaml`, data: fs.readFileSync(path.join(given, "finalize.yaml")) });
    for (const p of s.provides) (provides[`${p.category}/${p.name}`] ??= []).push({ name: s.name, category: s.category, version: s.version });
    packages.push(`${s.category}/${s.name}-${s.version}`);
  }
  files.splice(1, 0, { name: "provides.yaml", data: Buffer.from(YAML.stringify({ provides })) });
  const treeName = o.treeFilename ?? "tree.tar.zst";
  const tree = compress(await tarOf(files));
  const treeSha = createHash("sha256").update(tree).digest("hex");
  atomicWriteFile(path.join(out, treeName), tree);

  const yamlFile = path.join(out, "repository.yaml");
  let revision = 0;
  try {
    const old = YAML.parse(fs.readFileSync(yamlFile, "utf8")) as Record<string, unknown>;
    revision = Number(old?.revision) || 0;
  } catch {
    // a new repository
  }
  revision++;
  const doc = {
    name: o.name,
    ...(o.description ? { description: o.description } : {}),
    urls: [...(o.urls ?? [])],
    type: o.type ?? "http",
    priority: o.priority ?? 9999,
    enable: true,
    cached: true,
    revision,
    last_update: String(o.now ?? Math.floor(Date.now() / 1000)),
    repo_files: { treev2: { filename: treeName, compressiontype: "zstd", checksums: { sha256: treeSha } } },
  };
  atomicWriteFile(yamlFile, YAML.stringify(doc));
  return { repositoryYaml: yamlFile, revision, packages, treeFile: path.join(out, treeName), treeSha256: treeSha };
}
