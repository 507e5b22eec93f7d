// Downloading artifacts into the package cache (anise.md §2, §9): from the repository's URLs in
// order, percent-encoded, with the repository's auth header, in parallel. The sha256 is computed
// while the bytes arrive and is required; a file whose length or hash is wrong is deleted, never
// kept (§15.6, §15.11). A cached file is reused when its recorded hash still describes it.
import { deferredExtraCa } from "../core/tlsCa.js";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Dispatcher } from "undici";
import Agent from "undici/lib/dispatcher/agent.js";
import type { AniseRepoDef } from "../config/aniseRepos.js";
import { OuzoError } from "../core/errors.js";

export interface FetchOptions {
  /** Give up on a connection that sends nothing for this long (HTTP_TIMEOUT). */
  readonly timeoutMs: number;
  readonly retries: number;
  /** INSECURE=1: no TLS verification. */
  readonly insecure: boolean;
  readonly concurrency: number;
}

export const DEFAULT_FETCH: FetchOptions = { timeoutMs: 30_000, retries: 2, insecure: false, concurrency: 4 };

export function fetchOptionsFromEnv(env: NodeJS.ProcessEnv, concurrency: number, clientTimeout = 0): FetchOptions {
  const t = Number(env.HTTP_TIMEOUT) || clientTimeout;
  return { ...DEFAULT_FETCH, timeoutMs: t > 0 ? t * 1000 : DEFAULT_FETCH.timeoutMs, insecure: env.INSECURE === "1" || env.INSECURE === "true", concurrency: Math.max(1, concurrency) };
}

export interface ArtifactRequest {
  readonly repo: AniseRepoDef;
  /** The artifact's file name (the basename of the metadata's `path`). */
  readonly file: string;
  readonly sha256: string | undefined;
  /** For messages: `category/name-version`. */
  readonly pkg: string;
}

/** A URL for a file next to a repository base URL, its name percent-encoded (`+` → `%2B`). */
export function artifactUrl(base: string, name: string): string {
  return `${base.replace(/\/+$/, "")}/${encodeURIComponent(name)}`;
}

function authHeader(def: AniseRepoDef): Record<string, string> {
  if (def.auth?.token) return { authorization: `token ${def.auth.token}` };
  if (def.auth?.basic) return { authorization: `Basic ${def.auth.basic}` };
  return {};
}

const agents = new Map<string, Dispatcher>();

/** An agent for INSECURE=1, or trusting NODE_EXTRA_CA_CERTS when bin/ouzo deferred it; undefined otherwise. */
function dispatcher(insecure: boolean): Dispatcher | undefined {
  const file = (globalThis as Record<symbol, unknown>)[Symbol.for("ouzo.deferredExtraCaCerts")];
  const extra = typeof file === "string" && file ? file : "";
  if (!insecure && !extra) return undefined;
  const key = `${insecure}:${extra}`;
  let a = agents.get(key);
  if (!a) {
    const ca = extra ? deferredExtraCa() : undefined;
    a = new Agent({ connect: { ...(insecure ? { rejectUnauthorized: false } : {}), ...(ca ? { ca } : {}) } });
    agents.set(key, a);
  }
  return a;
}

/**
 * ouzo's own agent for the rest: the global dispatcher may be Node's built-in undici (fetch's,
 * when it came first), whose dispatch speaks only the older handler interface.
 */
let plain: Dispatcher | undefined;
const plainAgent = (): Dispatcher => (plain ??= new Agent());

import { removeIfPresent, sha256File } from "../core/fsutil.js";
export { sha256File };

/** `<file>.sha256`: the hash with the size and mtime it was computed for, so a reuse need not read the file again. */
function stampOf(file: string): string | undefined {
  // no exception for a file not there: the usual case of a download (200 of them at the start of a big install)
  const s = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return s ? `${s.size}:${s.mtimeNs}:${s.ino}` : undefined;
}

/** Whether `file` is there and known (or found) to have the hash `sha`; "absent" when there is no such file. */
function cachedValid(file: string, sha: string): boolean | "absent" {
  const stamp = stampOf(file);
  if (!stamp) return "absent";
  try {
    const [h, st] = fs.readFileSync(`${file}.sha256`, "utf8").trim().split(" ");
    if (h === sha && st === stamp) return true;
  } catch {
    // no record: hash it
  }
  if (sha256File(file) !== sha) return false;
  fs.writeFileSync(`${file}.sha256`, `${sha} ${stamp}\n`);
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class HttpStatus extends Error {
  constructor(readonly status: number, url: string) {
    super(`HTTP ${status} for ${url}`);
  }
}

/**
 * Download one URL into `part`, hashing on the way; returns the hash. Through undici's dispatch
 * handler rather than `request`'s body stream: each chunk goes from the HTTP parser to the hash
 * and the file with no stream between (the stream's machinery took ~0.2 s of the main thread
 * per 100 MB, on which the downloads and the merges wait).
 */
function downloadOnce(url: string, def: AniseRepoDef, part: string, o: FetchOptions, onBytes?: (n: number) => void): Promise<string> {
  const u = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const h = createHash("sha256");
    let fd: number | undefined;
    let expected: number | undefined;
    let got = 0;
    // the chunks (the socket's reads, each its own buffer) are written a megabyte at a time: one
    // system call instead of about sixteen
    let held: Buffer[] = [];
    let heldBytes = 0;
    const flush = () => {
      if (fd === undefined || !held.length) return;
      let bufs = held;
      held = [];
      heldBytes = 0;
      for (;;) {
        let n = fs.writevSync(fd, bufs);
        while (bufs.length && n >= bufs[0]!.length) n -= bufs.shift()!.length;
        if (!bufs.length) return;
        bufs = [bufs[0]!.subarray(n), ...bufs.slice(1)];
      }
    };
    const close = () => {
      if (fd === undefined) return;
      const f = fd;
      try {
        flush();
      } finally {
        fd = undefined;
        fs.closeSync(f);
      }
    };
    const fail = (e: Error) => {
      held = [];
      try {
        close();
      } catch {
        // the error told is the first
      }
      reject(e);
    };
    (dispatcher(o.insecure) ?? plainAgent()).dispatch(
      { origin: u.origin, path: `${u.pathname}${u.search}`, method: "GET", headers: authHeader(def), headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs },
      {
        // its presence is what marks a handler of this interface
        onRequestStart() {},
        onResponseStart(c, statusCode, headers) {
          if (statusCode !== 200) {
            // told at once with its status (a 4xx is not retried), not after a body nobody reads
            const e = new HttpStatus(statusCode, url);
            fail(e);
            c.abort(e);
            return;
          }
          const len = headers["content-length"];
          if (len !== undefined) expected = Number(len);
          try {
            fd = fs.openSync(part, "w", 0o644);
          } catch (e) {
            c.abort(e as Error);
          }
        },
        onResponseData(c, chunk) {
          if (fd === undefined) return;
          try {
            h.update(chunk);
            held.push(chunk);
            heldBytes += chunk.length;
            if (heldBytes >= 1 << 20) flush();
          } catch (e) {
            c.abort(e as Error);
            return;
          }
          got += chunk.length;
          onBytes?.(chunk.length);
        },
        onResponseEnd() {
          // only a 200 gets here: any other status was failed and aborted at its start
          try {
            close();
          } catch (e) {
            return fail(e as Error);
          }
          if (expected !== undefined && got !== expected) reject(new Error(`short download (${got} of ${expected} bytes)`));
          else resolve(h.digest("hex"));
        },
        onResponseError(_c, err) {
          fail(err);
        },
      },
    );
  });
}

/** Copy from a `disk` repository, hashing on the way. */
function copyOnce(src: string, part: string): string {
  const h = createHash("sha256");
  const fin = fs.openSync(src, "r");
  let fout: number;
  try {
    fout = fs.openSync(part, "w", 0o644);
  } catch (e) {
    fs.closeSync(fin);
    throw e;
  }
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fin, buf, 0, buf.length, null);
      if (!n) break;
      h.update(buf.subarray(0, n));
      let off = 0;
      while (off < n) off += fs.writeSync(fout, buf, off, n - off);
    }
  } finally {
    fs.closeSync(fin);
    fs.closeSync(fout);
  }
  return h.digest("hex");
}

/**
 * Fetch one artifact into `cacheDir` and verify it; returns its path. The URLs of the repository
 * are tried in order (network errors and 5xx retried on each); a wrong hash is an error at once.
 */
export async function fetchArtifact(a: ArtifactRequest, cacheDir: string, o: FetchOptions = DEFAULT_FETCH, onBytes?: (n: number) => void): Promise<string> {
  fs.mkdirSync(cacheDir, { recursive: true });
  return (await fetchInto(a, cacheDir, o, onBytes)).file;
}

/**
 * fetchArtifact into a `cacheDir` that exists; `fresh` when the file was downloaded (and its
 * bytes hashed) just now, not taken from the cache on the strength of its stamp.
 */
async function fetchInto(a: ArtifactRequest, cacheDir: string, o: FetchOptions, onBytes?: (n: number) => void): Promise<{ file: string; fresh: boolean }> {
  if (!a.sha256) throw new OuzoError("ANISE_NO_CHECKSUM", `${a.pkg}: the repository '${a.repo.name}' gives no sha256 for ${a.file}; ouzo installs only what it can verify`, { pkg: a.pkg });
  if (!a.file || a.file.includes("/") || a.file.startsWith(".")) throw new OuzoError("BAD_ANISE_PACKAGE", `${a.pkg}: '${a.file}' is not an artifact file name`, { pkg: a.pkg });
  const dest = path.join(cacheDir, a.file);
  const cached = cachedValid(dest, a.sha256);
  if (cached === true) return { file: dest, fresh: false };
  if (cached === false) fs.rmSync(dest, { force: true });
  removeIfPresent(`${dest}.sha256`);
  const part = `${dest}.part`;
  const errors: string[] = [];
  for (const base of a.repo.urls) {
    for (let attempt = 0; attempt <= o.retries; attempt++) {
      if (attempt) await sleep(Math.min(2000, 100 * 2 ** attempt));
      try {
        const got = a.repo.type === "disk" ? copyOnce(path.join(base.replace(/^file:\/\//, ""), a.file), part) : await downloadOnce(artifactUrl(base, a.file), a.repo, part, o, onBytes);
        if (got !== a.sha256) {
          fs.rmSync(part, { recursive: true, force: true });
          throw new OuzoError("ANISE_CHECKSUM", `${a.file}: sha256 mismatch (expected ${a.sha256}, got ${got}); the file was not kept`, { pkg: a.pkg });
        }
        fs.renameSync(part, dest);
        const stamp = stampOf(dest);
        if (stamp) fs.writeFileSync(`${dest}.sha256`, `${a.sha256} ${stamp}\n`);
        return { file: dest, fresh: true };
      } catch (e) {
        fs.rmSync(part, { recursive: true, force: true });
        if (e instanceof OuzoError) throw e;
        const err = e as Error & { code?: string };
        errors.push(`${a.repo.type === "disk" ? path.join(base, a.file) : artifactUrl(base, a.file)}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
        if (e instanceof HttpStatus && e.status < 500 && e.status !== 408 && e.status !== 429) break;
        if (a.repo.type === "disk") break;
      }
    }
  }
  throw new OuzoError("ANISE_FETCH", `${a.pkg}: cannot download ${a.file}: ${errors.join("; ")}`, { pkg: a.pkg });
}

/** Fetch several artifacts, `concurrency` at a time; every failure is collected, then the first thrown. */
export async function fetchArtifacts(
  list: readonly ArtifactRequest[],
  cacheDir: string,
  o: FetchOptions = DEFAULT_FETCH,
  progress?: (done: number, item: string) => void,
  /** Each artifact as soon as it is downloaded and verified; `fresh` as fetchInto says. */
  onFetched?: (a: ArtifactRequest, file: string, fresh: boolean) => void,
): Promise<Map<ArtifactRequest, string>> {
  const out = new Map<ArtifactRequest, string>();
  if (list.length) fs.mkdirSync(cacheDir, { recursive: true });
  const failures: Error[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < list.length) {
      const a = list[next++]!;
      try {
        const { file, fresh } = await fetchInto(a, cacheDir, o);
        out.set(a, file);
        onFetched?.(a, file, fresh);
      } catch (e) {
        failures.push(e as Error);
      }
      progress?.(++done, a.pkg);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, list.length) }, worker));
  if (failures.length) {
    if (failures.length === 1) throw failures[0];
    const f = failures[0] as OuzoError;
    throw new OuzoError(f.code ?? "ANISE_FETCH", `${failures.length} artifacts failed: ${failures.map((x) => x.message).join("; ")}`);
  }
  return out;
}
