import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter, once } from "node:events";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { distfileRequests, fetchDistfiles, linkDistdir, type FetchRequest } from "../src/build/fetch.js";
import { candidateUris, loadMirrorLayouts, mirrorPath, parseGentooMirrors, readThirdpartyMirrors, readUserMirrors, type MirrorConfig } from "../src/build/mirrors.js";
import { checkDigests, hashFile, manifestHashes, verifyFile } from "../src/build/verify.js";
import { OuzoError } from "../src/core/errors.js";
import { CollectingReporter } from "../src/core/reporter.js";
import { parseSrcUri } from "../src/pms/depspec.js";
import { parseManifestDist, type ManifestDist } from "../src/pms/manifest.js";
import { selectedUris } from "../src/build/distfiles.js";
import { listenLocally, REPO_ROOT, tmpdir, writeTree } from "./helpers.js";

// --- a distfile server on 127.0.0.1 ---

interface Hit {
  readonly path: string;
  readonly range: string | undefined;
  status: number;
}

interface Route {
  data: Buffer;
  /** Honour Range requests (default true); false: answer 200 with everything, as some servers do. */
  range?: boolean;
  /** Send this many bytes of the body and then cut the connection, on the first request only. */
  cutAfter?: number;
  /** Send half the body, then wait for this before the rest. */
  hold?: Promise<void>;
  /** Answer 302 to this location. */
  redirect?: string;
  /** Send the headers and then nothing. */
  stall?: boolean;
}

class DistServer extends EventEmitter {
  readonly hits: Hit[] = [];
  readonly routes = new Map<string, Route>();
  private server!: http.Server;
  private close: () => Promise<void> = async () => {};
  url = "";

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const p = decodeURIComponent(new URL(req.url!, "http://x").pathname);
      const hit: Hit = { path: p, range: req.headers.range, status: 0 };
      this.hits.push(hit);
      const route = this.routes.get(p);
      const answer = (status: number, headers: http.OutgoingHttpHeaders, body: Buffer) => {
        hit.status = status;
        this.emit("hit", hit);
        res.writeHead(status, headers);
        if (route?.cutAfter !== undefined) {
          const cut = route.cutAfter;
          route.cutAfter = undefined;
          res.write(body.subarray(0, cut), () => res.destroy());
          return;
        }
        if (route?.hold) {
          const half = body.length >> 1;
          res.write(body.subarray(0, half));
          this.emit("held", hit);
          void route.hold.then(() => res.end(body.subarray(half)));
          return;
        }
        res.end(body);
      };
      if (route?.redirect) return answer(302, { location: route.redirect, "content-length": 0 }, Buffer.alloc(0));
      if (route?.stall) {
        hit.status = 200;
        this.emit("hit", hit);
        res.writeHead(200, { "content-length": route.data.length });
        res.flushHeaders();
        return;
      }
      if (!route) return answer(404, { "content-type": "text/html" }, Buffer.from("<html><title>404 Not Found</title></html>"));
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      if (m && route.range !== false) {
        const start = Number(m[1]);
        if (start >= route.data.length) return answer(416, { "content-range": `bytes */${route.data.length}` }, Buffer.alloc(0));
        return answer(206, { "content-length": route.data.length - start, "content-range": `bytes ${start}-${route.data.length - 1}/${route.data.length}` }, route.data.subarray(start));
      }
      answer(200, { "content-length": route.data.length }, route.data);
    });
    const listening = await listenLocally(this.server);
    this.url = listening.url;
    this.close = listening.close;
    return this;
  }

  serve(p: string, route: Route): this {
    this.routes.set(p, route);
    return this;
  }

  async stop(): Promise<void> {
    await this.close();
  }
}

const servers: DistServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.stop();
});

async function server(): Promise<DistServer> {
  const s = await new DistServer().start();
  servers.push(s);
  return s;
}

/** A Manifest DIST entry for these bytes, computed here independently of verify.ts. */
function distEntry(data: Buffer, hashes: Record<string, string> = { blake2b: "blake2b512", sha512: "sha512" }): ManifestDist {
  return { size: String(data.length), hashes: Object.fromEntries(Object.entries(hashes).map(([k, algo]) => [k, createHash(algo).update(data).digest("hex")])) };
}

/** A port nothing listens on (taken, then let go). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes("__download__") || n.includes("portage_lockfile"));
const FAST = { retryDelayMs: 0 };

describe("fetchDistfiles", () => {
  it("downloads a file, verifies it and puts it under its name, reporting started, progress and finished", async () => {
    const srv = await server();
    const data = randomBytes(3 << 20);
    srv.serve("/foo-1.tar.gz", { data });
    const distdir = tmpdir();
    const rep = new CollectingReporter();
    const [r] = await fetchDistfiles([{ file: "foo-1.tar.gz", uris: [`${srv.url}/foo-1.tar.gz`], manifest: distEntry(data) }], { distdir, ...FAST }, rep);
    expect(r!.status).toBe("fetched");
    expect(r!.url).toBe(`${srv.url}/foo-1.tar.gz`);
    expect(fs.readFileSync(path.join(distdir, "foo-1.tar.gz")).equals(data)).toBe(true);
    expect(r!.digests!.BLAKE2B).toBe(createHash("blake2b512").update(data).digest("hex"));
    expect(leftovers(distdir)).toEqual([]);
    const kinds = rep.events.filter((e) => "task" in e && e.task === "fetch foo-1.tar.gz").map((e) => e.kind);
    expect(kinds[0]).toBe("started");
    expect(kinds).toContain("progress");
    expect(kinds.at(-1)).toBe("finished");
    const last = rep.events.filter((e) => e.kind === "progress").at(-1);
    expect(last).toMatchObject({ done: data.length, total: data.length });

    // a second run finds it present and asks nobody
    const again = await fetchDistfiles([{ file: "foo-1.tar.gz", uris: [`${srv.url}/foo-1.tar.gz`], manifest: distEntry(data) }], { distdir });
    expect(again[0]!.status).toBe("present");
    expect(srv.hits).toHaveLength(1);
  });

  it("resumes a partial download with a Range request and verifies the whole", async () => {
    const srv = await server();
    const data = randomBytes(1 << 20);
    srv.serve("/bar.tar.xz", { data });
    const distdir = tmpdir();
    const have = 600_000;
    fs.writeFileSync(path.join(distdir, "bar.tar.xz.__download__"), data.subarray(0, have));
    const [r] = await fetchDistfiles([{ file: "bar.tar.xz", uris: [`${srv.url}/bar.tar.xz`], manifest: distEntry(data) }], { distdir, ...FAST });
    expect(srv.hits).toEqual([{ path: "/bar.tar.xz", range: `bytes=${have}-`, status: 206 }]);
    expect(r!.status).toBe("fetched");
    expect(fs.readFileSync(path.join(distdir, "bar.tar.xz")).equals(data)).toBe(true);
    expect(leftovers(distdir)).toEqual([]);
  });

  it("starts over when the server answers a Range request with the whole file (200)", async () => {
    const srv = await server();
    const data = randomBytes(1 << 20);
    srv.serve("/bar.tar.xz", { data, range: false });
    const distdir = tmpdir();
    // a partial file whose bytes are not even a prefix of the real one: with a 200 they must not survive
    fs.writeFileSync(path.join(distdir, "bar.tar.xz.__download__"), randomBytes(500_000));
    const [r] = await fetchDistfiles([{ file: "bar.tar.xz", uris: [`${srv.url}/bar.tar.xz`], manifest: distEntry(data) }], { distdir, ...FAST });
    expect(srv.hits).toEqual([{ path: "/bar.tar.xz", range: "bytes=500000-", status: 200 }]);
    expect(r!.status).toBe("fetched");
    expect(fs.readFileSync(path.join(distdir, "bar.tar.xz")).equals(data)).toBe(true);
  });

  it("resumes from where a cut connection left off", async () => {
    const srv = await server();
    const data = randomBytes(2 << 20);
    srv.serve("/cut.tar.gz", { data, cutAfter: 1 << 20 });
    const distdir = tmpdir();
    const [r] = await fetchDistfiles([{ file: "cut.tar.gz", uris: [`${srv.url}/cut.tar.gz`], manifest: distEntry(data) }], { distdir, ...FAST });
    expect(r!.status).toBe("fetched");
    expect(srv.hits).toHaveLength(2);
    expect(srv.hits[0]!.range).toBeUndefined();
    expect(srv.hits[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(srv.hits[1]!.range!)![0])).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(distdir, "cut.tar.gz")).equals(data)).toBe(true);
  });

  it("rejects a corrupt file: never under its name, kept aside, the error names the file", async () => {
    const srv = await server();
    const good = randomBytes(400_000);
    const bad = Buffer.from(good);
    bad[1234] ^= 0xff;
    srv.serve("/baz-2.zip", { data: bad });
    const distdir = tmpdir();
    const rep = new CollectingReporter();
    const err = await fetchDistfiles([{ file: "baz-2.zip", uris: [`${srv.url}/baz-2.zip`], manifest: distEntry(good) }], { distdir, ...FAST }, rep).catch((e) => e);
    expect(err).toBeInstanceOf(OuzoError);
    expect(err.code).toBe("FETCH_FAILED");
    expect(err.message).toContain("'baz-2.zip'");
    expect(err.message).toContain(`${srv.url}/baz-2.zip: Failed on BLAKE2B verification`);
    expect(err.message.includes("\n")).toBe(false);
    expect(fs.existsSync(path.join(distdir, "baz-2.zip"))).toBe(false);
    expect(fs.existsSync(path.join(distdir, "baz-2.zip.__download__"))).toBe(false);
    const aside = fs.readdirSync(distdir).filter((n) => n.startsWith("baz-2.zip._checksum_failure_."));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(distdir, aside[0]!)).equals(bad)).toBe(true);
    expect(rep.warnings().some((w) => w.includes("VERIFY FAILED") && w.includes("baz-2.zip"))).toBe(true);

    // the next URI has the right file: that one is used, and the same bad copy is not kept twice
    srv.serve("/good/baz-2.zip", { data: good });
    const [r] = await fetchDistfiles([{ file: "baz-2.zip", uris: [`${srv.url}/baz-2.zip`, `${srv.url}/good/baz-2.zip`], manifest: distEntry(good) }], { distdir, ...FAST });
    expect(r).toMatchObject({ status: "fetched", url: `${srv.url}/good/baz-2.zip` });
    expect(r!.tried).toEqual([{ url: `${srv.url}/baz-2.zip`, reason: expect.stringContaining("Failed on BLAKE2B verification") }]);
    expect(fs.readFileSync(path.join(distdir, "baz-2.zip")).equals(good)).toBe(true);
    expect(fs.readdirSync(distdir).filter((n) => n.startsWith("baz-2.zip._checksum_failure_."))).toEqual(aside);
  });

  it("does not download a file of the wrong size (an error page served with 200)", async () => {
    const srv = await server();
    const good = randomBytes(100_000);
    srv.serve("/page.tar.gz", { data: Buffer.from("<html>moved</html>") });
    const distdir = tmpdir();
    const err = await fetchDistfiles([{ file: "page.tar.gz", uris: [`${srv.url}/page.tar.gz`], manifest: distEntry(good) }], { distdir, ...FAST }).catch((e) => e);
    expect(err.message).toBe(`cannot fetch 'page.tar.gz' (tried ${srv.url}/page.tar.gz: the server's file has 18 bytes, the Manifest says 100000)`);
    expect(fs.readdirSync(distdir).filter((n) => n.startsWith("page.tar.gz"))).toEqual([]);
  });

  it("fails with every URL tried and its reason when no URI has the file", async () => {
    const srv = await server();
    const data = randomBytes(1000);
    const port = await closedPort();
    const uris = [`${srv.url}/a/gone.tar.gz`, `${srv.url}/b/gone.tar.gz`, `http://127.0.0.1:${port}/gone.tar.gz`];
    const err = await fetchDistfiles([{ file: "gone.tar.gz", uris, manifest: distEntry(data) }], { distdir: tmpdir(), pkg: "app-misc/gone-1", ...FAST }).catch((e) => e);
    expect(err).toBeInstanceOf(OuzoError);
    expect(err.message).toBe(`cannot fetch 'gone.tar.gz' (tried ${uris[0]}: HTTP 404, ${uris[1]}: HTTP 404, ${uris[2]}: connection refused)`);
    expect(err.describe()).toBe(`app-misc/gone-1: ${err.message}`);
    // a 404 is not retried: one request per URI
    expect(srv.hits.map((h) => h.path)).toEqual(["/a/gone.tar.gz", "/b/gone.tar.gz"]);
  });

  it("names every file that failed, and fetches the others", async () => {
    const srv = await server();
    const ok = randomBytes(5000);
    srv.serve("/ok.tar", { data: ok });
    const distdir = tmpdir();
    const reqs: FetchRequest[] = [
      { file: "x.tar", uris: [`${srv.url}/x.tar`], manifest: distEntry(randomBytes(10)) },
      { file: "ok.tar", uris: [`${srv.url}/ok.tar`], manifest: distEntry(ok) },
      { file: "y.tar", uris: [`${srv.url}/y.tar`], manifest: distEntry(randomBytes(10)) },
    ];
    const err = await fetchDistfiles(reqs, { distdir, ...FAST }).catch((e) => e);
    expect(err.message).toBe(`cannot fetch 'x.tar' (tried ${srv.url}/x.tar: HTTP 404); cannot fetch 'y.tar' (tried ${srv.url}/y.tar: HTTP 404)`);
    expect(fs.existsSync(path.join(distdir, "ok.tar"))).toBe(true);
    const results = await fetchDistfiles(reqs, { distdir, keepGoing: true, ...FAST });
    expect(results.map((r) => r.status)).toEqual(["failed", "present", "failed"]);
  });

  it("refuses a file without a usable Manifest entry, and asks no server", async () => {
    const srv = await server();
    srv.serve("/nodigest.tar", { data: randomBytes(10) });
    const distdir = tmpdir();
    const e1 = await fetchDistfiles([{ file: "nodigest.tar", uris: [`${srv.url}/nodigest.tar`] }], { distdir }).catch((e) => e);
    expect(e1.code).toBe("FETCH_NO_DIGEST");
    expect(e1.message).toBe("cannot verify 'nodigest.tar': no DIST entry in the Manifest");
    const whirlpoolOnly: ManifestDist = { size: "10", hashes: { whirlpool: "00".repeat(64) } };
    const e2 = await fetchDistfiles([{ file: "nodigest.tar", uris: [`${srv.url}/nodigest.tar`], manifest: whirlpoolOnly }], { distdir }).catch((e) => e);
    expect(e2.message).toMatch(/^cannot verify 'nodigest.tar': Insufficient data for checksum verification \(got WHIRLPOOL, expected one of .*BLAKE2B.*SHA512/);
    expect(srv.hits).toEqual([]);
    // Manifest generation may fetch without one, and gets the digests
    const [r] = await fetchDistfiles([{ file: "nodigest.tar", uris: [`${srv.url}/nodigest.tar`] }], { distdir, allowMissingDigests: true });
    expect(r!.status).toBe("fetched");
    expect(Object.keys(r!.digests!).sort()).toEqual(["BLAKE2B", "SHA512"]);
  });

  it("renames a present file that does not verify aside and fetches it again", async () => {
    const srv = await server();
    const data = randomBytes(50_000);
    srv.serve("/re.tar", { data });
    const distdir = tmpdir();
    fs.writeFileSync(path.join(distdir, "re.tar"), data.subarray(0, 1000));
    const rep = new CollectingReporter();
    const [r] = await fetchDistfiles([{ file: "re.tar", uris: [`${srv.url}/re.tar`], manifest: distEntry(data) }], { distdir, ...FAST }, rep);
    expect(r!.status).toBe("fetched");
    expect(fs.readFileSync(path.join(distdir, "re.tar")).equals(data)).toBe(true);
    expect(fs.readdirSync(distdir).filter((n) => n.startsWith("re.tar._checksum_failure_."))).toHaveLength(1);
    expect(rep.warnings().join("\n")).toContain("re.tar: Filesize does not match recorded size (got 1000, expected 50000); refetching");
  });

  it("does not download a fetch-restricted file: the caller gets 'restricted'", async () => {
    const srv = await server();
    const data = randomBytes(2000);
    srv.serve("/secret.bin", { data });
    srv.serve("/distfiles/secret.bin", { data });
    const entries = selectedUris(`${srv.url}/secret.bin`, "8", new Set());
    const restrict = new Set(["fetch"]);
    const mirrors: MirrorConfig = { gentooMirrors: [srv.url], thirdparty: new Map() };
    const reqs = distfileRequests(entries, restrict, new Map([["secret.bin", distEntry(data)]]), mirrors);
    expect(reqs).toEqual([{ file: "secret.bin", uris: [], manifest: distEntry(data), fetchRestricted: true }]);
    const [r] = await fetchDistfiles(reqs, { distdir: tmpdir() });
    expect(r!.status).toBe("restricted");
    expect(srv.hits).toEqual([]);

    // EAPI 8 fetch+: this URI may be fetched although the package is fetch-restricted (not from the mirrors)
    const plus = selectedUris(`fetch+${srv.url}/secret.bin`, "8", new Set());
    const reqs2 = distfileRequests(plus, restrict, new Map([["secret.bin", distEntry(data)]]), mirrors);
    expect(reqs2[0]!.uris).toEqual([{ url: `${srv.url}/secret.bin`, source: "primary" }]);
    const [r2] = await fetchDistfiles(reqs2, { distdir: tmpdir() });
    expect(r2!.status).toBe("fetched");
  });

  it("fetches one file once when two fetches of it run at the same time in one process", async () => {
    const srv = await server();
    const data = randomBytes(1 << 20);
    let release!: () => void;
    srv.serve("/shared.tar", { data, hold: new Promise<void>((r) => (release = r)) });
    const distdir = tmpdir();
    const req = { file: "shared.tar", uris: [`${srv.url}/shared.tar`], manifest: distEntry(data) };
    const a = fetchDistfiles([req], { distdir });
    const b = fetchDistfiles([req], { distdir });
    await once(srv, "held");
    release();
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra![0]!.status, rb![0]!.status].sort()).toEqual(["fetched", "present"]);
    expect(srv.hits).toHaveLength(1);
    expect(fs.readFileSync(path.join(distdir, "shared.tar")).equals(data)).toBe(true);
    expect(leftovers(distdir)).toEqual([]);
  });

  it("fetches one file once when another ouzo process is fetching it: the second waits on the distfile lock", async () => {
    const fetchJs = path.join(REPO_ROOT, "dist", "build", "fetch.js");
    expect(fs.existsSync(fetchJs)).toBe(true);
    const srv = await server();
    const data = randomBytes(1 << 20);
    let release!: () => void;
    srv.serve("/two.tar", { data, hold: new Promise<void>((r) => (release = r)) });
    const distdir = tmpdir();
    const req = { file: "two.tar", uris: [`${srv.url}/two.tar`], manifest: distEntry(data) };
    const mine = fetchDistfiles([req], { distdir });
    await once(srv, "held");
    // this process now holds .two.tar.portage_lockfile and is half-way through the download
    expect(fs.existsSync(path.join(distdir, ".two.tar.portage_lockfile"))).toBe(true);
    const script = `const { fetchDistfiles } = await import(${JSON.stringify(fetchJs)});
const reporter = { report(e) { if (e.kind === "info" && e.message.includes("already locked")) process.stdout.write("WAITING\\n"); } };
const [r] = await fetchDistfiles([${JSON.stringify(req)}], { distdir: ${JSON.stringify(distdir)} }, reporter);
process.stdout.write(JSON.stringify({ status: r.status }) + "\\n");`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    const waiting = new Promise<void>((resolve) =>
      child.stdout.on("data", (d: string) => {
        out += d;
        if (out.includes("WAITING")) resolve();
      }),
    );
    const exited = once(child, "exit");
    await waiting;
    release();
    const [r] = await mine;
    const [code] = await exited;
    expect(code).toBe(0);
    expect(r!.status).toBe("fetched");
    expect(JSON.parse(out.split("\n").filter(Boolean).at(-1)!)).toEqual({ status: "present" });
    expect(srv.hits).toHaveLength(1);
    expect(fs.readFileSync(path.join(distdir, "two.tar")).equals(data)).toBe(true);
    expect(leftovers(distdir)).toEqual([]);
  });

  it("fetches many files in parallel, at most `jobs` at once", async () => {
    const srv = await server();
    const files = Array.from({ length: 6 }, (_, i) => ({ name: `p${i}.tar`, data: randomBytes(200_000 + i) }));
    for (const f of files) srv.serve(`/${f.name}`, { data: f.data });
    let open = 0;
    let most = 0;
    srv.on("hit", () => {
      most = Math.max(most, ++open);
    });
    const distdir = tmpdir();
    const rep = new CollectingReporter();
    const orig = rep.report.bind(rep);
    rep.report = (e) => {
      if (e.kind === "finished") open--;
      orig(e);
    };
    const results = await fetchDistfiles(files.map((f) => ({ file: f.name, uris: [`${srv.url}/${f.name}`], manifest: distEntry(f.data) })), { distdir, jobs: 2 }, rep);
    expect(results.map((r) => [r.file, r.status])).toEqual(files.map((f) => [f.name, "fetched"]));
    expect(most).toBeLessThanOrEqual(2);
    for (const f of files) expect(fs.readFileSync(path.join(distdir, f.name)).equals(f.data)).toBe(true);
  });
});

describe("fetchDistfiles, the less common paths", () => {
  it("follows redirects, and gives up on a server that stops sending", async () => {
    const srv = await server();
    const data = randomBytes(10_000);
    srv.serve("/stuck.tar", { data, stall: true });
    srv.serve("/old/moved.tar", { data, redirect: "/new/moved.tar" });
    srv.serve("/new/moved.tar", { data });
    const [r] = await fetchDistfiles([{ file: "moved.tar", uris: [`${srv.url}/stuck.tar`, `${srv.url}/old/moved.tar`], manifest: distEntry(data) }], { distdir: tmpdir(), timeoutMs: 300, attemptsPerUri: 1 });
    expect(r).toMatchObject({ status: "fetched", url: `${srv.url}/old/moved.tar`, tried: [{ url: `${srv.url}/stuck.tar`, reason: "the server stopped answering (timeout)" }] });
    expect(srv.hits.map((h) => [h.path, h.status])).toEqual([["/stuck.tar", 200], ["/old/moved.tar", 302], ["/new/moved.tar", 200]]);
  });

  it("with lock 'skip' (--fetchonly), a file another fetch holds is reported locked, not waited for", async () => {
    const srv = await server();
    const data = randomBytes(100_000);
    let release!: () => void;
    srv.serve("/busy.tar", { data, hold: new Promise<void>((r) => (release = r)) });
    const distdir = tmpdir();
    const req = { file: "busy.tar", uris: [`${srv.url}/busy.tar`], manifest: distEntry(data) };
    const first = fetchDistfiles([req], { distdir });
    await once(srv, "held");
    const rep = new CollectingReporter();
    const [skipped] = await fetchDistfiles([req], { distdir, lock: "skip" }, rep);
    expect(skipped!.status).toBe("locked");
    expect(rep.events.at(-1)).toEqual({ kind: "finished", task: "fetch busy.tar", message: "File 'busy.tar' is already locked by another fetcher. Continuing..." });
    release();
    expect((await first)[0]!.status).toBe("fetched");
  });

  it("links a verified copy from PORTAGE_RO_DISTDIRS instead of fetching", async () => {
    const data = randomBytes(20_000);
    const ro = tmpdir();
    fs.writeFileSync(path.join(ro, "ro.tar"), data);
    const distdir = tmpdir();
    const [r] = await fetchDistfiles([{ file: "ro.tar", uris: ["http://127.0.0.1:9/ro.tar"], manifest: distEntry(data) }], { distdir, roDistdirs: [ro] });
    expect(r!.status).toBe("linked");
    expect(fs.readlinkSync(path.join(distdir, "ro.tar"))).toBe(path.join(ro, "ro.tar"));
  });

  it("checks only the size in a size-only run (the background parallel-fetch), and fully otherwise", async () => {
    const srv = await server();
    const good = randomBytes(30_000);
    const bad = Buffer.from(good);
    bad[0] ^= 1;
    srv.serve("/s.tar", { data: bad });
    const distdir = tmpdir();
    const req = { file: "s.tar", uris: [`${srv.url}/s.tar`], manifest: distEntry(good) };
    expect((await fetchDistfiles([req], { distdir, sizeOnly: true }))[0]!.status).toBe("fetched");
    const err = await fetchDistfiles([req], { distdir, ...FAST }).catch((e) => e);
    expect(err.message).toContain("Failed on BLAKE2B verification");
    expect(fs.existsSync(path.join(distdir, "s.tar"))).toBe(false);
  });
});

describe("mirrors", () => {
  it("expands mirror:// through user mirrors, then thirdpartymirrors, after GENTOO_MIRRORS, and fetches from the first that has it", async () => {
    const srv = await server();
    const data = randomBytes(30_000);
    srv.serve("/tp2/pkg/thing-1.tar.gz", { data });
    const root = tmpdir();
    writeTree(root, {
      "core/profiles/thirdpartymirrors": "# comment\ngnu http://gnu.example/a\nsourceforge http://old.example/sf\n",
      "other/profiles/thirdpartymirrors": `sourceforge ${srv.url}/tp1 ${srv.url}/tp2\n`,
      "etc/portage/mirrors": `sourceforge ${srv.url}/user\nlocal ${srv.url}/localmirror\n`,
    });
    const thirdparty = readThirdpartyMirrors([path.join(root, "core"), path.join(root, "other")]);
    expect(thirdparty.get("sourceforge")).toEqual([`${srv.url}/tp1`, `${srv.url}/tp2`]);
    expect(thirdparty.get("gnu")).toEqual(["http://gnu.example/a"]);
    const user = readUserMirrors(root);
    const config: MirrorConfig = { gentooMirrors: parseGentooMirrors(`${srv.url}/gm1/ ${srv.url}/gm2`), thirdparty, user, random: () => 0.999 };
    const entries = selectedUris("mirror://sourceforge/pkg/thing-1.tar.gz https://primary.example/thing-1.tar.gz", "8", new Set());
    const warnings: string[] = [];
    const uris = candidateUris("thing-1.tar.gz", entries, new Set(), config, undefined, (w) => warnings.push(w));
    expect(uris).toEqual([
      { url: `${srv.url}/localmirror/distfiles/thing-1.tar.gz`, source: "local" },
      { url: `${srv.url}/gm1/distfiles/thing-1.tar.gz`, source: "mirror" },
      { url: `${srv.url}/gm2/distfiles/thing-1.tar.gz`, source: "mirror" },
      { url: `${srv.url}/user/pkg/thing-1.tar.gz`, source: "thirdparty" },
      // random() = 0.999 keeps the order
      { url: `${srv.url}/tp1/pkg/thing-1.tar.gz`, source: "thirdparty" },
      { url: `${srv.url}/tp2/pkg/thing-1.tar.gz`, source: "thirdparty" },
      { url: "https://primary.example/thing-1.tar.gz", source: "primary" },
    ]);
    expect(warnings).toEqual([]);
    const [r] = await fetchDistfiles([{ file: "thing-1.tar.gz", uris, manifest: distEntry(data) }], { distdir: tmpdir(), ...FAST });
    expect(r!.status).toBe("fetched");
    expect(r!.url).toBe(`${srv.url}/tp2/pkg/thing-1.tar.gz`);
    expect(srv.hits.map((h) => h.path)).toEqual(["/localmirror/distfiles/thing-1.tar.gz", "/gm1/distfiles/thing-1.tar.gz", "/gm2/distfiles/thing-1.tar.gz", "/user/pkg/thing-1.tar.gz", "/tp1/pkg/thing-1.tar.gz", "/tp2/pkg/thing-1.tar.gz"]);

    // thirdparty mirrors are shuffled (user mirrors are not); an unknown name is said and skipped
    const shuffled = candidateUris("thing-1.tar.gz", selectedUris("mirror://sourceforge/pkg/thing-1.tar.gz mirror://nowhere/x/thing-1.tar.gz", "8", new Set()), new Set(), { ...config, user: undefined, gentooMirrors: [], random: () => 0 }, undefined, (w) => warnings.push(w));
    expect(shuffled.map((u) => u.url)).toEqual([`${srv.url}/tp2/pkg/thing-1.tar.gz`, `${srv.url}/tp1/pkg/thing-1.tar.gz`]);
    expect(warnings).toEqual(["No known mirror by the name: nowhere"]);
  });

  it("orders by RESTRICT: mirror keeps GENTOO_MIRRORS out (unless cdn or mirror+), primaryuri puts SRC_URI first", () => {
    const config: MirrorConfig = { gentooMirrors: ["https://gm.example"], thirdparty: new Map([["gnu", ["https://gnu.example"]]]), random: () => 0.999 };
    const src = "https://p.example/a-1.tar.gz mirror://gnu/a/a-1.tar.gz";
    const e = selectedUris(src, "8", new Set());
    const urls = (restrict: string[], c: MirrorConfig = config, entries = e) => candidateUris("a-1.tar.gz", entries, new Set(restrict), c).map((u) => u.url);
    expect(urls([])).toEqual(["https://gm.example/distfiles/a-1.tar.gz", "https://gnu.example/a/a-1.tar.gz", "https://p.example/a-1.tar.gz"]);
    expect(urls(["mirror"])).toEqual(["https://gnu.example/a/a-1.tar.gz", "https://p.example/a-1.tar.gz"]);
    expect(urls(["mirror"], { ...config, cdn: true })[0]).toBe("https://gm.example/distfiles/a-1.tar.gz");
    expect(urls(["primaryuri"])).toEqual(["https://p.example/a-1.tar.gz", "https://gnu.example/a/a-1.tar.gz", "https://gm.example/distfiles/a-1.tar.gz"]);
    expect(urls([], { ...config, forceMirror: true })).toEqual(["https://gm.example/distfiles/a-1.tar.gz", "https://gnu.example/a/a-1.tar.gz"]);
    const plus = selectedUris("mirror+https://p.example/a-1.tar.gz", "8", new Set());
    expect(urls(["fetch"], config, plus)).toEqual(["https://gm.example/distfiles/a-1.tar.gz", "https://p.example/a-1.tar.gz"]);
    expect(urls(["fetch"])).toEqual([]);
    // a rename: the name on mirrors is the arrow's target, the primary URI is fetched as written
    const renamed = selectedUris("https://p.example/v1.tar.gz -> b-1.tar.gz", "8", new Set());
    expect(candidateUris("b-1.tar.gz", renamed, new Set(), config).map((u) => u.url)).toEqual(["https://gm.example/distfiles/b-1.tar.gz", "https://p.example/v1.tar.gz"]);
    expect(parseSrcUri("https://p.example/v1.tar.gz -> b-1.tar.gz", "8")).toHaveLength(1);
  });

  it("reads a mirror's layout.conf (filename-hash), caches it in DISTDIR, and finds files by it", async () => {
    const srv = await server();
    const data = randomBytes(4000);
    const name = "hashed-1.tar.gz";
    const dir = createHash("blake2b512").update(name).digest("hex").slice(0, 2);
    srv.serve("/distfiles/layout.conf", { data: Buffer.from("[structure]\n0=unknown-thing 1\n1=filename-hash BLAKE2B 8\n2=flat\n") });
    srv.serve(`/distfiles/${dir}/${name}`, { data });
    const distdir = tmpdir();
    const layouts = await loadMirrorLayouts([srv.url], distdir, { now: 1_000_000 });
    expect(layouts.get(srv.url)).toEqual([["unknown-thing", "1"], ["filename-hash", "BLAKE2B", "8"], ["flat"]]);
    const cache = JSON.parse(fs.readFileSync(path.join(distdir, ".mirror-cache.json"), "utf8"));
    expect(cache[srv.url]).toEqual([1_000_000, [["unknown-thing", "1"], ["filename-hash", "BLAKE2B", "8"], ["flat"]]]);
    // within a day the cache answers; after it the mirror is asked again
    await loadMirrorLayouts([srv.url], distdir, { now: 1_000_000 + 3600 });
    expect(srv.hits.filter((h) => h.path === "/distfiles/layout.conf")).toHaveLength(1);
    await loadMirrorLayouts([srv.url], distdir, { now: 1_000_000 + 90_000 });
    expect(srv.hits.filter((h) => h.path === "/distfiles/layout.conf")).toHaveLength(2);

    const uris = candidateUris(name, selectedUris(`https://nowhere.invalid/${name}`, "8", new Set()), new Set(), { gentooMirrors: [srv.url], thirdparty: new Map(), layouts });
    expect(uris[0]!.url).toBe(`${srv.url}/distfiles/${dir}/${name}`);
    const [r] = await fetchDistfiles([{ file: name, uris: [uris[0]!], manifest: distEntry(data) }], { distdir });
    expect(r!.status).toBe("fetched");
    // content-hash needs the digest; the last component is the digest itself
    const entry = distEntry(data, { sha512: "sha512" });
    const d = entry.hashes.sha512!;
    expect(mirrorPath([["content-hash", "SHA512", "8:8"]], name, entry)).toBe(`${d.slice(0, 2)}/${d.slice(2, 4)}/${d}`);
    expect(mirrorPath([["content-hash", "SHA512", "8"]], name)).toBeUndefined();
    expect(mirrorPath(undefined, "a b?.tar")).toBe("a%20b%3F.tar");
  });

  it("a mirror without layout.conf is flat", async () => {
    const srv = await server();
    const layouts = await loadMirrorLayouts([srv.url], tmpdir());
    expect(layouts.get(srv.url)).toEqual([]);
    expect(candidateUris("f.tar", selectedUris("https://x.example/f.tar", "8", new Set()), new Set(), { gentooMirrors: [srv.url], thirdparty: new Map(), layouts })[0]!.url).toBe(`${srv.url}/distfiles/f.tar`);
  });
});

describe("verify", () => {
  const data = Buffer.from("the quick brown fox\n");
  const file = () => {
    const f = path.join(tmpdir(), "fox.txt");
    fs.writeFileSync(f, data);
    return f;
  };

  it("checks the size first, then the hashes in sorted order, and says which mismatched", async () => {
    const f = file();
    const good = distEntry(data, { blake2b: "blake2b512", sha256: "sha256", sha512: "sha512" });
    expect(await verifyFile(f, good)).toMatchObject({ ok: true, verified: ["BLAKE2B", "SHA256", "SHA512"] });

    const shorter = { ...good, size: String(data.length + 1), hashes: { blake2b: "0".repeat(128) } };
    const s = await verifyFile(f, shorter);
    expect(s).toEqual({ ok: false, failure: { kind: "size", got: data.length, expected: data.length + 1 }, reason: `Filesize does not match recorded size (got ${data.length}, expected ${data.length + 1})` });

    const wrongSha512 = { ...good, hashes: { ...good.hashes, sha512: "ab".repeat(64) } };
    const h = await verifyFile(f, wrongSha512);
    expect(h.ok).toBe(false);
    if (!h.ok) {
      expect(h.failure).toEqual({ kind: "hash", algorithm: "SHA512", got: good.hashes.sha512, expected: "ab".repeat(64) });
      expect(h.reason).toBe(`Failed on SHA512 verification (got ${good.hashes.sha512}, expected ${"ab".repeat(64)})`);
    }
    const bothWrong = { ...good, hashes: { sha512: "ab".repeat(64), blake2b: "cd".repeat(64) } };
    expect(await verifyFile(f, bothWrong)).toMatchObject({ ok: false, failure: { kind: "hash", algorithm: "BLAKE2B" } });
  });

  it("ignores hashes it cannot compute when another is there, and refuses an entry with none", async () => {
    const f = file();
    const withWhirlpool = { size: String(data.length), hashes: { ...distEntry(data, { sha512: "sha512" }).hashes, whirlpool: "ff".repeat(64) } };
    expect(await verifyFile(f, withWhirlpool)).toMatchObject({ ok: true, verified: ["SHA512"] });
    expect(await verifyFile(f, { size: String(data.length), hashes: { whirlpool: "ff".repeat(64) } })).toMatchObject({ ok: false, failure: { kind: "insufficient", got: ["WHIRLPOOL"] } });
    expect(await verifyFile(f + ".none", distEntry(data))).toMatchObject({ ok: false, failure: { kind: "missing" } });
  });

  it("reads a Manifest's DIST line and layout.conf's hash keys", async () => {
    const f = file();
    const e = distEntry(data);
    const manifest = parseManifestDist(`DIST fox.txt ${data.length} BLAKE2B ${e.hashes.blake2b} SHA512 ${e.hashes.sha512}\n`);
    expect(await verifyFile(f, manifest.get("fox.txt")!)).toMatchObject({ ok: true, verified: ["BLAKE2B", "SHA512"] });
    expect(manifestHashes(new Map())).toEqual({ hashes: ["BLAKE2B", "SHA512"], required: ["BLAKE2B", "SHA512"] });
    expect(manifestHashes(new Map([["manifest-hashes", "BLAKE2B SHA256 SHA512"], ["manifest-required-hashes", "BLAKE2B"]]))).toEqual({ hashes: ["BLAKE2B", "SHA256", "SHA512"], required: ["BLAKE2B"] });
    const { size, digests } = await hashFile(f, ["SHA256"]);
    expect(size).toBe(data.length);
    expect(checkDigests(distEntry(data, { sha256: "sha256" }), size, digests).ok).toBe(true);
  });
});

describe("linkDistdir", () => {
  it("gives the build a DISTDIR with one symlink per file of A, and nothing else", () => {
    const actual = tmpdir();
    writeTree(actual, { "a-1.tar.gz": "a", "b-1.tar.gz": "b", "other.tar": "o" });
    const build = path.join(tmpdir(), "distdir");
    linkDistdir(build, ["a-1.tar.gz", "b-1.tar.gz"], actual);
    expect(fs.readdirSync(build).sort()).toEqual(["a-1.tar.gz", "b-1.tar.gz"]);
    expect(fs.readlinkSync(path.join(build, "a-1.tar.gz"))).toBe(path.join(actual, "a-1.tar.gz"));
    expect(fs.readFileSync(path.join(build, "b-1.tar.gz"), "utf8")).toBe("b");
    linkDistdir(build, ["b-1.tar.gz"], actual);
    expect(fs.readdirSync(build)).toEqual(["b-1.tar.gz"]);
    fs.writeFileSync(path.join(build, "planted"), "x");
    expect(() => linkDistdir(build, ["b-1.tar.gz"], actual)).toThrow(/is not a symlink/);
  });
});
