// Unpacking off the main thread: lanes (one per core) take the packages of a plan while the main
// thread merges the ones already unpacked (zstd decoding and writing the image run beside the
// merge's hashing, renames and fsyncs). A lane is a native/ouzo-unpack process when the helper is
// built (nativeUnpack.ts), else a worker thread running this very file (whatever file the bundler
// put it in: import.meta.url), told by its workerData to serve; where neither can be started
// (CommonJS code has no import.meta.url), the same code runs on the main thread.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { OuzoError, type ErrorOrigin } from "../core/errors.js";
import { NativeLane, nativeUnpackerPath } from "./nativeUnpack.js";
import type { UnpackOptions, UnpackResult } from "./ImageBuilder.js";
import { unpackPackage } from "./unpack.js";

/** A piece of work: unpack a package. */
export type UnpackJob = { readonly file: string; readonly work: string; readonly opts: UnpackOptions };

/** A job done here, on this thread. */
function runJob(job: UnpackJob): UnpackResult {
  return unpackPackage(job.file, job.work, job.opts);
}

export interface Pending {
  readonly job: UnpackJob;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** What a lane tells the Unpacker. */
export interface LaneEvents {
  /** The job in hand is resolved or rejected: the lane is free. */
  settled(lane: Lane): void;
  /** The lane died, with these jobs unanswered. */
  lost(lane: Lane, held: readonly Pending[]): void;
}

/** Where jobs run beside the main thread: a worker thread, or a native helper process (nativeUnpack.ts). */
export interface Lane {
  /** How many jobs it takes at once (more than one: the next is waiting when one ends). */
  readonly depth: number;
  /** Start `job`; the lane calls `resolve` or `reject`, then its events' `settled`. */
  start(job: UnpackJob, resolve: (v: unknown) => void, reject: (e: Error) => void): void;
  close(): Promise<unknown> | void;
}

/** A worker thread running this file (the worker's side is at the end). */
class WorkerLane implements Lane {
  readonly depth = 1;
  private readonly worker: Worker;
  private held: Pending | undefined;
  private next = 0;

  constructor(events: LaneEvents) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { ouzoAniseUnpacker: true } });
    this.worker.on("message", (m: { id: number; result?: unknown; error?: { message: string; code?: string; origin?: ErrorOrigin; exitCode?: number; ouzo: boolean } }) => {
      const p = this.held;
      if (!p || m.id !== this.next) return;
      this.held = undefined;
      if (m.error) p.reject(m.error.ouzo ? new OuzoError(m.error.code ?? "ANISE_UNPACK", m.error.message, m.error.origin ?? {}, m.error.exitCode ?? 1) : new Error(m.error.message));
      else p.resolve(m.result);
      events.settled(this);
    });
    const lost = () => {
      const held = this.held;
      this.held = undefined;
      events.lost(this, held ? [held] : []);
    };
    this.worker.on("error", lost);
    this.worker.on("exit", lost);
  }

  start(job: UnpackJob, resolve: (v: unknown) => void, reject: (e: Error) => void): void {
    this.held = { job, resolve, reject };
    this.worker.postMessage({ id: ++this.next, ...job });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/** How packages are unpacked: "auto" is the native helper when it is built, else worker threads. */
export type UnpackVia = "auto" | "native" | "worker" | "local";

/**
 * What a merge leaves of a package, as a rule its work directory, the empty image and the tree
 * (empty when it was moved whole): rmdir calls on libuv's threads (an rmdir costs ~1 ms on this
 * kind of disk: on the main thread, 400 of them took a fifth of it during the merges), a full
 * removal when more is left (the tree's directories whose files went one by one).
 */
async function removeWork(dir: string): Promise<void> {
  try {
    await fs.promises.rmdir(path.join(dir, "image"));
    await fs.promises.rmdir(path.join(dir, "tree")).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    await fs.promises.rmdir(dir);
  } catch {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** `sync -f FILE`: what it says when it fails. */
function syncProgram(file: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const c = spawn("sync", ["-f", file], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    c.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(err.trim() || `exit ${code}`))));
  });
}

export class Unpacker {
  /** The lanes (as many as cores, at most 4): creating files is what unpacking waits on. */
  private lanes: Lane[] = [];
  private readonly via: "native" | "worker" | "local";
  /** native/ouzo-unpack, when the lanes are its processes. */
  private readonly helper: string | undefined;
  private started = false;
  /**
   * Work not yet handed out, in the order asked. A lane is given the next piece only when it has
   * nothing in hand: handing work out as it is asked for (to the lane with the shortest queue)
   * left one lane with a long tail while the other sat idle, packages being unequal.
   */
  private readonly queue: Pending[] = [];
  /** How many jobs each lane has in hand. */
  private readonly busy = new Map<Lane, number>();
  private closed = false;
  private readonly events: LaneEvents = {
    settled: (lane) => {
      this.busy.set(lane, (this.busy.get(lane) ?? 1) - 1);
      this.pump();
    },
    lost: (lane, held) => this.takeBack(lane, held),
  };

  constructor(
    via: UnpackVia = "auto",
    private readonly count = Math.min(4, Math.max(1, os.availableParallelism())),
  ) {
    this.helper = via === "auto" || via === "native" ? nativeUnpackerPath() : undefined;
    if (via === "native" && !this.helper) throw new OuzoError("NO_NATIVE_UNPACKER", "the native unpacker native/build/ouzo-unpack is not built (run `node scripts/build-native.js`)");
    this.via = this.helper ? "native" : via === "local" ? "local" : "worker";
  }

  /**
   * Make the lanes now rather than at the first job: a run that will unpack starts its helpers
   * while its first downloads are on their way, not after the first has arrived.
   */
  warmUp(): void {
    this.startLanes();
  }

  /** The lanes, made at the first job (a run with nothing to unpack starts no thread or process). */
  private startLanes(): void {
    if (this.started) return;
    this.started = true;
    for (let i = 0; this.via !== "local" && i < this.count; i++) {
      try {
        this.lanes.push(this.via === "native" ? new NativeLane(this.helper!, this.events) : new WorkerLane(this.events));
      } catch {
        break;
      }
    }
  }

  /** How this Unpacker unpacks (for the run's report and tests). */
  get mode(): "native" | "worker" | "local" {
    return this.via;
  }

  /** Hand queued work to the lanes with nothing in hand. */
  private pump(): void {
    // one job per lane first, then a second: a lane should not wait for its next while another
    // has none; and a second only while there is more than a job per lane left, so that the last
    // packages do not queue behind a big one while another lane sits idle
    for (let round = 1; round <= 2; round++) {
      if (round === 2 && this.queue.length <= this.lanes.length) return;
      for (const lane of this.lanes) {
        if (!this.queue.length) return;
        const inHand = this.busy.get(lane) ?? 0;
        if (inHand >= Math.min(round, lane.depth)) continue;
        const p = this.queue.shift()!;
        this.busy.set(lane, inHand + 1);
        lane.start(p.job, p.resolve, p.reject);
      }
    }
  }

  /** Do `p` here, now. */
  private static runLocally(p: Pending): void {
    try {
      p.resolve(runJob(p.job));
    } catch (e) {
      p.reject(e as Error);
    }
  }

  /** A lane could not start or died: what it had in hand is done here; the rest goes to the others, or here. */
  private takeBack(lane: Lane, held: readonly Pending[]): void {
    this.lanes = this.lanes.filter((x) => x !== lane);
    this.busy.delete(lane);
    const left = this.lanes.length ? [] : this.queue.splice(0);
    for (const p of [...held, ...left]) {
      // closed with work unanswered (a run that failed): it is not done at all
      if (this.closed) p.reject(new Error("the unpacker was closed"));
      else Unpacker.runLocally(p);
    }
    if (!this.closed) this.pump();
  }

  unpack(file: string, work: string, opts: UnpackOptions): Promise<UnpackResult> {
    const job = { file, work, opts };
    this.startLanes();
    if (!this.lanes.length) {
      try {
        return Promise.resolve(runJob(job));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise<UnpackResult>((resolve, reject) => {
      this.queue.push({ job, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  /**
   * Remove a directory (a merged image's leftovers) off the main thread: by a helper when the
   * lanes are native/ouzo-unpack's (the one with the least in hand), else by libuv's threads.
   */
  remove(dir: string): Promise<void> {
    let by: NativeLane | undefined;
    for (const l of this.lanes) if (l instanceof NativeLane && (!by || (this.busy.get(l) ?? 0) < (this.busy.get(by) ?? 0))) by = l;
    return by ? by.remove(dir).catch(() => removeWork(dir)) : removeWork(dir);
  }

  /** A helper of its own for syncfs requests, which wait on the disk: made at the first. */
  private syncLane: NativeLane | undefined;

  /**
   * syncfs of the filesystem `file` is on (`sync -f`): by a helper process of its own, started
   * once, when native/ouzo-unpack is built, else by the `sync` program. Resolves when done;
   * rejects with what went wrong.
   */
  syncfs(file: string): Promise<void> {
    if (this.helper && !this.closed) {
      try {
        this.syncLane ??= new NativeLane(this.helper, { settled: () => {}, lost: () => {} });
        return this.syncLane.syncfs(file).catch((e: Error) => (this.syncLane?.isGone ? syncProgram(file) : Promise.reject(e)));
      } catch {
        // not started: the program does it
      }
    }
    return syncProgram(file);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error("the unpacker was closed"));
    const lanes: { close(): unknown }[] = this.lanes;
    this.lanes = [];
    if (this.syncLane) lanes.push(this.syncLane);
    await Promise.all(lanes.map((l) => l.close()));
  }
}

type WorkerRequest = UnpackJob & { readonly id: number };

// the worker's side
if (!isMainThread && (workerData as { ouzoAniseUnpacker?: boolean } | undefined)?.ouzoAniseUnpacker) {
  parentPort?.on("message", (m: WorkerRequest) => {
    try {
      parentPort!.postMessage({ id: m.id, result: runJob(m) });
    } catch (e) {
      const err = e as Error & { code?: string; origin?: unknown; exitCode?: number };
      parentPort!.postMessage({ id: m.id, error: { message: err.message, code: err.code, origin: err.origin, exitCode: err.exitCode, ouzo: err instanceof OuzoError } });
    }
  });
}
