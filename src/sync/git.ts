import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { requireProgram, run } from "../core/spawn.js";
import type { Identity } from "./identity.js";

/**
 * The system git, driven with plain arguments; errors carry git's own last line. With an
 * identity, git runs as that user, without HOME (as ego's sync children do).
 */
export class Git {
  constructor(
    readonly dir: string,
    private readonly as?: Identity,
    /** A global git configuration file for git running as `as` (its HOME is removed). */
    private readonly globalConfig?: string,
    /** Read `dir` although another user owns it (git refuses that by default): see KitSync.readerAt. */
    private readonly trusted = false,
  ) {}

  static check(): void {
    requireProgram("git", "to sync the meta-repo and kits");
  }

  static env(): NodeJS.ProcessEnv {
    // No prompts, no user configuration that could change results, C messages.
    return { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", GIT_CONFIG_NOSYSTEM: "1", GIT_ADVICE: "0" };
  }

  private exec(args: string[]) {
    const argv = ["-C", this.dir, ...(this.trusted ? ["-c", `safe.directory=${this.dir}`] : []), ...args];
    if (!this.as) return run("git", argv, { env: Git.env() });
    const env = Git.env();
    delete env.HOME;
    if (this.globalConfig) env.GIT_CONFIG_GLOBAL = this.globalConfig;
    return run("git", argv, { env, uid: this.as.uid, gid: this.as.gid });
  }

  async git(args: string[], what: string): Promise<string> {
    const r = await this.exec(args);
    if (r.code !== 0) throw new OuzoError("GIT_FAILED", `${what}: ${Git.errorOf(r.stderr, r.code)}`);
    return r.stdout;
  }

  /**
   * What went wrong, in git's words: its `fatal:` or `error:` line (hints and advice may follow
   * it, such as the `git config --global --add safe.directory …` it suggests), else its last line.
   */
  static errorOf(stderr: string, code: number): string {
    const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
    const error = lines.find((l) => /^(fatal|error): /.test(l));
    return error ? error.replace(/^(fatal|error): /, "") : (lines.pop() ?? `exit status ${code}`);
  }

  async tryGit(args: string[]): Promise<{ ok: boolean; out: string }> {
    const r = await this.exec(args);
    return { ok: r.code === 0, out: r.stdout };
  }

  /** Is `dir` the top of a git work tree (not just inside one)? */
  static isRepo(dir: string): boolean {
    return fs.existsSync(path.join(dir, ".git"));
  }

  /** HEAD's commit, read from the files (no process: this is on the no-op path). */
  static headOf(dir: string): string | undefined {
    try {
      const gitDir = path.join(dir, ".git");
      const head = fs.readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
      if (/^[0-9a-f]{40}$/.test(head)) return head;
      const ref = /^ref: (.+)$/.exec(head)?.[1];
      if (!ref) return undefined;
      try {
        return fs.readFileSync(path.join(gitDir, ref), "utf8").trim();
      } catch {
        const packed = fs.readFileSync(path.join(gitDir, "packed-refs"), "utf8");
        return new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m").exec(packed)?.[1];
      }
    } catch {
      return undefined;
    }
  }

  async hasCommit(sha: string): Promise<boolean> {
    return (await this.tryGit(["cat-file", "-e", `${sha}^{commit}`])).ok;
  }

  async isShallow(): Promise<boolean> {
    return fs.existsSync(path.join(this.dir, ".git", "shallow"));
  }

  /** A file as it is in a commit; undefined when the commit has no such file. */
  async readFileAt(commit: string, file: string): Promise<string | undefined> {
    const r = await this.exec(["show", `${commit}:${file}`]);
    if (r.code === 0) return r.stdout;
    if (/^fatal: path '.*' (does not exist in|exists on disk, but not in) /m.test(r.stderr)) return undefined;
    throw new OuzoError("GIT_FAILED", `${this.dir}: reading ${file} of commit ${commit}: ${Git.errorOf(r.stderr, r.code)}`);
  }
}
