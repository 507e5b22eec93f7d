// Running one phase: a fresh bash with phase.sh (build spec §1.7), optionally inside the sandbox
// helper, its output appended to the build log and handed to the caller, its has_version and
// best_version questions answered over a socket on fd 3, and its verdict read from the exit
// status AND ${T}/.ouzo_die (a die in a subshell or an external helper must fail the phase even
// when the caller of that subshell ignored its status).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { packagePath } from "../core/paths.js";
import type { Readable, Writable } from "node:stream";

/** The fd of the control channel inside the phase shell. */
export const CTL_FD = 3;

export type QueryKind = "has_version" | "best_version";
/** Which root a query is about (spec §3.13): r = ROOT, d = SYSROOT, b = BROOT. */
export type QueryRoot = "r" | "d" | "b";
/** Answer to one query: "yes"/"no" for has_version, "best <cpv>"/"none" for best_version, "error <msg>". */
export type QueryAnswer = string;

export interface PhaseRun {
  readonly phase: string;
  readonly env: Record<string, string>;
  readonly logFile: string;
  readonly dieFile: string;
  /** The argv that runs bash (the sandbox helper and its rules around it), or bash itself. */
  readonly wrap?: (argv: readonly string[]) => string[];
  /** Each chunk of the phase's output, after it went to the log (a terminal, a spinner, nothing). */
  readonly onOutput?: (chunk: Buffer) => void;
  readonly answer: (kind: QueryKind, root: QueryRoot, atom: string) => QueryAnswer;
  readonly cwd?: string;
  /** Run the phase as this user (FEATURES=userpriv). */
  readonly uid?: number;
  readonly gid?: number;
}

export interface PhaseResult {
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What died, as die or a helper recorded it. */
  readonly dieMessages: readonly string[];
  readonly ms: number;
}

export function phaseScript(): string {
  return packagePath("src", "ebuild", "phase.sh");
}

export function runPhase(run: PhaseRun): Promise<PhaseResult> {
  const started = performance.now();
  fs.rmSync(run.dieFile, { force: true });
  const bash = ["bash", phaseScript(), run.phase];
  const argv = run.wrap ? run.wrap(bash) : bash;
  const log = fs.openSync(run.logFile, "a");
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: run.env,
      cwd: run.cwd ?? "/",
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      uid: run.uid,
      gid: run.gid,
    });
    const sink = (chunk: Buffer) => {
      fs.writeSync(log, chunk);
      run.onOutput?.(chunk);
    };
    child.stdout!.on("data", sink);
    child.stderr!.on("data", sink);
    serveQueries(child.stdio[3] as unknown as Readable & Writable, run.answer);
    child.on("error", (e) => {
      fs.closeSync(log);
      reject(e);
    });
    child.on("close", (code, signal) => {
      fs.closeSync(log);
      const died = readDie(run.dieFile);
      resolve({ ok: code === 0 && !died.length, exitCode: code, signal, dieMessages: died, ms: performance.now() - started });
    });
  });
}

function readDie(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** One request per line: kind TAB root TAB atom; one answer line each. */
function serveQueries(sock: Readable & Writable, answer: PhaseRun["answer"]): void {
  let buf = "";
  sock.on("error", () => {});
  sock.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [kind, root, atom] = line.split("\t");
      let reply: string;
      try {
        reply = answer(kind as QueryKind, (root || "r") as QueryRoot, atom ?? "");
      } catch (e) {
        reply = `error ${(e as Error).message.split("\n")[0]}`;
      }
      sock.write(`${reply}\n`);
    }
  });
}
