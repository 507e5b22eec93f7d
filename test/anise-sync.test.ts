import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { readRepoDefs, type AniseRepoDef } from "../src/config/aniseRepos.js";
import { packTarball } from "../src/core/tarball.js";
import { AniseSync } from "../src/sync/AniseSync.js";
import { listenLocally, ouzoAsync, tmpdir, writeTree } from "./helpers.js";

/** A real HTTP server on 127.0.0.1 serving a directory, with switchable faults and a request log. */
class TestServer {
  readonly log: { url: string; range?: string }[] = [];
  fail500 = new Set<string>();
  stall = new Set<string>();
  private server!: http.Server;
  private close: () => Promise<void> = async () => {};
  url = "";

  /** With `tls` (key and certificate), the server speaks HTTPS. */
  constructor(
    readonly dir: string,
    private readonly tls?: { key: Buffer; cert: Buffer },
  ) {}

  async start(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = decodeURIComponent(req.url ?? "/");
      this.log.push({ url, range: req.headers.range });
      if (this.stall.has(url)) return; // never answer
      if (this.fail500.has(url)) {
        res.writeHead(500).end("boom");
        return;
      }
      const file = path.join(this.dir, url);
      if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        res.writeHead(404).end();
        return;
      }
      const data = fs.readFileSync(file);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      if (m) {
        const start = Number(m[1]);
        if (start >= data.length) {
          res.writeHead(416).end();
          return;
        }
        res.writeHead(206, { "content-length": data.length - start, "content-range": `bytes ${start}-${data.length - 1}/${data.length}` }).end(data.subarray(start));
        return;
      }
      res.writeHead(200, { "content-length": data.length }).end(data);
    };
    this.server = this.tls ? https.createServer(this.tls, handler) : http.createServer(handler);
    const listening = await listenLocally(this.server, this.tls ? "https" : "http");
    this.url = listening.url;
    this.close = listening.close;
    return this;
  }

  async stop(): Promise<void> {
    await this.close();
  }
}

const servers: TestServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.stop();
});

async function serve(dir: string, tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> {
  const s = await new TestServer(dir, tls).start();
  servers.push(s);
  return s;
}

const sha256 = (f: string) => createHash("sha256").update(fs.readFileSync(f)).digest("hex");

/** Publish a v2 repository (tree.tar.zst + repository.yaml) into `dir`, as anise-build create-repo does. */
async function publishV2(dir: string, opts: { revision: number; packages: { name: string; version: string }[]; checksum?: "good" | "bad" | "missing"; corrupt?: boolean }) {
  fs.mkdirSync(dir, { recursive: true });
  const entries = [{ name: "provides.yaml", content: "provides: {}\n" }];
  for (const p of opts.packages) {
    entries.push({ name: `repository/${p.name}/${p.version}/definition.yaml`, content: YAML.stringify({ name: p.name, category: "repository", version: p.version }) });
    entries.push({
      name: `repository/${p.name}/${p.version}/metadata.json`,
      content: JSON.stringify({ path: `/build/${p.name}-repository-${p.version}.package.tar.zst`, checksums: { sha256: "0".repeat(64) }, compressiontype: "zstd", files: [`etc/luet/repos.conf.d/${p.name}.yml`], runtime: { name: p.name, category: "repository", version: p.version } }),
    });
  }
  const tree = path.join(dir, "tree.tar.zst");
  await packTarball(tree, entries, "zstd");
  if (opts.corrupt) {
    const b = fs.readFileSync(tree);
    fs.writeFileSync(tree, Buffer.concat([b.subarray(0, 40), Buffer.alloc(200, 7)]));
  }
  const sum = opts.checksum === "bad" ? "f".repeat(64) : opts.checksum === "missing" ? "" : sha256(tree);
  fs.writeFileSync(
    path.join(dir, "repository.yaml"),
    YAML.stringify({ name: "example", description: "test repository", urls: [], type: "http", priority: 50, enable: true, cached: true, revision: opts.revision, last_update: String(1736014244 + opts.revision), repo_files: { treev2: { filename: "tree.tar.zst", compressiontype: "zstd", checksums: { sha256: sum } } } }),
  );
}

function def(name: string, urls: string[], type: "http" | "disk" = "http"): AniseRepoDef {
  return { name, description: "", type, urls, priority: 50, enable: true, auth: undefined, file: "test" };
}

function syncer(state: string, timeoutMs = 2000) {
  return new AniseSync(path.join(state, "repos"), path.join(state, "downloads"), undefined, { timeoutMs, retries: 1 });
}

const treefs = (state: string, repo: string) => path.join(state, "repos", repo, "treefs");

describe("anise repository sync", () => {
  it("downloads, verifies and unpacks a v2 repository, then skips it while revision and last_update stay", async () => {
    const pub = tmpdir();
    await publishV2(pub, { revision: 7, packages: [{ name: "mark", version: "20250104" }] });
    const srv = await serve(pub);
    const state = tmpdir();
    const s = syncer(state);
    expect(await s.syncOne(def("example", [srv.url]), false)).toMatchObject({ status: "updated", revision: 7 });
    expect(fs.readFileSync(path.join(treefs(state, "example"), "repository/mark/20250104/definition.yaml"), "utf8")).toContain("name: mark");
    expect(fs.existsSync(path.join(treefs(state, "example"), "provides.yaml"))).toBe(true);
    expect(await s.syncOne(def("example", [srv.url]), false)).toMatchObject({ status: "up-to-date" });
    expect(srv.log.filter((l) => l.url === "/tree.tar.zst")).toHaveLength(1);
    await publishV2(pub, { revision: 8, packages: [{ name: "mark", version: "20250105" }] });
    expect(await s.syncOne(def("example", [srv.url]), false)).toMatchObject({ status: "updated", revision: 8 });
    expect(fs.existsSync(path.join(treefs(state, "example"), "repository/mark/20250104"))).toBe(false);
    expect(fs.existsSync(path.join(treefs(state, "example"), "repository/mark/20250105/metadata.json"))).toBe(true);
  });

  const keepsPrevious = async (publish: (dir: string) => Promise<void>, message: RegExp, tweak?: (srv: TestServer) => void) => {
    const pub = tmpdir();
    await publishV2(pub, { revision: 1, packages: [{ name: "old", version: "1" }] });
    const srv = await serve(pub);
    const state = tmpdir();
    const s = syncer(state, 500);
    await s.syncOne(def("example", [srv.url]), false);
    await publish(pub);
    tweak?.(srv);
    await expect(s.syncOne(def("example", [srv.url]), false)).rejects.toThrow(message);
    expect(fs.existsSync(path.join(treefs(state, "example"), "repository/old/1/definition.yaml"))).toBe(true);
    expect(YAML.parse(fs.readFileSync(path.join(state, "repos/example/repository.yaml"), "utf8")).revision).toBe(1);
    expect(fs.readdirSync(path.join(state, "repos")).filter((n) => n.startsWith("."))).toEqual([]);
  };

  it("keeps the previous tree when the checksum does not match", () =>
    keepsPrevious((d) => publishV2(d, { revision: 2, packages: [{ name: "new", version: "2" }], checksum: "bad" }), /tree.tar.zst: sha256 mismatch \(expected f{64}, got [0-9a-f]{64}\)/));

  it("refuses a tree with no checksum", () =>
    keepsPrevious((d) => publishV2(d, { revision: 2, packages: [{ name: "new", version: "2" }], checksum: "missing" }), /repo_files.treev2 \(tree.tar.zst\) has no sha256 checksum/));

  it("keeps the previous tree when the tarball is corrupt", () =>
    keepsPrevious((d) => publishV2(d, { revision: 2, packages: [{ name: "new", version: "2" }], corrupt: true }), /cannot unpack tree.tar.zst/));

  it("keeps the previous tree on HTTP 500", () =>
    keepsPrevious((d) => publishV2(d, { revision: 2, packages: [{ name: "new", version: "2" }] }), /HTTP 500 for http:\/\/127.0.0.1:\d+\/tree.tar.zst/, (srv) => srv.fail500.add("/tree.tar.zst")));

  it("gives up on a server that stalls", () =>
    keepsPrevious((d) => publishV2(d, { revision: 2, packages: [{ name: "new", version: "2" }] }), /tree.tar.zst: the server stopped answering \(timeout\)/, (srv) => srv.stall.add("/tree.tar.zst")));

  it("takes repository.yaml from the first URL that works", async () => {
    const pub = tmpdir();
    await publishV2(pub, { revision: 3, packages: [{ name: "mark", version: "1" }] });
    const broken = await serve(pub);
    broken.fail500.add("/repository.yaml");
    const good = await serve(pub);
    const state = tmpdir();
    expect(await syncer(state).syncOne(def("example", [broken.url, good.url]), false)).toMatchObject({ status: "updated", url: good.url });
    await expect(syncer(tmpdir()).syncOne(def("example", [broken.url]), false)).rejects.toThrow(/no URL answered: HTTP 500/);
  });

  it("resumes a partial download with a Range request", async () => {
    const pub = tmpdir();
    await publishV2(pub, { revision: 4, packages: Array.from({ length: 50 }, (_, i) => ({ name: `p${i}`, version: "1" })) });
    const srv = await serve(pub);
    const state = tmpdir();
    const whole = fs.readFileSync(path.join(pub, "tree.tar.zst"));
    fs.mkdirSync(path.join(state, "downloads/example"), { recursive: true });
    fs.writeFileSync(path.join(state, "downloads/example/tree.tar.zst.part"), whole.subarray(0, 100));
    expect(await syncer(state).syncOne(def("example", [srv.url]), false)).toMatchObject({ status: "updated" });
    expect(srv.log.find((l) => l.url === "/tree.tar.zst")!.range).toBe("bytes=100-");
    expect(fs.existsSync(path.join(treefs(state, "example"), "repository/p49/1/definition.yaml"))).toBe(true);
  });

  it("reads a legacy v1 repository (tree + meta) and writes metadata and provides.yaml", async () => {
    const pub = tmpdir();
    const tree = path.join(pub, "tree.tar.gz");
    await packTarball(tree, [{ name: "./virtual/mta/1.0/definition.yaml", content: YAML.stringify({ name: "mta", category: "virtual", version: "1.0", provides: [{ name: "sendmail", category: "mail" }] }) }], "gzip");
    const meta = path.join(pub, "repository.meta.yaml.tar.zst");
    await packTarball(meta, [{ name: "repository.meta.yaml", content: YAML.stringify({ index: [{ path: "/build/mta-virtual-1.0.package.tar.zst", checksums: { sha256: "a".repeat(64) }, compressiontype: "zstd", files: ["etc/mta"], compilespec: { package: { name: "mta", category: "virtual", version: "1.0" } } }] }) }], "zstd");
    fs.writeFileSync(path.join(pub, "repository.yaml"), YAML.stringify({ name: "legacy", revision: 1, last_update: "1", repo_files: { tree: { filename: "tree.tar.gz", compressiontype: "gzip", checksums: { sha256: sha256(tree) } }, meta: { filename: "repository.meta.yaml.tar.zst", compressiontype: "zstd", checksums: { sha256: sha256(meta) } } } }));
    const srv = await serve(pub);
    const state = tmpdir();
    expect(await syncer(state).syncOne(def("legacy", [srv.url]), false)).toMatchObject({ status: "updated" });
    const md = JSON.parse(fs.readFileSync(path.join(treefs(state, "legacy"), "virtual/mta/1.0/metadata.json"), "utf8"));
    expect(md.runtime).toEqual({ name: "mta", category: "virtual", version: "1.0", repository: "legacy", provides: [{ name: "sendmail", category: "mail" }] });
    expect(YAML.parse(fs.readFileSync(path.join(treefs(state, "legacy"), "provides.yaml"), "utf8"))).toEqual({ provides: { "mail/sendmail": [{ name: "mta", category: "virtual", version: "1.0" }] } });
  });

  it("reads repository definitions as anise does, skipping incomplete and ._cfg files", () => {
    const conf = tmpdir();
    writeTree(conf, {
      "a/mark.yml": "name: mark\ntype: http\nurls:\n  - https://example.org/mark\npriority: 30\n",
      "a/._cfg0001_mark.yml": "name: other\ntype: http\nurls: [x]\n",
      "a/broken.yaml": "name: broken\ntype: http\n",
      "b/local.yaml": "name: local\ntype: disk\nurls: [/srv/local]\nenable: false\nauth:\n  token: t0k\n",
      "b/mark.yml": "name: mark\ntype: http\nurls: [https://elsewhere]\n",
    });
    const warnings: string[] = [];
    const defs = readRepoDefs([path.join(conf, "a"), path.join(conf, "b")], (m) => warnings.push(m));
    expect(defs.map((d) => [d.name, d.priority, d.enable, d.urls[0]])).toEqual([["mark", 30, true, "https://example.org/mark"], ["local", 9999, false, "/srv/local"]]);
    expect(defs[1]!.auth).toEqual({ token: "t0k", basic: undefined });
    expect(warnings).toEqual([`${path.join(conf, "a/broken.yaml")}: skipped: a repository needs name, urls and type (http or disk)`]);
  });

  // bin/ouzo keeps NODE_EXTRA_CA_CERTS from node's start (it costs ~80 ms there): downloads must
  // still trust those certificates, and nothing else.
  it.skipIf(spawnSync("openssl", ["version"]).error !== undefined)("trusts NODE_EXTRA_CA_CERTS over HTTPS, started as bin/ouzo or as node bin/ouzo.js", async () => {
    const pki = tmpdir();
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: pki, stdio: "ignore" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ouzo test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
    ssl("req", ...ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1");
    fs.writeFileSync(path.join(pki, "ext"), "subjectAltName=IP:127.0.0.1\n");
    ssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext");
    const pub = tmpdir();
    await publishV2(pub, { revision: 3, packages: [{ name: "mark", version: "1" }] });
    const srv = await serve(pub, { key: fs.readFileSync(path.join(pki, "srv.key")), cert: fs.readFileSync(path.join(pki, "srv.pem")) });
    const sync = async (how: { command?: boolean; ca?: string }) => {
      const root = tmpdir();
      writeTree(root, { "etc/ouzo/anise/repos.conf.d/web.yml": `name: web\ntype: http\nurls: [${srv.url}]\n` });
      return ouzoAsync(["sync", "--no-kits", "--root", root, "--json"], { command: how.command, env: { NODE_EXTRA_CA_CERTS: how.ca, HTTP_TIMEOUT: "5" } });
    };
    const status = (r: { stdout: string }) => JSON.parse(r.stdout).anise.map((a: { repo: string; status: string }) => a.status);
    const ca = path.join(pki, "ca.pem");
    const viaCommand = await sync({ command: true, ca });
    expect([viaCommand.code, status(viaCommand)]).toEqual([0, ["updated"]]);
    const viaNode = await sync({ ca });
    expect([viaNode.code, status(viaNode)]).toEqual([0, ["updated"]]);
    // without the certificate the server is not trusted, however ouzo is started
    for (const command of [true, false]) {
      const untrusted = await sync({ command });
      expect(untrusted.code).toBe(1);
      expect(JSON.parse(untrusted.stdout).anise).toEqual([{ repo: "web", status: "failed", error: expect.stringMatching(/^anise repository 'web': no URL answered: https:.*: unable to verify the first certificate$/) }]);
    }
  });

  it("syncs from the CLI with --no-kits, a disk repository beside an http one, exit 1 when one fails", async () => {
    const pub = tmpdir();
    await publishV2(pub, { revision: 9, packages: [{ name: "mark", version: "1" }] });
    const srv = await serve(pub);
    const root = tmpdir();
    writeTree(root, {
      "etc/ouzo/anise/repos.conf.d/web.yml": `name: web\ntype: http\nurls: [${srv.url}]\n`,
      "etc/anise/repos.conf.d/local.yml": `name: local\ntype: disk\nurls: [${pub}]\n`,
    });
    const r = await ouzoAsync(["sync", "--no-kits", "--root", root, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).anise.map((a: { repo: string; status: string }) => [a.repo, a.status]).sort()).toEqual([["local", "updated"], ["web", "updated"]]);
    expect(fs.existsSync(path.join(root, "var/lib/ouzo/anise/repos/local/treefs/repository/mark/1/metadata.json"))).toBe(true);
    srv.fail500.add("/repository.yaml");
    await publishV2(pub, { revision: 10, packages: [{ name: "mark", version: "2" }] });
    const bad = await ouzoAsync(["sync", "--no-kits", "--root", root], { env: { HTTP_TIMEOUT: "2" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("anise repository 'web': no URL answered: HTTP 500");
    expect(bad.stdout).toContain("anise local: updated (revision 10)");
  });
});
