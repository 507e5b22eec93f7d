import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { isDirectory, listConfigDir, noteInput, readFileIfExists } from "../core/fsutil.js";

/** A configured ebuild repository (repos.conf plus its metadata/layout.conf). */
export interface Repository {
  readonly name: string;
  readonly location: string;
  readonly priority: number;
  /** Other names resolving to this repository (layout.conf `aliases`, repos.conf `aliases`). */
  readonly aliases: readonly string[];
  /** Master repository names, in layout.conf order. */
  readonly masters: readonly string[];
  readonly profileFormats: readonly string[];
  readonly cacheFormats: readonly string[];
  readonly layout: ReadonlyMap<string, string>;
}

export interface RepositorySet {
  readonly mainRepo: string | undefined;
  readonly repos: readonly Repository[];
  get(nameOrAlias: string): Repository | undefined;
  /** Eclass search chain for an ebuild of `repo`: the repo first, then its masters last to first (PMS/Portage). */
  eclassChain(repo: Repository): Repository[];
  /** The repository whose tree contains a path, if any. */
  containing(p: string): Repository | undefined;
}

/** Parse INI as repos.conf and ego.conf use it: `[section]`, `key = value`, `#`/`;` comments. */
export function parseIni(text: string, file: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  text.split("\n").forEach((raw, idx) => {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) return;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      const name = sec[1]!.trim();
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      return;
    }
    const eq = line.indexOf("=");
    if (eq < 0) throw new OuzoError("BAD_INI", `expected 'key = value', found '${line.slice(0, 40)}'`, { file, line: idx + 1 });
    if (!current) throw new OuzoError("BAD_INI", "setting outside of any [section]", { file, line: idx + 1 });
    current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  });
  return sections;
}

/** metadata/layout.conf: `key = value` lines; unknown keys are kept, nothing is rejected. */
export function readLayoutConf(location: string): Map<string, string> {
  const text = readFileIfExists(path.join(location, "metadata", "layout.conf"));
  const out = new Map<string, string>();
  if (!text) return out;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

/** The repository's own name: layout.conf `repo-name`, else profiles/repo_name. */
export function repoNameOf(location: string, layout = readLayoutConf(location)): string | undefined {
  const fromLayout = layout.get("repo-name");
  if (fromLayout) return fromLayout;
  return readFileIfExists(path.join(location, "profiles", "repo_name"))?.split("\n")[0]?.trim() || undefined;
}

interface RawRepo {
  name: string;
  location?: string;
  priority?: number;
  aliases?: string[];
  masters?: string[];
}

/**
 * Read repos.conf (a file or a directory of files) into a RepositorySet. Locations are written
 * without the ROOT prefix (ego does so for use inside the chroot); with a config root other than /,
 * a location that exists under it is taken from there.
 */
export function loadRepositories(reposConf: string, configRoot = "/"): RepositorySet {
  const files = isDirectory(reposConf) ? listConfigDir(reposConf).filter((f) => !isDirectory(f)) : (noteInput(reposConf), fs.existsSync(reposConf)) ? [reposConf] : [];
  let mainRepo: string | undefined;
  const raw = new Map<string, RawRepo>();
  for (const file of files) {
    noteInput(file);
    const ini = parseIni(fs.readFileSync(file, "utf8"), file);
    for (const [section, keys] of ini) {
      if (section === "DEFAULT") {
        if (keys.has("main-repo")) mainRepo = keys.get("main-repo");
        continue;
      }
      const r = raw.get(section) ?? { name: section };
      if (keys.has("location")) r.location = keys.get("location");
      if (keys.has("priority")) {
        const p = Number(keys.get("priority"));
        if (!Number.isInteger(p)) throw new OuzoError("BAD_REPOS_CONF", `priority of [${section}] is not an integer`, { file });
        r.priority = p;
      }
      if (keys.has("aliases")) r.aliases = keys.get("aliases")!.split(/\s+/).filter(Boolean);
      if (keys.has("masters")) r.masters = keys.get("masters")!.split(/\s+/).filter(Boolean);
      raw.set(section, r);
    }
  }
  const repos: Repository[] = [];
  for (const r of raw.values()) {
    if (!r.location) throw new OuzoError("BAD_REPOS_CONF", `repository [${r.name}] has no location`, { file: reposConf });
    const underRoot = path.join(configRoot, r.location);
    if (configRoot !== "/") noteInput(underRoot);
    const location = configRoot !== "/" && fs.existsSync(underRoot) ? underRoot : r.location;
    repos.push(makeRepository(r.name, location, r.priority ?? 0, r.aliases, r.masters, mainRepo));
  }
  return makeRepositorySet(repos, mainRepo);
}

export function makeRepository(name: string, location: string, priority = 0, extraAliases: string[] = [], mastersOverride?: string[], mainRepo?: string): Repository {
  const layout = readLayoutConf(location);
  const split = (k: string) => (layout.get(k) ?? "").split(/\s+/).filter(Boolean);
  let masters: string[];
  if (mastersOverride) masters = mastersOverride;
  else if (layout.has("masters")) masters = split("masters");
  else masters = mainRepo && mainRepo !== name ? [mainRepo] : [];
  return {
    name,
    location,
    priority,
    aliases: [...split("aliases"), ...extraAliases],
    masters,
    profileFormats: layout.has("profile-formats") ? split("profile-formats") : ["portage-1-compat"],
    cacheFormats: split("cache-formats"),
    layout,
  };
}

export function makeRepositorySet(repos: Repository[], mainRepo: string | undefined): RepositorySet {
  const byName = new Map<string, Repository>();
  for (const r of repos) byName.set(r.name, r);
  for (const r of repos) for (const a of r.aliases) if (!byName.has(a)) byName.set(a, r);
  const sorted = [...repos].sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    mainRepo,
    repos: sorted,
    get: (n) => byName.get(n),
    eclassChain(repo) {
      const chain: Repository[] = [repo];
      for (const m of [...repo.masters].reverse()) {
        const r = byName.get(m);
        if (!r) throw new OuzoError("UNKNOWN_MASTER", `master repository '${m}' of '${repo.name}' is not configured`, { file: path.join(repo.location, "metadata", "layout.conf") });
        if (!chain.includes(r)) chain.push(r);
      }
      return chain;
    },
    containing(p) {
      let best: Repository | undefined;
      for (const r of repos) {
        const loc = r.location.endsWith("/") ? r.location : r.location + "/";
        if ((p + "/").startsWith(loc) && (!best || r.location.length > best.location.length)) best = r;
      }
      return best;
    },
  };
}
