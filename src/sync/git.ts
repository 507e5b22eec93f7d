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
  ) {}

  static check(): void {
    requireProgram("git", "to sync the meta-repo and kits");
  }

  static env(): NodeJS.ProcessEnv {
    // No prompts, no user configuration that could change results, C messages.
    return { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", GIT_CONFIG_NOSYSTEM: "1", GIT_ADVICE: "0" };
  }

  private exec(args: string[]) {
    if (!this.as) return run("git", ["-C", this.dir, ...args], { env: Git.env() });
    const env = Git.env();
    delete env.HOME;
    if (this.globalConfig) env.GIT_CONFIG_GLOBAL = this.globalConfig;
    return run("git", ["-C", this.dir, ...args], { env, uid: this.as.uid, gid: this.as.gid });
  }

  async git(args: string[], what: string): Promise<string> {
    const r = await this.exec(args);
    if (r.code !== 0) {
      const msg = r.stderr.trim().split("\n").filter(Boolean).pop() ?? `exit status ${r.code}`;
      throw new OuzoError("GIT_FAILED", `${what}: ${msg}`);
    }
    return r.stdout;
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

  async readFileAt(commit: string, file: string): Promise<string | undefined> {
    const r = await this.tryGit(["show", `${commit}:${file}`]);
    return r.ok ? r.out : undefined;
  }
}
