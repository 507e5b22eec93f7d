import { deferredExtraCa } from "../core/tlsCa.js";
import * as fs from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Dispatcher } from "undici";
import { OuzoError } from "../core/errors.js";
import type { AniseRepoDef } from "../config/aniseRepos.js";

export interface DownloadOptions {
  /** Give up on a connection that sends nothing for this long. */
  readonly timeoutMs: number;
  readonly retries: number;
  readonly onBytes?: (received: number, total: number | undefined) => void;
}

export const DEFAULT_DOWNLOAD: DownloadOptions = { timeoutMs: 30_000, retries: 3 };

/** A URL for a file next to a repository base URL, its name percent-encoded (`+` → `%2B`). */
export function fileUrl(base: string, name: string): string {
  return `${base.replace(/\/+$/, "")}/${name.split("/").map(encodeURIComponent).join("/")}`;
}

function authHeader(def: AniseRepoDef): Record<string, string> {
  if (def.auth?.token) return { authorization: `token ${def.auth.token}` };
  if (def.auth?.basic) return { authorization: `Basic ${def.auth.basic}` };
  return {};
}

class HttpStatusError extends Error {
  constructor(readonly status: number, url: string) {
    super(`HTTP ${status} for ${url}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let extraCaAgent: Dispatcher | undefined;

/**
 * undici, loaded on first use: its index (fetch, WebSocket, cookies, node's own copy with its web
 * streams) is ~40 ms of start-up that an install from repositories already synced never needs.
 * An ES module chunk of the bundle holds a CommonJS module's exports under `default` only.
 */
async function undici(): Promise<typeof import("undici")> {
  const m = (await import("undici")) as typeof import("undici") & { default?: typeof import("undici") };
  return typeof m.request === "function" ? m : m.default!;
}

/**
 * NODE_EXTRA_CA_CERTS, when bin/ouzo kept node from loading it at start (see there): an agent
 * trusting node's own roots plus those certificates, as node would have, made on first use.
 * Otherwise undefined: node loaded them itself, or there are none.
 */
async function dispatcher(): Promise<Dispatcher | undefined> {
  const ca = deferredExtraCa();
  if (!ca) return undefined;
  const { Agent } = await undici();
  extraCaAgent ??= new Agent({ connect: { ca } });
  return extraCaAgent;
}

/**
 * Fetch one file of a repository into `dest`: from a local directory for `disk` repositories, over
 * HTTP otherwise, with a stall timeout, retries with back-off (network errors and 5xx), and
 * resumption of a partial download (`dest.part`) with a Range request.
 */
export async function fetchRepoFile(def: AniseRepoDef, base: string, name: string, dest: string, opts: DownloadOptions = DEFAULT_DOWNLOAD): Promise<void> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  if (def.type === "disk") {
    const src = path.join(base.replace(/^file:\/\//, ""), name);
    try {
      fs.copyFileSync(src, dest);
    } catch (e) {
      throw new OuzoError("ANISE_FETCH", `${src}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    return;
  }
  const url = fileUrl(base, name);
  const part = `${dest}.part`;
  const { request } = await undici();
  let lastError: Error | undefined;
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    if (attempt) await sleep(Math.min(2000, 100 * 2 ** attempt));
    const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
    try {
      const res = await request(url, {
        dispatcher: await dispatcher(),
        headers: { ...authHeader(def), ...(have ? { range: `bytes=${have}-` } : {}) },
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      if (res.statusCode === 416 && have) {
        // the partial file is already complete (or stale): start over
        await res.body.dump();
        fs.rmSync(part, { force: true });
        continue;
      }
      if (res.statusCode !== 200 && res.statusCode !== 206) {
        await res.body.dump();
        throw new HttpStatusError(res.statusCode, url);
      }
      const append = res.statusCode === 206 && have > 0;
      const lenHeader = res.headers["content-length"];
      const total = lenHeader ? Number(lenHeader) + (append ? have : 0) : undefined;
      let received = append ? have : 0;
      res.body.on("data", (c: Buffer) => {
        received += c.length;
        opts.onBytes?.(received, total);
      });
      await pipeline(res.body, fs.createWriteStream(part, { flags: append ? "a" : "w" }));
      if (total !== undefined && fs.statSync(part).size !== total) throw new Error(`short download (${fs.statSync(part).size} of ${total} bytes)`);
      fs.renameSync(part, dest);
      return;
    } catch (e) {
      lastError = e as Error;
      if (e instanceof HttpStatusError && e.status < 500 && e.status !== 408 && e.status !== 429) break;
    }
  }
  const msg = lastError instanceof HttpStatusError ? lastError.message : `${url}: ${describeNetworkError(lastError)}`;
  throw new OuzoError("ANISE_FETCH", msg);
}

function describeNetworkError(e: Error | undefined): string {
  if (!e) return "failed";
  const code = (e as { code?: string }).code;
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return "the server stopped answering (timeout)";
  if (code === "ECONNREFUSED") return "connection refused";
  return e.message;
}

import { sha256File } from "../core/fsutil.js";
export { sha256File };
