// What every `ouzo anise` command starts from (commands/anise.ts, commands/aniseAdmin.ts): ROOT
// and anise's configuration found as anise finds them, the repository definitions, the catalog
// of the synced repositories, and anise's output formats.
import * as path from "node:path";
import YAML from "yaml";
import { AniseCatalog } from "../../anise/AniseCatalog.js";
import { loadAniseConfig, type AniseClientConfig } from "../../anise/AniseConfig.js";
import { readRepoDefs, type AniseRepoDef } from "../../config/aniseRepos.js";
import { UsageError } from "../../core/errors.js";
import type { Output } from "../../ui/Output.js";
import { cacheDirOf, configRootOf, type GlobalArgs } from "../context.js";

export interface AniseBaseArgs extends GlobalArgs {
  systemTarget?: string;
  config?: string;
  output?: string;
}

/** ROOT, the configuration and the repository definitions of a command. */
export interface AniseBase {
  readonly root: string;
  readonly configRoot: string;
  readonly cacheDir: string;
  readonly config: AniseClientConfig;
  readonly defs: AniseRepoDef[];
  /** Where synced repository trees live (`ROOT/var/lib/ouzo/anise/repos/<name>`). */
  readonly reposDir: string;
}

/** `-o terminal|json|yaml` (ouzo's --json too); anything else is a usage error. */
export function outputMode(args: AniseBaseArgs): "terminal" | "json" | "yaml" {
  if (args.json) return "json";
  const o = (args.output ?? "terminal").toLowerCase();
  if (o !== "terminal" && o !== "json" && o !== "yaml") throw new UsageError(`-o takes terminal, json or yaml, not '${args.output}'`);
  return o;
}

/** A command's result: the document as JSON or YAML, or its lines on the terminal. */
export function emit(args: AniseBaseArgs, out: Output, doc: unknown, lines: () => string[]): void {
  const mode = outputMode(args);
  if (mode === "json") process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
  else if (mode === "yaml") process.stdout.write(YAML.stringify(doc));
  else for (const l of lines()) out.result(l);
}

/** ROOT: --system-target, --root, ROOT, then the configuration's system.rootfs (ANISE_SYSTEM__ROOTFS too), then /. */
export function openAniseBase(args: AniseBaseArgs, out: Output): AniseBase {
  const given = args.systemTarget ?? args.root ?? process.env.ROOT;
  let root = path.resolve(given ?? "/");
  const configRoot = configRootOf({ ...args, root });
  const warn = (m: string) => out.warn(m);
  const config = loadAniseConfig({ configRoot, configFile: args.config ? path.resolve(args.config) : undefined, warn });
  if (!given && config.rootfs) root = path.resolve(config.rootfs);
  const defs = readRepoDefs([path.join(configRoot, "etc", "ouzo", "anise", "repos.conf.d"), ...config.reposConfDirs], warn);
  return { root, configRoot, cacheDir: cacheDirOf({ ...args, root }), config, defs, reposDir: path.join(root, "var", "lib", "ouzo", "anise", "repos") };
}

/** The synced trees of the enabled repositories, masks applied unless ignoreMasks. */
export function aniseCatalogOf(base: AniseBase, out: Output, ignoreMasks?: boolean): AniseCatalog {
  return new AniseCatalog(
    base.defs.filter((d) => d.enable).map((def) => ({ def, dir: path.join(base.reposDir, def.name) })),
    { masks: base.config.masks, ...(ignoreMasks !== undefined ? { ignoreMasks } : {}), warn: (m) => out.warn(m) },
  );
}
