import * as path from "node:path";
import { Config } from "../config/Config.js";
import { snapshotFile } from "../config/snapshot.js";
import type { ColorMode, Output } from "../ui/Output.js";
export { makeOutput } from "./output.js";

/** Options every command accepts. */
export interface GlobalArgs {
  root?: string;
  configRoot?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  color?: ColorMode;
  cacheDir?: string;
}

export function rootOf(args: GlobalArgs): string {
  return path.resolve(args.root ?? process.env.ROOT ?? "/");
}

export function configRootOf(args: GlobalArgs): string {
  return path.resolve(args.configRoot ?? process.env.PORTAGE_CONFIGROOT ?? rootOf(args));
}

/** Environment layer of the configuration: only the variables Portage reads from the environment. */
export function configEnv(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const k of ["USE", "ACCEPT_KEYWORDS", "ACCEPT_LICENSE", "FEATURES", "PYTHON_TARGETS", "PYTHON_SINGLE_TARGET", "L10N", "VIDEO_CARDS", "INPUT_DEVICES", "CPU_FLAGS_X86"]) {
    if (process.env[k] !== undefined) out[k] = process.env[k];
  }
  return out;
}

/** The build of ouzo (scripts/bundle.js defines it); undefined when running from the sources. */
declare const __OUZO_BUILD__: string | undefined;
const BUILD = typeof __OUZO_BUILD__ === "string" ? __OUZO_BUILD__ : undefined;

/**
 * The configuration for a command. A built ouzo keeps a snapshot of it in the cache directory
 * (src/config/snapshot.ts says when it is trusted); OUZO_CONFIG_SNAPSHOT=off evaluates it afresh
 * every time and leaves the snapshot alone.
 */
export function loadConfig(args: GlobalArgs, out: Output): Config {
  const opts = { root: rootOf(args), configRoot: configRootOf(args), env: configEnv(), reporter: out };
  if (BUILD === undefined || process.env.OUZO_CONFIG_SNAPSHOT === "off") return new Config(opts);
  const key = JSON.stringify([BUILD, opts.root, opts.configRoot, opts.env]);
  return Config.load(opts, { file: snapshotFile(cacheDirOf(args)), key });
}

/** Where ouzo keeps its caches: --cache-dir, OUZO_CACHE_DIR, or ROOT/var/cache/ouzo. */
export function cacheDirOf(args: GlobalArgs): string {
  return path.resolve(args.cacheDir ?? process.env.OUZO_CACHE_DIR ?? path.join(rootOf(args), "var", "cache", "ouzo"));
}

/** ouzo's state under ROOT: the sync journal and lock, anise repository trees. */
export function stateDirOf(args: GlobalArgs): string {
  return path.join(rootOf(args), "var", "lib", "ouzo");
}

/**
 * Hold the lock of the commands that change ROOT's synced tree or its profile (sync, the profile
 * setters) while `fn` runs: one at a time per ROOT. A second one waits, saying for whom, as emerge
 * does; a holder that dies lets go at once (core/lock.ts).
 */
export async function withSyncLock<T>(args: GlobalArgs, out: Output, fn: () => Promise<T>): Promise<T> {
  const { FileLock } = await import("../core/lock.js");
  const lock = new FileLock(path.join(stateDirOf(args), "sync.lock"));
  await lock.acquire({
    timeoutMs: Infinity,
    onWait: (pid) => out.notice(`waiting for the ouzo sync or profile change ${pid ? `of process ${pid} ` : ""}already running on ${rootOf(args)} to finish`),
  });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
