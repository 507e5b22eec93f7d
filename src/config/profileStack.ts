import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { noteInput, readFileIfExists } from "../core/fsutil.js";
import { DirCache } from "./configFiles.js";
import { type EapiFeatures, eapiFeatures, USER_CONFIG_EAPI } from "../pms/eapi.js";
import type { Repository, RepositorySet } from "./repositories.js";

/** One position of the profile stack. A directory reached twice appears twice. */
export interface ProfileEntry {
  readonly dir: string;
  /** Repository containing the directory (undefined for /etc/portage entries). */
  readonly repo: Repository | undefined;
  readonly eapi: EapiFeatures;
  /** Profile files may be directories (portage-1/portage-2 formats, or EAPI 7+). */
  readonly allowDirectories: boolean;
  /** `::repo` allowed in atoms. */
  readonly allowRepoAtoms: boolean;
  /** The user's own /etc/portage/make.profile or /etc/portage/profile. */
  readonly user: boolean;
}

const REPO_PARENT_RE = /^([A-Za-z0-9_][A-Za-z0-9_-]*)?:(.*)$/;

/**
 * Expand the profile stack exactly as Portage does: depth first, parents before the child, no
 * de-duplication; /etc/portage/profile (if present) last.
 */
export function buildProfileStack(makeProfile: string, userProfile: string | undefined, repos: RepositorySet, dirs: DirCache = new DirCache()): ProfileEntry[] {
  const stack: ProfileEntry[] = [];
  const eapiCache = new Map<string, EapiFeatures>();
  // a directory reached through two parents (a common mix-in) is read once
  const parentTexts = new Map<string, string | undefined>();

  const eapiOf = (dir: string, user: boolean): EapiFeatures => {
    let f = eapiCache.get(dir);
    if (f) return f;
    const file = dirs.entry(dir, "eapi");
    const text = file ? readFileIfExists(file) : undefined;
    if (text === undefined) f = user ? USER_CONFIG_EAPI : eapiFeatures("0")!;
    else {
      const name = text.split("\n")[0]!.trim();
      const found = eapiFeatures(name);
      if (!found) throw new OuzoError("BAD_PROFILE_EAPI", `unsupported EAPI '${name}' in profile`, { file, line: 1 });
      f = user ? USER_CONFIG_EAPI : found;
    }
    eapiCache.set(dir, f);
    return f;
  };

  const expand = (dir: string, ancestry: string[], user: boolean, from?: { file: string; line: number }) => {
    // Paths are normalised, not resolved: resolving symlinks costs a stat per path component,
    // for 75 entries on every run. make.profile itself may be a symlink (resolved by the caller).
    const real = path.resolve(dir);
    const names = dirs.list(real);
    if (!names) {
      throw new OuzoError("MISSING_PARENT", fs.existsSync(real) ? `profile '${dir}' is not a directory` : `profile directory '${dir}' does not exist`, from ?? { file: dir });
    }
    if (ancestry.length > 64) throw new OuzoError("PARENT_CYCLE", `profile parents nest more than 64 deep at ${real}`, from ?? { file: real });
    if (ancestry.includes(real)) {
      throw new OuzoError("PARENT_CYCLE", `parent cycle: ${[...ancestry.slice(ancestry.indexOf(real)), real].join(" -> ")}`, from ?? { file: dir });
    }
    const repo = user ? undefined : repos.containing(real);
    const formats = repo?.profileFormats ?? [];
    const eapi = eapiOf(real, user);
    const parentFile = `${real}/parent`;
    let parentText = parentTexts.get(real);
    if (parentText === undefined && names.has("parent")) parentTexts.set(real, (parentText = readFileIfExists(parentFile)));
    if (parentText !== undefined) {
      const lines = parentText.split("\n");
      let any = false;
      lines.forEach((raw, idx) => {
        const line = raw.replace(/#.*/, "").trim();
        if (!line) return;
        any = true;
        const where = { file: parentFile, line: idx + 1 };
        expand(resolveParent(line, real, repo, user || formats.includes("portage-2"), repos, where), [...ancestry, real], false, where);
      });
      if (!any) throw new OuzoError("EMPTY_PARENT", "parent file is empty", { file: parentFile });
    }
    stack.push({
      dir: real,
      repo,
      eapi,
      allowDirectories: user || formats.includes("portage-1") || formats.includes("portage-2") || eapi.profileFileDirectories,
      allowRepoAtoms: user || formats.includes("profile-repo-deps"),
      user,
    });
  };

  expand(resolveLink(makeProfile), [], true);
  if (userProfile && dirs.list(userProfile)) expand(userProfile, [], true);
  return stack;
}

/** make.profile may be a symlink (Gentoo style): resolve it, relative to where it lives. */
function resolveLink(p: string): string {
  noteInput(p);
  try {
    return fs.lstatSync(p).isSymbolicLink() ? path.resolve(path.dirname(p), fs.readlinkSync(p)) : p;
  } catch {
    return p;
  }
}

function resolveParent(line: string, dir: string, repo: Repository | undefined, allowRepoRefs: boolean, repos: RepositorySet, where: { file: string; line: number }): string {
  if (line.startsWith("/")) return line;
  const m = REPO_PARENT_RE.exec(line);
  if (m) {
    if (!allowRepoRefs) throw new OuzoError("BAD_PARENT", `'${line}': repository references need profile-formats = portage-2`, where);
    const target = m[1] === undefined ? repo : repos.get(m[1]);
    if (!target) {
      throw new OuzoError("BAD_PARENT", m[1] === undefined ? `'${line}': the directory is in no configured repository` : `'${line}': repository '${m[1]}' is not configured`, where);
    }
    return path.join(target.location, "profiles", m[2]!);
  }
  return path.resolve(dir, line);
}
