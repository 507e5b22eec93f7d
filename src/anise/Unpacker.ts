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
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** The same work on this thread, if the worker dies first. */
  local(): unknown;
}

export class Unpacker {
  /** The worker threads (as many as cores, at most 4): creating files is what unpacking waits on. */
  private workers: Worker[] = [];
  private next = 0;
  private readonly pending = new Map<number, Pending & { worker: Worker }>();
  private closed = false;

  constructor(useWorker = true, count = Math.min(4, Math.max(1, os.availableParallelism()))) {
    if (!useWorker) return;
    for (let i = 0; i < count; i++) {
      try {
        const w = new Worker(new URL(import.meta.url), { workerData: { ouzoAniseUnpacker: true } });
        w.on("message", (m: { id: number; result?: unknown; error?: { message: string; code?: string; origin?: ErrorOrigin; exitCode?: number; ouzo: boolean } }) => {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (m.error) p.reject(m.error.ouzo ? new OuzoError(m.error.code ?? "ANISE_UNPACK", m.error.message, m.error.origin ?? {}, m.error.exitCode ?? 1) : new Error(m.error.message));
          else p.resolve(m.result);
        });
        w.on("error", () => this.takeBack(w));
        w.on("exit", () => this.takeBack(w));
        this.workers.push(w);
      } catch {
        break;
      }
    }
  }

  /** A worker could not start or died: what it had not answered is done here, in order. */
  private takeBack(w: Worker): void {
    this.workers = this.workers.filter((x) => x !== w);
    const left = [...this.pending].filter(([, p]) => p.worker === w);
    for (const [id] of left) this.pending.delete(id);
    for (const [, p] of left) {
      if (this.closed) {
        // closed with work unanswered (a run that failed): it is not done at all
        p.reject(new Error("the unpacker was closed"));
        continue;
      }
      try {
        p.resolve(p.local());
      } catch (e) {
        p.reject(e as Error);
      }
    }
  }

  private call<T>(msg: Record<string, unknown>, local: () => T): Promise<T> {
    if (!this.workers.length) {
      try {
        return Promise.resolve(local());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    // the worker with the least work waiting
    const load = new Map(this.workers.map((w) => [w, 0]));
    for (const p of this.pending.values()) load.set(p.worker, (load.get(p.worker) ?? 0) + 1);
    const worker = [...load].sort((x, y) => x[1] - y[1])[0]![0];
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, local, worker });
      worker.postMessage({ id, ...msg });
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
