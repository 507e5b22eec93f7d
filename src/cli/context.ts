import * as path from "node:path";
import { Config } from "../config/Config.js";
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

export function loadConfig(args: GlobalArgs, out: Output): Config {
  return new Config({ root: rootOf(args), configRoot: configRootOf(args), env: configEnv(), reporter: out });
}

/** Where ouzo keeps its caches: --cache-dir, OUZO_CACHE_DIR, or ROOT/var/cache/ouzo. */
export function cacheDirOf(args: GlobalArgs): string {
  return path.resolve(args.cacheDir ?? process.env.OUZO_CACHE_DIR ?? path.join(rootOf(args), "var", "cache", "ouzo"));
}
