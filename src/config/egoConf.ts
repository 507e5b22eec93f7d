import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { readFileIfExists } from "../core/fsutil.js";
import { parseIni } from "./repositories.js";

/** ego.conf with ego's keys and defaults (meta-repo.md §3). Paths are already under --root. */
export interface EgoConf {
  readonly file: string;
  /** Whether the file exists (when it does not, every value is ego's default). */
  readonly exists: boolean;
  /** Release name as written (or defaulted); `metaRepoBranch` is the branch it selects. */
  readonly release: string | undefined;
  readonly syncBaseUrl: string;
  readonly metaRepoPath: string;
  readonly kitsPath: string;
  readonly reposConfPath: string;
  /** Clone depth; 0 means full history. */
  readonly kitsDepth: number;
  readonly syncUser: string;
  /** Whether ego.conf names sync_user (the default user may legitimately be missing). */
  readonly syncUserSet: boolean;
  readonly pythonKitProfile: string | undefined;
  /** `[kits]` overrides: branch name or `skip`. */
  readonly kitOverrides: ReadonlyMap<string, string>;
}

export const DEFAULT_SYNC_BASE_URL = "https://github.com/macaroni-os/{repo}";

/** Read ego.conf: EGO_CONFIG if set, else ROOT/etc/ego.conf; a missing file means all defaults. */
export function readEgoConf(root: string, env: Readonly<Record<string, string | undefined>> = process.env): EgoConf {
  const file = env.EGO_CONFIG ? path.resolve(env.EGO_CONFIG) : path.join(root, "etc", "ego.conf");
  const text = readFileIfExists(file);
  const ini = text === undefined ? new Map<string, Map<string, string>>() : parseIni(text, file);
  const g = ini.get("global") ?? new Map<string, string>();
  const under = (p: string) => (path.isAbsolute(p) ? path.join(root, p) : path.resolve(root, p));
  const metaRepoPath = under(g.get("meta_repo_path") ?? "/var/git/meta-repo");
  const kits = g.get("kits_path") ?? "kits";
  const depthText = g.get("kits_depth") ?? "2";
  const depth = Number(depthText);
  if (!Number.isInteger(depth) || depth < 0) throw new OuzoError("BAD_EGO_CONF", `kits_depth must be a whole number, found '${depthText}'`, { file });
  const syncBaseUrl = env.EGO_SYNC_BASE_URL || g.get("sync_base_url") || DEFAULT_SYNC_BASE_URL;
  if (!syncBaseUrl.includes("{repo}")) {
    const where = env.EGO_SYNC_BASE_URL ? "EGO_SYNC_BASE_URL" : "sync_base_url";
    throw new OuzoError("BAD_EGO_CONF", `${where} '${syncBaseUrl}' has no {repo}, where each repository's name goes: write it as ${syncBaseUrl.replace(/\/+$/, "")}/{repo}`, env.EGO_SYNC_BASE_URL ? {} : { file });
  }
  return {
    file,
    exists: text !== undefined,
    release: g.get("release"),
    syncBaseUrl,
    metaRepoPath,
    kitsPath: path.isAbsolute(kits) ? path.join(root, kits) : path.join(metaRepoPath, kits),
    reposConfPath: under(g.get("repos_conf_path") ?? "/etc/portage/repos.conf"),
    kitsDepth: depth,
    syncUser: g.get("sync_user") ?? "portage",
    syncUserSet: g.has("sync_user"),
    pythonKitProfile: g.get("python_kit_profile"),
    kitOverrides: ini.get("kits") ?? new Map(),
  };
}

/** The meta-repo branch a release name selects: 1.0/1.2 → master, 1.4 → 1.4-release, else verbatim. */
export function metaRepoBranch(release: string): string {
  if (release === "1.0" || release === "1.2") return "master";
  if (release === "1.4") return "1.4-release";
  return release;
}

/** `{repo}` substitution in sync_base_url; local paths are used as they are. */
export function repoUrl(base: string, repo: string): string {
  return base.replace(/\{repo\}/g, repo);
}
