import * as fs from "node:fs";
import type * as http from "node:http";
import type * as https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { afterEach } from "vitest";

export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const made: string[] = [];

/** A temporary directory removed after the test. */
export function tmpdir(prefix = "ouzo-test-"): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

afterEach(() => {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
});

/** Write files given as { "relative/path": "content" }. */
export function writeTree(base: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(base, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/** The environment for the CLI under test, without the caller's EMERGE_DEFAULT_OPTS (a developer's --ask would change every run). */
export function hermeticEnv(): NodeJS.ProcessEnv {
  const { EMERGE_DEFAULT_OPTS: _, ...env } = process.env;
  return env;
}

/** Run the real CLI (compiled in dist/) and capture what it prints; `as`: as that user (needs root). */
export function ouzo(args: string[], opts: { input?: string; env?: Record<string, string>; as?: { uid: number; gid: number } } = {}) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "bin", "ouzo.js"), ...args], {
    input: opts.input ?? "",
    encoding: "utf8",
    env: { ...hermeticEnv(), NO_COLOR: "1", ...opts.env },
    timeout: 170_000,
    maxBuffer: 1 << 28,
    uid: opts.as?.uid,
    gid: opts.as?.gid,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A CLI run in progress: wait for a line of its stderr (an event, never a fixed sleep), then for its end. */
export interface LiveOuzo {
  /** Resolves once stderr matches (rejects if the process ends first). */
  stderrMatches(re: RegExp): Promise<void>;
  readonly done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * The CLI run without blocking this process (needed when this process also serves HTTP to it or
 * holds a lock it waits for); `command` runs bin/ouzo, the installed command, instead of
 * `node bin/ouzo.js`.
 */
export function ouzoLive(args: string[], opts: { env?: Record<string, string | undefined>; command?: boolean } = {}): LiveOuzo {
  const [file, argv] = opts.command ? [path.join(REPO_ROOT, "bin", "ouzo"), args] : [process.execPath, [path.join(REPO_ROOT, "bin", "ouzo.js"), ...args]];
  const env: Record<string, string | undefined> = { ...hermeticEnv(), NO_COLOR: "1", ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(file, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    for (const w of waiters.splice(0)) if (w.re.test(stderr)) w.resolve();
    else waiters.push(w);
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return {
    stderrMatches: (re) =>
      re.test(stderr)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ re, resolve })),
            done.then((r) => Promise.reject(new Error(`ouzo ${args.join(" ")} ended (${r.code}) before its stderr matched ${re}: ${r.stderr}`))),
          ]),
    done,
  };
}

export function ouzoAsync(args: string[], opts: { env?: Record<string, string | undefined>; command?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return ouzoLive(args, opts).done;
}

/**
 * Start `server` on 127.0.0.1 at a free port; `close` ends the connections still open too, so a
 * test never waits on a client's keep-alive.
 */
export async function listenLocally(server: http.Server | https.Server, scheme: "http" | "https" = "http"): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on(scheme === "https" ? "secureConnection" : "connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * Source modules bundled as plain ES modules (`<dir>/<name>.mjs`), for a child process or a worker
 * thread, neither of which runs TypeScript; the tests do not depend on a build of dist/. Native
 * modules stay outside, resolved from the repository's node_modules.
 */
export function bundleSources(entries: Record<string, string>, external: string[] = ["better-sqlite3"]): string {
  const dir = tmpdir("ouzo-bundle-");
  buildSync({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, path.join(REPO_ROOT, v)])),
    outdir: dir,
    bundle: true,
    platform: "node",
    format: "esm",
    external,
    outExtension: { ".js": ".mjs" },
    logLevel: "silent",
  });
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}
