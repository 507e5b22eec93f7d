import { spawn, spawnSync } from "node:child_process";
import { OuzoError } from "./errors.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program to completion, capturing output. Never goes through a shell. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; uid?: number; gid?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, uid: opts.uid, gid: opts.gid, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => reject(e));
    child.on("close", (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
    if (child.stdin) {
      // the program may exit without reading its input
      child.stdin.on("error", () => {});
      child.stdin.end(opts.input);
    }
  });
}

const checked = new Map<string, boolean>();

/** Check an external program ouzo needs is on PATH, with a clear message if not. */
export function requireProgram(name: string, why: string): void {
  if (checked.get(name)) return;
  const r = spawnSync(name, ["--version"], { stdio: "ignore" });
  if (r.error) {
    throw new OuzoError("MISSING_PROGRAM", `'${name}' is required (${why}) but was not found on PATH; install it first`);
  }
  checked.set(name, true);
}
