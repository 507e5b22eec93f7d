// Unpacking off the main thread: worker threads (one per core) take the packages of a plan while
// the main thread merges the ones already unpacked (zstd decoding and writing the image run beside
// the merge's hashing, renames and fsyncs). The worker runs this very file (whatever file the
// bundler put it in: import.meta.url), told by its workerData to serve; where no worker can be
// started (CommonJS code has no import.meta.url), the same code runs on the main thread.
import * as fs from "node:fs";
import * as os from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { OuzoError, type ErrorOrigin } from "../core/errors.js";
import { unpackPackage, type UnpackOptions, type UnpackResult } from "./unpack.js";

interface Pending {
  readonly id: number;
  readonly msg: Record<string, unknown>;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** The same work on this thread, if the worker dies first. */
  local(): unknown;
}

export class Unpacker {
  /** The worker threads (as many as cores, at most 4): creating files is what unpacking waits on. */
  private workers: Worker[] = [];
  private next = 0;
  /**
   * Work not yet handed out, in the order asked. A worker is given the next piece only when it has
   * nothing in hand: handing work out as it is asked for (to the worker with the shortest queue)
   * left one worker with a long tail while the other sat idle, packages being unequal.
   */
  private readonly queue: Pending[] = [];
  /** What each worker is doing. */
  private readonly busy = new Map<Worker, Pending>();
  private closed = false;

  constructor(useWorker = true, count = Math.min(4, Math.max(1, os.availableParallelism()))) {
    if (!useWorker) return;
    for (let i = 0; i < count; i++) {
      try {
        const w = new Worker(new URL(import.meta.url), { workerData: { ouzoAniseUnpacker: true } });
        w.on("message", (m: { id: number; result?: unknown; error?: { message: string; code?: string; origin?: ErrorOrigin; exitCode?: number; ouzo: boolean } }) => {
          const p = this.busy.get(w);
          if (p?.id !== m.id) return;
          this.busy.delete(w);
          if (m.error) p.reject(m.error.ouzo ? new OuzoError(m.error.code ?? "ANISE_UNPACK", m.error.message, m.error.origin ?? {}, m.error.exitCode ?? 1) : new Error(m.error.message));
          else p.resolve(m.result);
          this.pump();
        });
        w.on("error", () => this.takeBack(w));
        w.on("exit", () => this.takeBack(w));
        this.workers.push(w);
      } catch {
        break;
      }
    }
  }

  /** Hand queued work to the workers with nothing in hand. */
  private pump(): void {
    for (const w of this.workers) {
      if (!this.queue.length) return;
      if (this.busy.has(w)) continue;
      const p = this.queue.shift()!;
      this.busy.set(w, p);
      w.postMessage({ id: p.id, ...p.msg });
    }
  }

  /** Do `p` here, now. */
  private static runLocally(p: Pending): void {
    try {
      p.resolve(p.local());
    } catch (e) {
      p.reject(e as Error);
    }
  }

  /** A worker could not start or died: what it had in hand is done here; the rest goes to the others, or here. */
  private takeBack(w: Worker): void {
    this.workers = this.workers.filter((x) => x !== w);
    const held = this.busy.get(w);
    this.busy.delete(w);
    const left = this.workers.length ? [] : this.queue.splice(0);
    for (const p of [...(held ? [held] : []), ...left]) {
      // closed with work unanswered (a run that failed): it is not done at all
      if (this.closed) p.reject(new Error("the unpacker was closed"));
      else Unpacker.runLocally(p);
    }
    if (!this.closed) this.pump();
  }

  private call<T>(msg: Record<string, unknown>, local: () => T): Promise<T> {
    if (!this.workers.length) {
      try {
        return Promise.resolve(local());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: ++this.next, msg, resolve: resolve as (v: unknown) => void, reject, local });
      this.pump();
    });
  }

  unpack(file: string, work: string, opts: UnpackOptions): Promise<UnpackResult> {
    return this.call({ file, work, opts }, () => unpackPackage(file, work, opts));
  }

  /** Remove a directory (a merged image's leftovers) off the main thread. */
  remove(dir: string): Promise<void> {
    return this.call({ remove: dir }, () => fs.rmSync(dir, { recursive: true, force: true }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error("the unpacker was closed"));
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

type WorkerRequest = { readonly id: number; readonly file: string; readonly work: string; readonly opts: UnpackOptions } | { readonly id: number; readonly remove: string };

// the worker's side
if (!isMainThread && (workerData as { ouzoAniseUnpacker?: boolean } | undefined)?.ouzoAniseUnpacker) {
  parentPort?.on("message", (m: WorkerRequest) => {
    try {
      if ("remove" in m) {
        fs.rmSync(m.remove, { recursive: true, force: true });
        parentPort!.postMessage({ id: m.id });
        return;
      }
      parentPort!.postMessage({ id: m.id, result: unpackPackage(m.file, m.work, m.opts) });
    } catch (e) {
      const err = e as Error & { code?: string; origin?: unknown; exitCode?: number };
      parentPort!.postMessage({ id: m.id, error: { message: err.message, code: err.code, origin: err.origin, exitCode: err.exitCode, ouzo: err instanceof OuzoError } });
    }
  });
}
