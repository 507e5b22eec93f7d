// Unpacking off the main thread: one worker thread takes the packages of a plan in order while
// the main thread merges the ones already unpacked (zstd decoding and writing the image run beside
// the merge's hashing, renames and fsyncs). The worker runs this very file (whatever file the
// bundler put it in: import.meta.url), told by its workerData to serve; where no worker can be
// started (CommonJS code has no import.meta.url), the same code runs on the main thread.
import * as fs from "node:fs";
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
  private worker: Worker | undefined;
  private next = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(useWorker = true) {
    if (!useWorker) return;
    try {
      const w = new Worker(new URL(import.meta.url), { workerData: { ouzoAniseUnpacker: true } });
      w.on("message", (m: { id: number; result?: unknown; error?: { message: string; code?: string; origin?: ErrorOrigin; exitCode?: number; ouzo: boolean } }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error) p.reject(m.error.ouzo ? new OuzoError(m.error.code ?? "ANISE_UNPACK", m.error.message, m.error.origin ?? {}, m.error.exitCode ?? 1) : new Error(m.error.message));
        else p.resolve(m.result);
      });
      w.on("error", () => this.takeBack());
      w.on("exit", () => this.takeBack());
      this.worker = w;
    } catch {
      this.worker = undefined;
    }
  }

  /** The worker could not start or died: what it had not answered is done here, in order. */
  private takeBack(): void {
    this.worker = undefined;
    const left = [...this.pending.values()];
    this.pending.clear();
    for (const p of left) {
      try {
        p.resolve(p.local());
      } catch (e) {
        p.reject(e as Error);
      }
    }
  }

  private call<T>(msg: Record<string, unknown>, local: () => T): Promise<T> {
    if (!this.worker) {
      try {
        return Promise.resolve(local());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, local });
      this.worker!.postMessage({ id, ...msg });
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
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
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
