// Unpacking through native/ouzo-unpack (its header comment has the protocol): one helper process
// per lane decompresses, reads the tar stream, writes each file under its ordinal with its MD5,
// and answers with the list of entries; ImageBuilder (ImageBuilder.ts) then takes every decision on the
// main thread, as it does for the TypeScript reader. The helper does in C what the worker threads
// did in JavaScript, without their per-file cost and the optimising compiler's work in each
// thread: at 40,000 files that was most of the difference to `tar --zstd` (bench/anise.js).
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { packagePath } from "../core/paths.js";
import type { TarEntry, TarEntryType } from "./tarReader.js";
import { ImageBuilder, type UnpackOptions, type UnpackResult } from "./ImageBuilder.js";
import { unpackPackage } from "./unpack.js";
import type { Lane, LaneEvents, Pending, UnpackJob } from "./Unpacker.js";

/** Signals that stop a run: a helper ended by one is not replaced by unpacking here. */
const STOPPING: ReadonlySet<string> = new Set(["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]);

/** How much lower the helpers' scheduling priority is than ouzo's. */
const HELPER_NICENESS = 8;

/**
 * The helper writes regular files at their names in a tree beside the image (ImageBuilder's file
 * comment); OUZO_UNPACK_TREE=0 keeps every file under its ordinal (to compare, in the bench).
 */
const FILES_AT_NAMES = process.env.OUZO_UNPACK_TREE !== "0";

// an entry's fields: KIND ORDINAL MODE UID GID MTIME SIZE MD5 DEVMAJOR DEVMINOR NAME LINKNAME (native/ouzo-unpack.c)
const KINDS: Record<string, TarEntryType> = { f: "file", F: "file", s: "symlink", d: "directory", h: "link", c: "character-device", b: "block-device", p: "fifo", o: "other" };

/** Where the helper is, when it was built (scripts/build-native.js) and not refused (OUZO_UNPACKER=js). */
export function nativeUnpackerPath(): string | undefined {
  if (process.env.OUZO_UNPACKER === "js") return undefined;
  try {
    const helper = packagePath("native", "build", "ouzo-unpack");
    fs.accessSync(helper, fs.constants.X_OK);
    return helper;
  } catch {
    return undefined;
  }
}

/**
 * Hand the helper's answer to `image`; "unsupported" when the helper left the file to the
 * TypeScript reader (not zstd). Throws the failure it reports.
 */
export function applyAnswer(body: Buffer, image: ImageBuilder): "unsupported" | undefined {
  // one decoding for the whole answer: every field but the names is ASCII, and a name decodes
  // the same alone or among the others (NUL ends each). The fields are read in place: only the
  // names and the MD5 become strings (a split made twelve per entry, ~10 MB of the install's
  // garbage for 40,000 entries)
  const s = body.toString("utf8");
  // an archive without entries (a package that only requires others) answers nothing
  if (s.startsWith("u\0")) return "unsupported";
  const end = s.length;
  let at = 0;
  /** The next field: where it starts, and `at` moved past its NUL. */
  const next = (): number => {
    const from = at;
    const nul = s.indexOf("\0", from);
    if (nul < 0) throw new Error("the unpack helper's answer is not understood");
    at = nul + 1;
    return from;
  };
  const text = () => {
    const from = next();
    return s.slice(from, at - 1);
  };
  const num = () => {
    const from = next();
    return decimal(s, from, at - 1);
  };
  while (at < end) {
    const kind = text();
    // a failure comes after the entries read before it, which are judged first (as the
    // TypeScript reader judges each entry as it comes)
    if (kind === "t") throw image.damaged(at < end ? text() : "");
    if (kind === "e") throw image.failure(new Error(at < end ? text() : ""));
    const type = KINDS[kind];
    if (!type) throw new Error("the unpack helper's answer is not understood");
    const ordinal = num();
    const mode = num();
    const uid = num();
    const gid = num();
    const mtime = num();
    const size = num();
    const md5 = text();
    const devmajor = num();
    const devminor = num();
    const name = text();
    const linkname = text();
    const e: TarEntry = { name, type, mode, uid, gid, size, mtime, linkname, devmajor, devminor };
    image.entry(e, ordinal, { md5: md5 || undefined, inTree: kind === "F" });
  }
  return undefined;
}

/** The number written in s[from, to): decimal digits read in place; anything else (a fraction, a sign) as Number reads it. */
function decimal(s: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number(s.slice(from, to));
    v = v * 10 + c;
  }
  return v;
}

/** A request the helper has in hand: an unpacking, or one answered by an empty body (`remove`, `syncfs`). */
type Held = { job: UnpackJob; image: ImageBuilder; resolve(v: unknown): void; reject(e: Error): void } | { plain: string; resolve(): void; reject(e: Error): void };

/** One helper process: a lane of the Unpacker that takes unpacking jobs. */
export class NativeLane implements Lane {
  /** Two requests at once: the helper finds the next one waiting when it answers. */
  readonly depth = 2;
  private readonly child: ChildProcess;
  /** The requests sent, in order: the helper answers them in that order. */
  private readonly held: Held[] = [];
  private readonly exited: Promise<void>;
  private chunks: Buffer[] = [];
  private have = 0;
  /** The length of the answer being read, once its length line is in (-1 before). */
  private need = -1;
  private gone = false;
  private closing = false;

  constructor(
    helper: string,
    private readonly events: LaneEvents,
  ) {
    this.child = spawn(helper, [], { stdio: ["pipe", "pipe", "inherit"] });
    // below the main thread, whose downloads and merges are the run's critical path: the helpers
    // work ahead of them and take what is left of the cores (measured: 3.0 s instead of 3.3 s, bench/anise.js)
    try {
      os.setPriority(this.child.pid!, Math.min(19, os.getPriority() + HELPER_NICENESS));
    } catch {
      // not allowed, or the helper is gone already: it runs at ours
    }
    this.child.stdout!.on("data", (b: Buffer) => this.data(b));
    this.child.stdin!.on("error", () => this.lost(undefined));
    this.exited = new Promise((resolve) => {
      this.child.on("error", () => resolve(this.lost(undefined)));
      this.child.on("close", (_code, signal) => resolve(this.lost(signal)));
    });
  }

  start(job: UnpackJob, resolve: (v: unknown) => void, reject: (e: Error) => void): void {
    // the helper makes the work directory: the builder only keeps the books
    const work = path.resolve(job.work);
    const image = new ImageBuilder(job.file, work, job.opts, true);
    this.held.push({ job, image, resolve, reject });
    this.child.stdin!.write(`${image.sameOwner ? "o" : "-"}${FILES_AT_NAMES ? "t" : ""}${job.opts.verified ? "x" : ""}\0${work}\0${job.file}\0`);
  }

  /**
   * Remove `dir` and all it holds, in the helper after what it has in hand: what a merge leaves of
   * a package (its image's and tree's directories) goes without a system call on the main thread.
   * Rejects when the helper cannot (or is gone: the caller then removes it itself).
   */
  remove(dir: string): Promise<void> {
    return this.plain("r", dir);
  }

  /**
   * syncfs of the filesystem `file` is on, after what the helper has in hand (node has no
   * syncfs, and a `sync -f` process each time cost the main thread ~7 ms to start). Rejects
   * when the helper cannot, or is gone.
   */
  syncfs(file: string): Promise<void> {
    return this.plain("s", file);
  }

  private plain(flag: string, file: string): Promise<void> {
    if (this.gone || this.closing) return Promise.reject(new Error("the unpack helper is gone"));
    return new Promise<void>((resolve, reject) => {
      this.held.push({ plain: flag, resolve, reject });
      this.child.stdin!.write(`${flag}\0${path.resolve(file)}\0\0`);
    });
  }

  /** Answers come in pieces: each is its length, a newline, the body. */
  private data(b: Buffer): void {
    this.chunks.push(b);
    this.have += b.length;
    for (;;) {
      if (this.need < 0) {
        // the length line, in the first chunk as a rule
        const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
        this.chunks = [head];
        const nl = head.indexOf(10);
        if (nl < 0) return;
        const length = /^[0-9]+$/.test(head.toString("latin1", 0, nl)) ? Number(head.toString("latin1", 0, nl)) : NaN;
        if (!Number.isSafeInteger(length)) {
          // not the helper we speak to: it goes, and its packages are unpacked here
          this.child.kill();
          this.lost(undefined);
          return;
        }
        this.chunks = [head.subarray(nl + 1)];
        this.have -= nl + 1;
        this.need = length;
      }
      // the body's pieces are joined once, when all are in
      if (this.have < this.need) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const body = all.subarray(0, this.need);
      this.chunks = all.length > this.need ? [all.subarray(this.need)] : [];
      this.have -= this.need;
      this.need = -1;
      const held = this.held.shift();
      if (!held) return;
      if ("plain" in held) {
        // an empty answer, or the failure's two fields
        if (body.length) held.reject(new Error(body.toString("utf8").split("\0")[1] ?? "the request failed"));
        else held.resolve();
        if (!this.have) return;
        continue;
      }
      try {
        if (applyAnswer(body, held.image) === "unsupported") held.resolve(unpackPackage(held.job.file, held.job.work, held.job.opts));
        else held.resolve(held.image.finish());
      } catch (e) {
        held.reject(e as Error);
      }
      this.events.settled(this);
      if (!this.have) return;
    }
  }

  /**
   * The helper is gone: what it had in hand goes back to the Unpacker, which unpacks it here —
   * unless the run is being stopped (the helper shares the terminal's interrupt, and a closed
   * Unpacker wants nothing more done), when it is refused.
   */
  private lost(signal: NodeJS.Signals | null | undefined): void {
    if (this.gone) return;
    this.gone = true;
    const held: Pending[] = [];
    for (const h of this.held.splice(0)) {
      if ("plain" in h) h.reject(new Error("the unpack helper is gone"));
      else held.push(h);
    }
    if (this.closing || (signal && STOPPING.has(signal))) {
      const why = new Error(this.closing ? "the unpacker was closed" : `the unpack helper was stopped (${signal})`);
      for (const h of held) h.reject(why);
      this.events.lost(this, []);
      return;
    }
    this.events.lost(this, held);
  }

  /** The helper has ended (or could not start). */
  get isGone(): boolean {
    return this.gone;
  }

  /** Its input closed, the helper ends; waited for, so that no helper outlives the run. */
  close(): Promise<void> {
    this.closing = true;
    this.child.stdin!.end();
    return this.exited;
  }
}
