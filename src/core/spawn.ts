import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { OuzoError } from "./errors.js";
import { setChildStopper } from "./interrupt.js";

/** The programs run() is waiting for: one set for the process, whichever bundled copy of this module runs them. */
const running: Set<ChildProcess> = ((globalThis as Record<symbol, Set<ChildProcess> | undefined>)[Symbol.for("ouzo.running")] ??= new Set());
let forwarding = false;

/**
 * A signal that ends ouzo ends the programs it runs too: sent to ouzo alone (`kill`, a service
 * manager, timeout(1)) it would leave them writing on, into the staging clone or work tree that
 * the next run cleans up or rolls back. They get the signal and are waited for (5 s at most)
 * before the interrupted work cleans up (core/interrupt.ts); then ouzo ends by the signal.
 */
function forwardSignals(): void {
  if (forwarding) return;
  forwarding = true;
  setChildStopper(async (signal) => {
    const exits = [...running].map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill(signal);
    }));
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000).unref())]);
  });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program to completion, capturing output. Never goes through a shell. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; uid?: number; gid?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    forwardSignals();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, uid: opts.uid, gid: opts.gid, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    running.add(child);
    child.on("exit", () => running.delete(child));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      running.delete(child);
      reject(e);
    });
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
