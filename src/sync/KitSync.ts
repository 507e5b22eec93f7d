import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { onInterrupt } from "../core/interrupt.js";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile, listDir, readFileIfExists } from "../core/fsutil.js";
import type { Reporter } from "../core/reporter.js";
import { silentReporter } from "../core/reporter.js";
import { type EgoConf, metaRepoBranch, repoUrl } from "../config/egoConf.js";
import { Git } from "./git.js";
import { type Identity, lookupUser, mkdirOwned, syncIdentity } from "./identity.js";
import { chooseKits, type KitChoice, parseRelease, type Release } from "./metaRepo.js";

export interface KitSyncOptions {
  readonly ego: EgoConf;
  /** Sync into this directory (meta-repo there, kits in DIR/kits); nothing else is changed. */
  readonly dest?: string;
  /** No fetching: check out pins already present. */
  readonly offline?: boolean;
  /** Kits fetched at once. */
  readonly jobs?: number;
  /** Clone local mirrors on the same file system by hard-linking their objects (default true). */
  readonly link?: boolean;
  /** Where the switch journal lives (ROOT/var/lib/ouzo). */
  readonly stateDir: string;
  /** The system being synced (--root): its passwd file names sync_user. */
  readonly root?: string;
  readonly reporter?: Reporter;
}

export interface KitOutcome {
  readonly kit: string;
  readonly branch: string;
  readonly stability: string;
  readonly path: string;
  readonly oldCommit: string | undefined;
  readonly newCommit: string;
}

export interface SyncResult {
  readonly release: string;
  readonly metaRepoBranch: string;
  readonly metaRepo: { readonly path: string; readonly oldCommit: string | undefined; readonly newCommit: string };
  readonly kitsPath: string;
  readonly kits: readonly KitOutcome[];
  readonly skipped: readonly string[];
  readonly warnings: readonly string[];
  readonly releaseData: Release;
}

interface Journal {
  readonly metaRepo: { path: string; old: string | undefined; branch: string; created: boolean };
  readonly kits: { kit: string; path: string; old: string | undefined; created: boolean }[];
}

const STAGING = ".ouzo-staging";

/** The directory a sync_base_url (or repository URL) names on this machine: a path or a file:// URL. */
function localPath(url: string): string | undefined {
  if (url.startsWith("/")) return url;
  try {
    return url.startsWith("file://") ? fileURLToPath(url) : undefined;
  } catch {
    return undefined; // file://host/…: not this machine
  }
}

/** A directory that is absent or empty can be cloned into; anything else must be a git repository. */
function isEmptyOrAbsent(dir: string): boolean {
  return (listDir(dir)?.length ?? 0) === 0;
}

/** Run `fn` over items with at most `limit` at once; every item runs, failures are collected. */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: "fulfilled", value: await fn(items[i]!) };
      } catch (e) {
        results[i] = { status: "rejected", reason: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * ouzo's transactional replacement for ego's meta-repo and kit sync (meta-repo.md §5.2): fetch
 * everything, verify every pin, record the current commits, switch, verify, and roll everything
 * back on any failure.
 */
export class KitSync {
  private readonly reporter: Reporter;
  readonly metaRepoPath: string;
  readonly kitsPath: string;
  private readonly journalFile: string;
  /** Who git runs as (root drops to the meta-repo's owner or sync_user). */
  private readonly identity: Identity | undefined;
  private readonly identityWarning: string | undefined;

  constructor(private readonly opts: KitSyncOptions) {
    Git.check();
    this.reporter = opts.reporter ?? silentReporter;
    this.metaRepoPath = opts.dest ? path.resolve(opts.dest) : opts.ego.metaRepoPath;
    this.kitsPath = opts.dest ? path.join(this.metaRepoPath, "kits") : opts.ego.kitsPath;
    this.journalFile = path.join(opts.stateDir, "sync-journal.json");
    const who = syncIdentity({ metaRepoPath: this.metaRepoPath, root: opts.root ?? "/", syncUser: opts.ego.syncUser, syncUserSet: opts.ego.syncUserSet, egoFile: opts.ego.file });
    this.identity = who.identity;
    this.identityWarning = who.warning;
  }

  private gitConfig: string | undefined;

  private gitAt(dir: string): Git {
    return new Git(dir, this.identity, this.gitConfig);
  }

  /**
   * git to read a repository of the synced tree. Root runs git as the tree's owner (gitAt); any
   * other user (ouzo kits, ouzo profile) runs it as itself, and git refuses a repository another
   * user owns. One owned by root or by sync_user, the users ego.conf syncs as, is trusted.
   */
  private readerAt(dir: string): Git {
    const uid = process.getuid?.();
    let owner: number;
    try {
      owner = fs.statSync(dir).uid;
    } catch {
      return this.gitAt(dir);
    }
    if (uid === undefined || uid === 0 || owner === uid) return this.gitAt(dir);
    const syncUser = lookupUser(path.join(this.opts.root ?? "/", "etc", "passwd"), this.opts.ego.syncUser);
    return new Git(dir, undefined, undefined, owner === 0 || owner === syncUser?.uid);
  }

  /**
   * git refuses repositories another user owns. A sync that drops from root reads local mirrors
   * (sync_base_url a path or file:// URL) that root or a mirror job usually owns: the mirrors the
   * administrator named are trusted, through a global configuration file only git running as the
   * sync user reads.
   */
  private trustLocalMirrors(): void {
    if (!this.identity || localPath(this.opts.ego.syncBaseUrl) === undefined) return;
    this.gitConfig = path.join(this.opts.stateDir, "git-sync-user.conf");
    atomicWriteFile(this.gitConfig, `# written by ouzo sync: the mirrors of ${this.opts.ego.file} are local and trusted\n[safe]\n\tdirectory = *\n`, 0o644);
  }

  async sync(): Promise<SyncResult> {
    // Interrupted while fetching: nothing was switched, so the staging clones (hundreds of MB on a
    // first sync) go now rather than at the next sync. While switching: the journal tells the next
    // sync what to roll back.
    const state = { switching: false };
    const cleared = onInterrupt(() => {
      if (state.switching) return `it was switching kits: the next 'ouzo sync' first rolls them back to the commits recorded in ${this.journalFile}, then syncs`;
      this.removeStaging();
      return "nothing was switched: every kit stays at its previous commit, and the partial clones were removed";
    });
    try {
      return await this.syncSteps(state);
    } catch (e) {
      // failed before switching (no network, a bad meta-repo, a kit that cannot be fetched):
      // nothing moved, and the partial clones are of no use to the next sync, which starts afresh
      if (!state.switching) this.removeStaging();
      throw e;
    } finally {
      cleared();
    }
  }

  private removeStaging(): void {
    fs.rmSync(path.join(this.kitsPath, STAGING), { recursive: true, force: true });
    fs.rmSync(`${this.metaRepoPath}${STAGING}`, { recursive: true, force: true });
  }

  private async syncSteps(state: { switching: boolean }): Promise<SyncResult> {
    await this.recoverInterruptedSwitch();
    const warnings: string[] = [];
    if (this.identityWarning) warnings.push(this.identityWarning);
    if (this.identity) this.reporter.report({ kind: "info", message: `git runs as ${this.identity.name} (uid ${this.identity.uid}, gid ${this.identity.gid})` });
    this.trustLocalMirrors();
    const meta = await this.fetchMetaRepo(warnings);
    const release = meta.release;
    const rel = await this.readRelease(meta.git, meta.newCommit, release);
    const choice = chooseKits(rel, this.opts.ego);
    warnings.push(...choice.warnings);
    const unchangedMeta = meta.oldCommit === meta.newCommit && !meta.staged;

    // 1. Fetch every kit (nothing in a work tree moves yet).
    const t0 = Date.now();
    const task = "sync kits";
    this.reporter.report({ kind: "started", task, total: choice.kits.length });
    let done = 0;
    const fetched = await inParallel(choice.kits, this.opts.jobs ?? 4, async (k) => {
      const r = await this.fetchKit(k, unchangedMeta);
      this.reporter.report({ kind: "progress", task, done: ++done, total: choice.kits.length, item: `${k.kit} ${r.staged ? "cloned" : r.fetched ? "fetched" : "up to date"}` });
      return r;
    });
    this.reporter.report({ kind: "finished", task });
    this.reporter.report({ kind: "info", message: `fetched ${choice.kits.length} kits in ${((Date.now() - t0) / 1000).toFixed(2)} s` });
    const failures = fetched.flatMap((r, i) => (r.status === "rejected" ? [`${choice.kits[i]!.kit} (branch ${choice.kits[i]!.branch}, commit ${choice.kits[i]!.sha1}): ${(r.reason as Error).message}`] : []));
    const prepared = fetched.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    if (failures.length) {
      // the staging clones go with the failure (sync() removes them)
      throw new OuzoError("SYNC_FETCH_FAILED", `sync failed before changing anything: ${failures.join("; ")}`);
    }

    // 2. Record where everything is, then switch; any failure rolls everything back.
    const moving = prepared.filter((p) => p.staged || p.oldCommit !== p.choice.sha1);
    if (!moving.length && unchangedMeta) {
      return this.result(result0(release, meta), prepared, choice.skipped, warnings, rel);
    }
    const journal: Journal = {
      metaRepo: { path: this.metaRepoPath, old: meta.oldCommit, branch: meta.branch, created: meta.staged },
      kits: prepared.map((p) => ({ kit: p.choice.kit, path: p.dir, old: p.oldCommit, created: p.staged })),
    };
    atomicWriteFile(this.journalFile, JSON.stringify(journal, null, 1));
    state.switching = true;
    try {
      const t1 = Date.now();
      // checkouts write thousands of files each: run them in parallel too
      const switchTask = "check out kits";
      this.reporter.report({ kind: "started", task: switchTask, total: moving.length });
      let switchedCount = 0;
      const switched = await inParallel(moving, this.opts.jobs ?? 4, async (p) => {
        await this.switchKit(p);
        this.reporter.report({ kind: "progress", task: switchTask, done: ++switchedCount, total: moving.length, item: `${p.choice.kit} at ${p.choice.sha1.slice(0, 12)}` });
      });
      this.reporter.report({ kind: "finished", task: switchTask });
      const failed = switched.flatMap((r, i) => (r.status === "rejected" ? [`${moving[i]!.choice.kit}: ${(r.reason as Error).message}`] : []));
      if (failed.length) throw new OuzoError("SYNC_SWITCH_FAILED", failed.join("; "));
      if (!unchangedMeta) await this.switchMetaRepo(meta);
      this.reporter.report({ kind: "info", message: `checked out ${moving.length} kits in ${((Date.now() - t1) / 1000).toFixed(2)} s` });
      const wrong = prepared.filter((p) => Git.headOf(p.dir) !== p.choice.sha1);
      if (wrong.length) throw new OuzoError("SYNC_VERIFY_FAILED", `after the switch, HEAD is not the pin for: ${wrong.map((p) => `${p.choice.kit} (wanted ${p.choice.sha1}, have ${Git.headOf(p.dir) ?? "nothing"})`).join(", ")}`);
    } catch (e) {
      await this.rollback(journal);
      fs.rmSync(this.journalFile, { force: true });
      // rolled back: what was cloned but not yet switched in is of no more use
      this.removeStaging();
      const err = e as Error;
      throw new OuzoError(err instanceof OuzoError ? err.code : "SYNC_SWITCH_FAILED", `${err.message}; every kit and the meta-repo were rolled back`);
    }
    fs.rmSync(this.journalFile, { force: true });
    this.removeStaging();

    return this.result(result0(release, meta), prepared, choice.skipped, warnings, rel);
  }

  private result(head: Pick<SyncResult, "release" | "metaRepoBranch" | "metaRepo">, prepared: PreparedKit[], skipped: string[], warnings: string[], rel: Release): SyncResult {
    return {
      ...head,
      kitsPath: this.kitsPath,
      kits: prepared.map((p) => ({ kit: p.choice.kit, branch: p.choice.branch, stability: p.choice.stability, path: p.dir, oldCommit: p.oldCommit, newCommit: p.choice.sha1 })),
      skipped,
      warnings,
      releaseData: rel,
    };
  }

  /** Read the release of the meta-repo as it is checked out now (for `ouzo kits` and profiles). */
  async currentRelease(): Promise<{ release: Release; choice: KitChoice[]; skipped: string[] }> {
    if (!Git.isRepo(this.metaRepoPath)) throw new OuzoError("NO_META_REPO", `no meta-repo at ${this.metaRepoPath}; run 'ouzo sync' first`);
    const head = Git.headOf(this.metaRepoPath);
    if (!head) throw new OuzoError("NO_META_REPO", `the meta-repo at ${this.metaRepoPath} has no commit checked out`);
    const rel = await this.readRelease(this.readerAt(this.metaRepoPath), head, this.opts.ego.release);
    const c = chooseKits(rel, this.opts.ego);
    return { release: rel, choice: c.kits, skipped: c.skipped };
  }

  // --- meta-repo ---

  private async fetchMetaRepo(warnings: string[]) {
    const ego = this.opts.ego;
    const dir = this.metaRepoPath;
    const url = repoUrl(ego.syncBaseUrl, "meta-repo");
    let release = ego.release;
    if (!release && Git.isRepo(dir)) {
      const head = Git.headOf(dir);
      const info = head ? await this.gitAt(dir).readFileAt(head, "metadata/kit-info.json") : undefined;
      try {
        release = info ? ((JSON.parse(info).release_info ?? {}).default as string | undefined) : undefined;
      } catch {
        release = undefined;
      }
    }
    if (!release) {
      release = "1.2";
      warnings.push(`no release in ${ego.file}; using ego's default '1.2' (meta-repo branch master)`);
    }
    const branch = metaRepoBranch(release);
    const ref = `refs/remotes/origin/${branch}`;
    if (Git.isRepo(dir)) {
      const git = this.gitAt(dir);
      const oldCommit = Git.headOf(dir);
      if (!this.opts.offline) {
        await this.setRemote(git, url);
        await git.git(["fetch", "--quiet", "--no-tags", "origin", `+refs/heads/${branch}:${ref}`], `meta-repo: fetching branch '${branch}' from ${url}`);
      }
      const newCommit = (await git.tryGit(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`])).out.trim();
      if (!newCommit) throw new OuzoError("SYNC_META_REPO", `meta-repo: branch '${branch}' has never been fetched${this.opts.offline ? " (and --offline forbids fetching)" : ""}`);
      return { git, dir, branch, release, oldCommit, newCommit, staged: false, stagingDir: undefined as string | undefined };
    }
    if (!isEmptyOrAbsent(dir) && !fs.existsSync(path.join(dir, "kits"))) {
      throw new OuzoError("SYNC_META_REPO", `${dir} exists but is not a git repository`);
    }
    if (this.opts.offline) throw new OuzoError("SYNC_META_REPO", `no meta-repo at ${dir}, and --offline forbids cloning one`);
    const staging = `${dir}${STAGING}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(staging), { recursive: true });
    mkdirOwned(staging, this.identity);
    await this.gitAt(staging).git(["clone", "--quiet", "--no-checkout", "--single-branch", "--no-tags", "-b", branch, url, staging], `meta-repo: cloning branch '${branch}' from ${url}`);
    const git = this.gitAt(staging);
    await git.git(["update-ref", ref, "HEAD"], "meta-repo: recording the fetched branch");
    const newCommit = (await git.git(["rev-parse", "HEAD"], "meta-repo")).trim();
    return { git, dir, branch, release, oldCommit: undefined, newCommit, staged: true, stagingDir: staging as string | undefined };
  }

  private async readRelease(git: Git, commit: string, release: string | undefined): Promise<Release> {
    const kitInfo = await git.readFileAt(commit, "metadata/kit-info.json");
    const kitSha1 = await git.readFileAt(commit, "metadata/kit-sha1.json");
    if (kitInfo === undefined || kitSha1 === undefined) throw new OuzoError("BAD_META_REPO", `meta-repo commit ${commit} has no metadata/kit-info.json or metadata/kit-sha1.json`);
    return parseRelease({ kitInfo, kitSha1, version: await git.readFileAt(commit, "metadata/version.json") }, release);
  }

  private async switchMetaRepo(meta: Awaited<ReturnType<KitSync["fetchMetaRepo"]>>): Promise<void> {
    if (meta.staged) {
      mkdirOwned(meta.dir, this.identity);
      fs.renameSync(path.join(meta.stagingDir!, ".git"), path.join(meta.dir, ".git"));
      fs.rmSync(meta.stagingDir!, { recursive: true, force: true });
    }
    await this.gitAt(meta.dir).git(["checkout", "--quiet", "--force", "-B", meta.branch, meta.newCommit], `meta-repo: checking out ${meta.newCommit}`);
  }

  // --- kits ---

  private async setRemote(git: Git, url: string): Promise<void> {
    const cur = await git.tryGit(["remote", "get-url", "origin"]);
    if (!cur.ok) await git.git(["remote", "add", "origin", url], "adding remote");
    else if (cur.out.trim() !== url) await git.git(["remote", "set-url", "origin", url], "setting remote");
  }

  /**
   * A mirror on this machine, on the file system the kit goes to, whose files git can hard-link
   * (git runs as root, or as the mirror's owner): its directory, else undefined.
   */
  private linkableMirror(url: string, staging: string): string | undefined {
    if (this.opts.link === false) return undefined;
    const dir = localPath(url);
    if (!dir) return undefined;
    try {
      const mirror = fs.statSync(path.join(dir, fs.existsSync(path.join(dir, ".git")) ? ".git" : "objects"));
      if (mirror.dev !== fs.statSync(staging).dev) return undefined;
      // Linking another user's files needs root (fs.protected_hardlinks); git would copy instead.
      const uid = this.identity?.uid ?? process.getuid?.();
      if (uid !== 0 && mirror.uid !== uid) return undefined;
      return dir;
    } catch {
      return undefined;
    }
  }

  private async fetchKit(k: KitChoice, unchangedMeta: boolean): Promise<PreparedKit> {
    const dir = path.join(this.kitsPath, k.kit);
    const url = repoUrl(this.opts.ego.syncBaseUrl, k.kit);
    const depth = k.depth ?? this.opts.ego.kitsDepth;
    const ref = `refs/remotes/origin/${k.branch}`;
    if (Git.isRepo(dir)) {
      const git = this.gitAt(dir);
      const oldCommit = Git.headOf(dir);
      // No-op fast path: nothing can have moved when the release did not change and HEAD is the pin.
      if (unchangedMeta && oldCommit === k.sha1) return { choice: k, dir, git, oldCommit, staged: false, fetched: false };
      if (!(await git.hasCommit(k.sha1))) {
        if (this.opts.offline) throw new OuzoError("SYNC_PIN_MISSING", "the pinned commit has not been fetched (and --offline forbids fetching)");
        await this.setRemote(git, url);
        const shallow = await git.isShallow();
        await git.git(["fetch", "--quiet", "--no-tags", ...(shallow && depth > 0 ? [`--depth=${depth}`] : []), "origin", `+refs/heads/${k.branch}:${ref}`], `fetching branch '${k.branch}' from ${url}`);
        await this.ensurePin(git, k, ref);
      }
      return { choice: k, dir, git, oldCommit, staged: false, fetched: true };
    }
    if (!isEmptyOrAbsent(dir)) throw new OuzoError("SYNC_NOT_GIT", `${dir} exists but is not a git repository`);
    if (this.opts.offline) throw new OuzoError("SYNC_PIN_MISSING", `kit is not cloned yet (and --offline forbids fetching)`);
    const staging = path.join(this.kitsPath, STAGING, k.kit);
    fs.rmSync(staging, { recursive: true, force: true });
    mkdirOwned(staging, this.identity);
    const git = this.gitAt(staging);
    const local = this.linkableMirror(url, staging);
    // The clone checks out the branch in the staging directory, out of sight until the switch:
    // the pin is usually the branch's head, and then the switch is a rename (ego too leaves a
    // kit on its branch when the head is the pin).
    if (local) {
      // git's local clone: the mirror's object files are hard-linked, so nothing is packed,
      // transferred or copied and the whole history costs no disk; the pin is always reachable.
      // For this one command git reads the configured URL as the mirror's path (insteadOf), so
      // the clone keeps the URL of ego.conf as its remote with no second process.
      const viaPath = local !== url && !local.includes("=") ? ["-c", `url.${local}.insteadOf=${url}`] : [];
      await git.git([...viaPath, "clone", "--quiet", "--single-branch", "--no-tags", "-b", k.branch, viaPath.length ? url : local, staging], `cloning branch '${k.branch}' from ${local}`);
      if (local !== url && !viaPath.length) await git.git(["remote", "set-url", "origin", url], "setting remote");
    } else {
      await git.git(
        ["clone", "--quiet", "--single-branch", "--no-tags", ...(depth > 0 ? [`--depth=${depth}`] : []), "-b", k.branch, url, staging],
        `cloning branch '${k.branch}' from ${url}`,
      );
    }
    if (Git.headOf(staging) !== k.sha1) await this.ensurePin(git, k, ref);
    return { choice: k, dir, git, oldCommit: undefined, staged: true, fetched: true, stagingDir: staging };
  }

  /** Make sure the pinned commit is present: deepen a shallow history until it is, or fetch it by id. */
  private async ensurePin(git: Git, k: KitChoice, ref: string): Promise<void> {
    if (await git.hasCommit(k.sha1)) return;
    for (const n of [16, 128, 1024]) {
      if (!(await git.isShallow())) break;
      await git.git(["fetch", "--quiet", "--no-tags", `--deepen=${n}`, "origin", `+refs/heads/${k.branch}:${ref}`], `deepening branch '${k.branch}'`);
      if (await git.hasCommit(k.sha1)) return;
    }
    if (await git.isShallow()) {
      await git.git(["fetch", "--quiet", "--no-tags", "--unshallow", "origin", `+refs/heads/${k.branch}:${ref}`], `unshallowing branch '${k.branch}'`);
      if (await git.hasCommit(k.sha1)) return;
    }
    await git.tryGit(["fetch", "--quiet", "--no-tags", "origin", k.sha1]);
    if (await git.hasCommit(k.sha1)) return;
    throw new OuzoError("SYNC_PIN_MISSING", `the pinned commit is not on branch '${k.branch}' upstream`);
  }

  private async switchKit(p: PreparedKit): Promise<void> {
    if (p.staged) {
      if (fs.existsSync(p.dir)) fs.rmdirSync(p.dir); // an empty directory (a meta-repo gitlink)
      mkdirOwned(path.dirname(p.dir), this.identity);
      fs.renameSync(p.stagingDir!, p.dir);
      if (Git.headOf(p.dir) === p.choice.sha1) return;
    }
    await this.gitAt(p.dir).git(["checkout", "--quiet", "--force", "--detach", p.choice.sha1], `${p.choice.kit}: checking out ${p.choice.sha1}`);
  }

  /** Put every kit and the meta-repo back where the journal says they were. */
  private async rollback(j: Journal): Promise<void> {
    const problems: string[] = [];
    for (const k of j.kits) {
      try {
        if (k.created) fs.rmSync(k.path, { recursive: true, force: true });
        else if (k.old) await this.gitAt(k.path).git(["checkout", "--quiet", "--force", "--detach", k.old], `${k.kit}: rolling back`);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    try {
      if (j.metaRepo.created) fs.rmSync(path.join(j.metaRepo.path, ".git"), { recursive: true, force: true });
      else if (j.metaRepo.old) await this.gitAt(j.metaRepo.path).git(["checkout", "--quiet", "--force", "-B", j.metaRepo.branch, j.metaRepo.old], "meta-repo: rolling back");
    } catch (e) {
      problems.push((e as Error).message);
    }
    if (problems.length) this.reporter.report({ kind: "warning", code: "ROLLBACK", message: `rollback incomplete: ${problems.join("; ")}` });
  }

  /** A journal left by an interrupted switch: roll back to the commits it recorded. */
  private async recoverInterruptedSwitch(): Promise<void> {
    const text = readFileIfExists(this.journalFile);
    if (text === undefined) return;
    this.reporter.report({ kind: "warning", code: "SYNC_RECOVER", message: "a previous sync was interrupted while switching; rolling back to the commits it recorded" });
    await this.rollback(JSON.parse(text) as Journal);
    fs.rmSync(this.journalFile, { force: true });
  }
}

function result0(release: string, meta: { branch: string; dir: string; oldCommit: string | undefined; newCommit: string }): Pick<SyncResult, "release" | "metaRepoBranch" | "metaRepo"> {
  return { release, metaRepoBranch: meta.branch, metaRepo: { path: meta.dir, oldCommit: meta.oldCommit, newCommit: meta.newCommit } };
}

interface PreparedKit {
  readonly choice: KitChoice;
  readonly dir: string;
  readonly git: Git;
  readonly oldCommit: string | undefined;
  readonly staged: boolean;
  readonly fetched: boolean;
  readonly stagingDir?: string;
}
