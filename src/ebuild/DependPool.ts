import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { packagePath } from "../core/paths.js";
import { requireProgram } from "../core/spawn.js";
import { eapiFeatures } from "../pms/eapi.js";

/** One ebuild to source in the depend phase. */
export interface DependRequest {
  readonly ebuild: string;
  readonly category: string;
  readonly pn: string;
  readonly pf: string;
  /** EAPI detected from the ebuild head (PMS 7.3.1). */
  readonly eapi: string;
  /** Repository roots searched for eclasses, in order. */
  readonly eclassLocations: readonly string[];
}

/**
 * A failure is transient when it says nothing about the ebuild: the time limit was hit, or the
 * worker (or the ebuild's shell) was killed by a signal — the out-of-memory killer, a kill from
 * outside. Every other failure (die, a syntax error, a missing eclass) is the ebuild's verdict.
 */
export type DependResult =
  | { readonly ok: true; readonly values: ReadonlyMap<string, string>; readonly eclassFiles: ReadonlyMap<string, string>; readonly diagnostics: string }
  | { readonly ok: false; readonly error: string; readonly diagnostics: string; readonly transient: boolean };

/** Seconds one ebuild may take in the depend phase by default: a guard against endless loops, not slow machines. */
export const DEFAULT_DEPEND_TIMEOUT_SECONDS = 600;

export const EBUILD_SH = (): string => packagePath("src", "ebuild", "ebuild.sh");

/** Quote a word for bash (`'…'` with embedded quotes escaped). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./+:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The environment every worker starts with: nothing of ouzo's own environment leaks into metadata. */
function cleanEnv(tmp: string): NodeJS.ProcessEnv {
  return { PATH: "/bin:/usr/bin", LC_COLLATE: "POSIX", LANG: "C.UTF-8", PORTAGE_GID: "250", HOME: tmp, TMPDIR: tmp, EBUILD_PHASE: "depend" };
}

interface Job {
  readonly id: number;
  readonly req: DependRequest;
  readonly resolve: (r: DependResult) => void;
}

class Worker {
  readonly child: ChildProcess;
  readonly errFile: string;
  job: Job | undefined;
  private timer: NodeJS.Timeout | undefined;
  private buffer = "";
  private dead = false;

  constructor(private readonly pool: DependPool, index: number) {
    this.errFile = path.join(pool.tmp, `worker-${index}-${process.pid}.log`);
    this.child = spawn("bash", [EBUILD_SH(), "--worker"], {
      stdio: ["pipe", "ignore", "ignore", "pipe"],
      env: cleanEnv(pool.tmp),
      cwd: pool.tmp,
      detached: true,
    });
    const fd3 = this.child.stdio[3] as NodeJS.ReadableStream;
    fd3.setEncoding("utf8");
    fd3.on("data", (d: string) => this.onData(d));
    this.child.on("exit", (code, signal) => this.onExit(code, signal));
    this.child.on("error", () => this.onExit());
    this.child.stdin!.on("error", () => {});
  }

  start(job: Job): void {
    this.job = job;
    const r = job.req;
    const locs = r.eclassLocations.map(shellQuote).join(" ");
    const line = [job.id, r.ebuild, r.category, r.pn, r.pf, r.eapi, locs, this.errFile].join("\t");
    this.timer = setTimeout(() => this.timeout(), this.pool.timeoutMs);
    this.child.stdin!.write(line + "\n");
  }

  private onData(d: string): void {
    this.buffer += d;
    for (;;) {
      const m = END_RE.exec(this.buffer);
      if (!m) return;
      const body = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.onJobOutput(Number(m[1]), m[2]!, body);
    }
  }

  private onJobOutput(id: number, status: string, body: string): void {
    const job = this.job;
    if (!job || id !== job.id) return;
    const begin = `BEGIN ${id}\n`;
    if (status !== "0" || !body.startsWith(begin)) {
      // what the ebuild printed is read only when it failed: one file read less per ebuild
      const diagnostics = readDiagnostics(this.errFile);
      const code = Number(status);
      if (code > 128 && code < 128 + 65) {
        // the ebuild's subshell died of a signal it did not send itself: not the ebuild's verdict
        this.finish({ ok: false, error: `the depend phase was killed by ${signalName(code - 128)}${code - 128 === 9 ? " (out of memory, or killed from outside)" : ""}`, diagnostics, transient: true });
        return;
      }
      this.finish({ ok: false, error: lastErrorLine(diagnostics) ?? `depend phase exited with status ${status}`, diagnostics, transient: false });
      return;
    }
    const pieces = body.slice(begin.length).split("\0");
    const functions = new Set<string>();
    for (const line of (pieces[pieces.length - 2] ?? "").split("\n")) if (line.startsWith("declare -f")) functions.add(line.slice(line.lastIndexOf(" ") + 1));
    const raw = new Map<string, string>();
    for (const rec of pieces.slice(0, -2)) {
      const eq = rec.indexOf("=");
      if (eq > 0) raw.set(rec.slice(0, eq), rec.slice(eq + 1));
    }
    const values = new Map<string, string>();
    for (const [k, v] of raw) if (k !== "ECLASS_FILES") values.set(k, normalise(v));
    const eapi = values.get("EAPI") || "0";
    values.set("DEFINED_PHASES", definedPhases(eapi, functions));
    const files = new Map<string, string>();
    for (const pair of normalise(raw.get("ECLASS_FILES") ?? "").split(" ").filter(Boolean)) {
      const eq = pair.indexOf("=");
      files.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    this.finish({ ok: true, values, eclassFiles: files, diagnostics: "" });
  }

  private finish(result: DependResult): void {
    clearTimeout(this.timer);
    const job = this.job!;
    this.job = undefined;
    job.resolve(result);
    this.pool.idle(this);
  }

  private timeout(): void {
    const job = this.job;
    if (!job) return;
    this.kill();
    this.job = undefined;
    const limit = this.pool.timeoutMs / 1000;
    job.resolve({
      ok: false,
      error: `timed out: still running after ${limit >= 10 ? Math.round(limit) : limit} s, the per-ebuild time limit (raise it with --timeout or OUZO_REGEN_TIMEOUT)`,
      diagnostics: readDiagnostics(this.errFile),
      transient: true,
    });
    this.pool.replace(this);
  }

  kill(): void {
    this.dead = true;
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }

  private onExit(code?: number | null, signal?: NodeJS.Signals | null): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.timer);
    const job = this.job;
    this.job = undefined;
    const how = signal ? `was killed by ${signal}${signal === "SIGKILL" ? " (out of memory, or killed from outside)" : ""}` : code != null ? `exited with status ${code}` : "could not run";
    if (job) job.resolve({ ok: false, error: `the bash worker sourcing it ${how}`, diagnostics: readDiagnostics(this.errFile), transient: true });
    this.pool.replace(this);
  }

  get alive(): boolean {
    return !this.dead;
  }
}

const END_RE = /\0END (\d+) (\d+)\n/;

function signalName(n: number): string {
  const name = Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0];
  return name ?? `signal ${n}`;
}

/** PMS normalisation of a metadata value: split on blanks and newlines, join with one space. */
export function normalise(v: string): string {
  return v.split(/[ \t\n]+/).filter(Boolean).join(" ");
}

/** DEFINED_PHASES: short names of the phase functions the EAPI knows that are defined, sorted; "-" for none. */
export function definedPhases(eapi: string, functions: ReadonlySet<string>): string {
  const valid = eapiFeatures(eapi)?.phases ?? [];
  const names = valid.filter((p) => functions.has(p)).map((p) => p.slice(p.indexOf("_") + 1)).sort();
  return names.length ? names.join(" ") : "-";
}

function readDiagnostics(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").slice(0, 16384);
  } catch {
    return "";
  }
}

/** The most telling line of a failed run: ouzo's own ERROR line, else the last line printed. */
function lastErrorLine(diag: string): string | undefined {
  const lines = diag.split("\n").map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => l.startsWith("ERROR:"))?.replace(/^ERROR: [^:]+::depend: /, "");
  // bash's own complaint (syntax errors), shortened to the file name and line
  const bash = lines.find((l) => /: line \d+: .*(syntax error|unexpected)/.test(l))?.replace(/^.*\/([^/]+: line \d+: )/, "$1");
  if (err && bash && err === "error sourcing ebuild") return `${err}: ${bash}`;
  return err ?? bash ?? lines[lines.length - 1];
}

/**
 * A pool of long-lived bash workers sourcing ebuilds in the depend phase. Each ebuild runs in a
 * forked subshell of a worker (clean state, no exec of bash per ebuild); a worker that hangs past
 * the timeout is killed with its process group and replaced, as is one that crashes.
 */
export class DependPool {
  readonly tmp: string;
  private readonly workers: Worker[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number = Math.max(1, os.availableParallelism()), readonly timeoutMs = DEFAULT_DEPEND_TIMEOUT_SECONDS * 1000) {
    requireProgram("bash", "to source ebuilds");
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-depend-"));
    for (let i = 0; i < size; i++) this.workers.push(new Worker(this, i));
  }

  run(req: DependRequest): Promise<DependResult> {
    if (this.closed) return Promise.reject(new Error("pool closed"));
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, req, resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const w of this.workers) {
      if (!this.queue.length) return;
      if (w.alive && !w.job) w.start(this.queue.shift()!);
    }
  }

  /** Called by a worker that finished a job. */
  idle(_w: Worker): void {
    this.dispatch();
  }

  /** Called when a worker died or was killed: put a fresh one in its place. */
  replace(w: Worker): void {
    const i = this.workers.indexOf(w);
    if (i < 0 || this.closed) return;
    this.workers[i] = new Worker(this, i);
    this.dispatch();
  }

  close(): void {
    this.closed = true;
    for (const w of this.workers) {
      w.kill();
      w.child.stdin?.end();
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
