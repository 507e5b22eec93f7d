import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Builds real git repositories shaped like a Funtoo/MARK release: kit repositories with branches
 * and histories, and a meta-repo branch whose metadata pins them. Used by the demo (npm start),
 * the tests and the sync benchmark; nothing here runs during a user's sync.
 */
const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "ouzo fixtures",
  GIT_AUTHOR_EMAIL: "fixtures@ouzo.invalid",
  GIT_COMMITTER_NAME: "ouzo fixtures",
  GIT_COMMITTER_EMAIL: "fixtures@ouzo.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  LC_ALL: "C",
};

export function git(dir: string, args: string[], input?: string): string {
  return execFileSync("git", ["-C", dir, "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", ...args], { env: ENV, encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"], maxBuffer: 1 << 28 }).trim();
}

let clock = 1_700_000_000;
function commitEnv(): Record<string, string> {
  clock += 60;
  return { GIT_AUTHOR_DATE: `${clock} +0000`, GIT_COMMITTER_DATE: `${clock} +0000` };
}

export function initRepo(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, ["init", "--quiet"]);
}

/** Commit everything in the work tree on the current branch; returns the commit id. */
export function commitAll(dir: string, message: string): string {
  git(dir, ["add", "--all"]);
  execFileSync("git", ["-C", dir, "-c", "commit.gpgsign=false", "commit", "--quiet", "--allow-empty", "-m", message], { env: { ...ENV, ...commitEnv() } });
  return git(dir, ["rev-parse", "HEAD"]);
}

export interface KitBranchSpec {
  readonly name: string;
  readonly stability?: string;
}

export interface KitSpec {
  readonly name: string;
  /** A directory copied as the first commit of every branch (for example a demo kit). */
  readonly tree?: string;
  readonly branches: readonly KitBranchSpec[];
  /** Extra commits on each branch after the first. */
  readonly extraCommits?: number;
}

export interface BuiltKit {
  readonly name: string;
  /** branch → commits, oldest first */
  readonly commits: ReadonlyMap<string, readonly string[]>;
  readonly dir: string;
}

/** A kit mirror: every branch starts from the tree, then gets `extraCommits` small commits. */
export function buildKitMirror(mirrors: string, spec: KitSpec): BuiltKit {
  const dir = path.join(mirrors, spec.name);
  initRepo(dir);
  const commits = new Map<string, string[]>();
  let first = true;
  for (const b of spec.branches) {
    if (first) git(dir, ["checkout", "--quiet", "-b", b.name]);
    else git(dir, ["checkout", "--quiet", "--orphan", b.name]);
    if (!first) git(dir, ["rm", "-rf", "--quiet", "--ignore-unmatch", "."]);
    first = false;
    if (spec.tree) fs.cpSync(spec.tree, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}.git`) });
    fs.writeFileSync(path.join(dir, "ChangeLog"), `${spec.name} ${b.name}\n`);
    const list = [commitAll(dir, `${spec.name}: ${b.name} starts`)];
    for (let i = 1; i <= (spec.extraCommits ?? 0); i++) {
      fs.appendFileSync(path.join(dir, "ChangeLog"), `change ${i} on ${b.name}\n`);
      list.push(commitAll(dir, `${spec.name}: change ${i} on ${b.name}`));
    }
    commits.set(b.name, list);
  }
  return { name: spec.name, commits, dir };
}

export interface ReleaseKit {
  readonly name: string;
  /** Branches legal in this release with their stability rating. */
  readonly stability: Readonly<Record<string, string>>;
  /** Default branch first. */
  readonly defs: readonly string[];
  /** branch → pin (commit id, or the object form with a clone depth) */
  readonly pins: Readonly<Record<string, string | { sha1: string; depth: number }>>;
}

/** Write a meta-repo commit on `branch` describing the release (metadata version 11). */
export function commitMetaRepo(dir: string, branch: string, kits: readonly ReleaseKit[], extra: { defaultRelease?: string } = {}): string {
  if (!fs.existsSync(path.join(dir, ".git"))) initRepo(dir);
  const branches = git(dir, ["branch", "--list", branch]);
  if (!branches) {
    const hasCommits = !!git(dir, ["rev-list", "--all", "--max-count=1"]);
    git(dir, ["checkout", "--quiet", ...(hasCommits ? ["--orphan"] : ["-b"]), branch]);
    if (hasCommits) git(dir, ["rm", "-rf", "--quiet", "--ignore-unmatch", "."]);
  } else git(dir, ["checkout", "--quiet", branch]);
  const info = {
    kit_order: kits.map((k) => k.name),
    kit_settings: Object.fromEntries(kits.map((k) => [k.name, { stability: k.stability, type: "auto" }])),
    release_defs: Object.fromEntries(kits.map((k) => [k.name, k.defs])),
    release_info: { required: [{ ego: "2.7.2" }], version: 11, ...(extra.defaultRelease ? { default: extra.defaultRelease } : {}) },
  };
  fs.mkdirSync(path.join(dir, "metadata"), { recursive: true });
  fs.writeFileSync(path.join(dir, "metadata", "kit-info.json"), JSON.stringify(info, null, 2) + "\n");
  fs.writeFileSync(path.join(dir, "metadata", "kit-sha1.json"), JSON.stringify(Object.fromEntries(kits.map((k) => [k.name, k.pins])), null, 1) + "\n");
  fs.writeFileSync(path.join(dir, "metadata", "version.json"), JSON.stringify(info.release_info) + "\n");
  fs.writeFileSync(path.join(dir, "README.rst"), `meta-repo ${branch}\n`);
  return commitAll(dir, `release ${branch}`);
}
