// Building real anise repositories for the tests, by hand (tar-stream and zstd, as the format
// says: anise.md §2–§6), independent of ouzo's own writer (src/anise/pack.ts, createRepo.ts), and
// serving them on 127.0.0.1; running `ouzo anise` through the compiled command table.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import tar from "tar-stream";
import YAML from "yaml";
import { compress } from "zstd-napi";
import { expect } from "vitest";
import { listenLocally, REPO_ROOT, tmpdir } from "./helpers.js";

export interface Ref {
  category: string;
  name: string;
  version?: string;
}

/** A file's content, a symlink, or a hard link to a name earlier in the archive. */
export type FileSpec = string | { content: string | Buffer; mode?: number } | { symlink: string } | { hardlink: string };

export interface FixturePackage {
  category: string;
  name: string;
  version: string;
  files?: Record<string, FileSpec>;
  requires?: Ref[];
  conflicts?: Ref[];
  provides?: Ref[];
  annotations?: Record<string, unknown>;
  labels?: Record<string, string>;
  hidden?: boolean;
  finalize?: string;
  /** Break the artifact's sha256 in the metadata. */
  badSha?: boolean;
}

const MTIME = new Date(1_700_000_000_000);

export async function tarOf(files: Record<string, FileSpec>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((r) => pack.on("end", () => r()));
  const dirs = new Set<string>();
  const add = (h: Parameters<tar.Pack["entry"]>[0], data: Buffer) => new Promise<void>((res, rej) => pack.entry(h, data, (e) => (e ? rej(e) : res())));
  for (const name of Object.keys(files).sort()) {
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (dirs.has(d)) continue;
      dirs.add(d);
      await add({ name: d, type: "directory", mode: 0o755, mtime: MTIME, uid: 0, gid: 0 }, Buffer.alloc(0));
    }
    const f = files[name]!;
    if (typeof f === "object" && "symlink" in f) await add({ name, type: "symlink", linkname: f.symlink, mode: 0o777, mtime: MTIME, uid: 0, gid: 0 }, Buffer.alloc(0));
    else if (typeof f === "object" && "hardlink" in f) await add({ name, type: "link", linkname: f.hardlink, mode: 0o644, mtime: MTIME, uid: 0, gid: 0 }, Buffer.alloc(0));
    else {
      const content = typeof f === "string" ? Buffer.from(f) : Buffer.from(f.content);
      await add({ name, type: "file", mode: typeof f === "string" ? 0o644 : (f.mode ?? 0o644), mtime: MTIME, uid: 0, gid: 0, size: content.length }, content);
    }
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Write a repository into `dir`: artifacts, tree.tar.zst, repository.yaml (revision as given). */
export async function buildRepo(dir: string, name: string, pkgs: FixturePackage[], revision = 1): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const tree: Record<string, FileSpec> = {};
  const provides: Record<string, Ref[]> = {};
  for (const p of pkgs) {
    const fp = `${p.name}-${p.category}-${p.version}`;
    const art = compress(await tarOf(p.files ?? {}));
    fs.writeFileSync(path.join(dir, `${fp}.package.tar.zst`), art);
    const ref = (r: Ref) => ({ name: r.name, category: r.category, version: r.version ?? ">=0" });
    const runtime = {
      name: p.name,
      category: p.category,
      version: p.version,
      requires: p.requires?.map(ref) ?? null,
      conflicts: p.conflicts?.map(ref) ?? null,
      provides: p.provides?.map(ref) ?? [],
      hidden: !!p.hidden,
      annotations: p.annotations ?? {},
      labels: p.labels ?? {},
      license: "MIT",
      description: `the ${p.name} package`,
    };
    const meta = {
      path: `/build/build/${fp}.package.tar.zst`,
      checksums: { sha256: p.badSha ? sha(Buffer.from("not it")) : sha(art) },
      compressiontype: "zstd",
      files: Object.keys(p.files ?? {}).sort(),
      runtime,
      compilespec: { package: runtime },
    };
    const base = `${p.category}/${p.name}/${p.version}`;
    tree[`${base}/definition.yaml`] = YAML.stringify({ name: p.name, category: p.category, version: p.version, labels: p.labels ?? {} });
    tree[`${base}/metadata.json`] = JSON.stringify(meta);
    if (p.finalize) tree[`${base}/finalize.yaml`] = p.finalize;
    for (const x of p.provides ?? []) (provides[`${x.category}/${x.name}`] ??= []).push({ name: p.name, category: p.category, version: p.version });
  }
  tree["provides.yaml"] = YAML.stringify({ provides });
  const treeTar = compress(await tarOf(tree));
  fs.writeFileSync(path.join(dir, "tree.tar.zst"), treeTar);
  fs.writeFileSync(
    path.join(dir, "repository.yaml"),
    YAML.stringify({ name, description: "test", urls: [], type: "http", priority: 1, revision, last_update: String(1_700_000_000 + revision), repo_files: { treev2: { filename: "tree.tar.zst", compressiontype: "zstd", checksums: { sha256: sha(treeTar) } } } }),
  );
}

/**
 * A static HTTP server on 127.0.0.1 with faults: `truncate` sends half of a file and cuts the
 * connection; `refuse` answers 404 with a body that starts and never ends.
 */
export class RepoServer {
  readonly log: string[] = [];
  truncate = new Set<string>();
  refuse = new Set<string>();
  private server!: http.Server;
  private close: () => Promise<void> = async () => {};
  url = "";

  constructor(readonly dir: string) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const url = decodeURIComponent(req.url ?? "/");
      this.log.push(url);
      const file = path.join(this.dir, url);
      if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        res.writeHead(404).end();
        return;
      }
      if (this.refuse.has(path.basename(file))) {
        res.writeHead(404, { "content-length": 100 }).write("n");
        return;
      }
      const data = fs.readFileSync(file);
      if (this.truncate.has(path.basename(file))) {
        res.writeHead(200, { "content-length": data.length });
        res.write(data.subarray(0, data.length >> 1), () => res.socket?.destroy());
        return;
      }
      res.writeHead(200, { "content-length": data.length }).end(data);
    });
    const listening = await listenLocally(this.server);
    this.url = listening.url;
    this.close = listening.close;
    return this;
  }

  async stop(): Promise<void> {
    await this.close();
  }
}

/** repos.conf.d for `root` naming the servers. */
export function configureRepos(root: string, repos: { name: string; url: string; priority?: number }[], aniseYaml?: Record<string, unknown>): void {
  const d = path.join(root, "etc", "anise", "repos.conf.d");
  fs.mkdirSync(d, { recursive: true });
  for (const r of repos) fs.writeFileSync(path.join(d, `${r.name}.yml`), YAML.stringify({ name: r.name, type: "http", urls: [r.url], priority: r.priority ?? 50, enable: true }));
  if (aniseYaml) fs.writeFileSync(path.join(root, "etc", "anise", "anise.yaml"), YAML.stringify(aniseYaml));
}

export const CLI = path.join(REPO_ROOT, "fixtures", "anise", "ouzo-anise.mjs");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `ouzo anise ARGS` (through the compiled command table), without blocking this process (it serves HTTP). */
export function anise(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> & { child: import("node:child_process").ChildProcess } {
  const e: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", ...env };
  for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
  const child = spawn(process.execPath, [CLI, ...args], { env: e as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const p = new Promise<Run>((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }))) as Promise<Run> & { child: typeof child };
  p.child = child;
  return p;
}

/** Copy the host's /bin/sh (and the libraries it needs) into ROOT, so that finalizers can run there. */
export function installShell(root: string): void {
  const real = fs.realpathSync("/bin/sh");
  const libs = execFileSync("ldd", [real], { encoding: "utf8" })
    .split("\n")
    .map((l) => /(\/\S+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
  for (const f of [real, ...libs]) {
    const dest = path.join(root, f);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(f, dest);
    fs.chmodSync(dest, 0o755);
  }
  fs.mkdirSync(path.join(root, "bin"), { recursive: true });
  if (!fs.existsSync(path.join(root, "bin", "sh"))) fs.symlinkSync(real, path.join(root, "bin", "sh"));
}

const servers: RepoServer[] = [];

/** Stop every server anise-repo setups started (each test file: `afterEach(stopAniseServers)`). */
export async function stopAniseServers(): Promise<void> {
  while (servers.length) await servers.pop()!.stop();
}

/**
 * A repository named main built from `pkgs`, served on 127.0.0.1, configured in a fresh ROOT (with
 * anise.yaml's `aniseYaml`) and synced: `run` is `ouzo anise ARGS --system-target ROOT`, `publish`
 * replaces the repository's packages with a new revision.
 */
export async function serveAniseRepo(pkgs: FixturePackage[], aniseYaml?: Record<string, unknown>) {
  const repoDir = tmpdir("ouzo-anise-repo-");
  const root = tmpdir("ouzo-anise-root-");
  await buildRepo(repoDir, "main", pkgs);
  const server = await new RepoServer(repoDir).start();
  servers.push(server);
  configureRepos(root, [{ name: "main", url: server.url }], aniseYaml);
  const run = (...args: string[]) => anise([...args, "--system-target", root]);
  const sync = await run("repo", "update");
  expect(sync.code, sync.stderr).toBe(0);
  return { repoDir, root, server, run, publish: async (next: FixturePackage[], revision: number) => buildRepo(repoDir, "main", next, revision) };
}
