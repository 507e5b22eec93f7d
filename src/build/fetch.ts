// Getting a package's distfiles into DISTDIR, verified (build spec §6.5–§6.9): natively over HTTP(S)
// with undici, resuming partial downloads with Range, hashing while the bytes arrive, and with
// the names Portage uses (`<file>.__download__`, `<file>._checksum_failure_.<random>`,
// `.<file>.portage_lockfile`) so that both can share one DISTDIR.
import { deferredExtraCa } from "../core/tlsCa.js";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Agent, interceptors, request, type Dispatcher } from "undici";
import { OuzoError } from "../core/errors.js";
import { fsyncDir } from "../core/fsutil.js";
import { FileLock } from "../core/lock.js";
import { silentReporter, type Reporter } from "../core/reporter.js";
import type { SrcUri } from "../pms/depspec.js";
import type { ManifestDist } from "../pms/manifest.js";
import { candidateUris, type CandidateUri, type MirrorConfig } from "./mirrors.js";
import { checkDigests, DEFAULT_MANIFEST_HASHES, describeFailure, hashFile, insufficient, MultiHasher, rememberDigests, verifiableHashes, verifyFile, type VerifyResult } from "./verify.js";

/** One distfile to get. */
export interface FetchRequest {
  /** The distfile name (no `/`). */
  readonly file: string;
  /** Where to get it, in the order to try (mirrors.candidateUris); plain strings count as primary URIs. */
  readonly uris: readonly (CandidateUri | string)[];
  /** Its Manifest DIST entry; absent: there is none (an error unless allowMissingDigests). */
  readonly manifest?: ManifestDist;
  /** RESTRICT=fetch: when the file cannot be had from `uris` (local mirrors, fetch+/mirror+ URIs), the result is "restricted", not an error. */
  readonly fetchRestricted?: boolean;
}

export interface FetchOptions {
  /** The real distfile directory (PORTAGE_ACTUAL_DISTDIR); created if missing. */
  readonly distdir: string;
  /** Files fetched at once (default 4). */
  readonly jobs?: number;
  /** Connections to one host at once (default 4). */
  readonly connectionsPerHost?: number;
  /** Attempts per URI for transient failures (network errors, 5xx, a cut transfer), default 3. */
  readonly attemptsPerUri?: number;
  /** First pause between attempts on one URI, doubled each time up to 2 s (default 250 ms). */
  readonly retryDelayMs?: number;
  /** A connection silent for this long is given up (default 60 s). */
  readonly timeoutMs?: number;
  /** Redirects followed per request (default 5). */
  readonly maxRedirections?: number;
  /** PORTAGE_FETCH_RESUME_MIN_SIZE in bytes (default 350 KiB): smaller partial files are fetched anew. */
  readonly resumeMinSize?: number;
  /** PORTAGE_FETCH_CHECKSUM_TRY_MIRRORS (default 5): checksum failures after which a file is given up. */
  readonly checksumTryMirrors?: number;
  /** Accept files without a usable DIST entry (Manifest generation); their digests are in the result. */
  readonly allowMissingDigests?: boolean;
  /** Hashes computed for files without a DIST entry (default BLAKE2B SHA512). */
  readonly manifestHashes?: readonly string[];
  /** Check sizes only (the background parallel-fetch, §6.7); the build's own fetch verifies fully. */
  readonly sizeOnly?: boolean;
  /**
   * distlocks (§6.6): "wait" (default) for another fetcher of the same file; "skip" (--fetchonly):
   * report it locked and go on; "none": FEATURES=-distlocks.
   */
  readonly lock?: "wait" | "skip" | "none";
  /** How long to wait for another fetcher's lock (default: as long as it takes). */
  readonly lockTimeoutMs?: number;
  /** PORTAGE_RO_DISTDIRS: read-only directories whose verified copy is symlinked into DISTDIR. */
  readonly roDistdirs?: readonly string[];
  /** Return failed files in the results instead of throwing (--fetchonly --keep-going). */
  readonly keepGoing?: boolean;
  /** The package, for error messages. */
  readonly pkg?: string;
  /** Ends the downloads (the partial files are kept for resuming). */
  readonly signal?: AbortSignal;
  /** An undici dispatcher to use instead of ouzo's own agent (tests, proxies). */
  readonly dispatcher?: Dispatcher;
}

export type FetchStatus =
  /** Already in DISTDIR and verified. */
  | "present"
  /** Downloaded (or copied from a filesystem mirror) and verified. */
  | "fetched"
  /** Symlinked from a PORTAGE_RO_DISTDIRS directory. */
  | "linked"
  /** RESTRICT=fetch and not to be had: the caller runs pkg_nofetch. */
  | "restricted"
  /** Another fetcher holds the file's lock (lock: "skip"). */
  | "locked"
  | "failed";

export interface TriedUri {
  readonly url: string;
  readonly reason: string;
}

export interface FetchResult {
  readonly file: string;
  readonly status: FetchStatus;
  /** The file in DISTDIR. */
  readonly path: string;
  /** Where it came from, when it was fetched. */
  readonly url?: string;
  /** Every URI tried, with why it did not do. */
  readonly tried: readonly TriedUri[];
  /** Digests computed (upper-case name → hex), when the file was read or downloaded in this run. */
  readonly digests?: Readonly<Record<string, string>>;
  /** For "failed": the one-line error. */
  readonly error?: OuzoError;
}

const DEFAULTS = {
  jobs: 4,
  connectionsPerHost: 4,
  attemptsPerUri: 3,
  retryDelayMs: 250,
  timeoutMs: 60_000,
  maxRedirections: 5,
  resumeMinSize: 350 * 1024,
  checksumTryMirrors: 5,
};

/** The partial-download name of a distfile (§6.5). */
export const downloadName = (file: string) => `${file}.__download__`;
/** The distlocks lock file of a distfile (§6.6, §14.2). */
export const lockName = (file: string) => `.${file}.portage_lockfile`;
const FAILURE_MARK = "._checksum_failure_.";

/**
 * The fetch requests of a package: one per distfile of these SRC_URI entries (USE-reduced,
 * `A`'s order), with its candidate URIs, Manifest entry and fetch restriction.
 */
export function distfileRequests(
  entries: readonly SrcUri[],
  restrict: ReadonlySet<string>,
  manifest: ReadonlyMap<string, ManifestDist>,
  mirrors: MirrorConfig,
  warn?: (message: string) => void,
): FetchRequest[] {
  const files = [...new Set(entries.map((e) => e.filename))];
  return files.map((file) => {
    const dist = manifest.get(file);
    return { file, uris: candidateUris(file, entries, restrict, mirrors, dist, warn), manifest: dist, fetchRestricted: restrict.has("fetch") };
  });
}

/**
 * Get every requested distfile into `options.distdir`, verified against its Manifest entry, at
 * most `jobs` at once. Results come in the order of the requests (one per distinct file). A file
 * that cannot be had makes the whole call fail with one OuzoError naming each such file and every
 * URL tried with its reason (unless keepGoing); fetch-restricted files that are missing come back
 * as "restricted" for the caller to run pkg_nofetch.
 */
export async function fetchDistfiles(requests: readonly FetchRequest[], options: FetchOptions, reporter: Reporter = silentReporter): Promise<FetchResult[]> {
  const merged = mergeRequests(requests);
  fs.mkdirSync(options.distdir, { recursive: true });
  const ownAgent = options.dispatcher ? undefined : makeAgent(options);
  const dispatcher = options.dispatcher ?? ownAgent!;
  const results: FetchResult[] = new Array(merged.length);
  let next = 0;
  const worker = async () => {
    while (next < merged.length) {
      const i = next++;
      results[i] = await fetchOne(merged[i]!, options, dispatcher, reporter);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs ?? DEFAULTS.jobs, merged.length)) }, worker));
  } finally {
    await ownAgent?.close();
  }
  const failed = results.filter((r) => r.status === "failed");
  if (failed.length && !options.keepGoing) {
    if (failed.length === 1) throw failed[0]!.error!;
    throw new OuzoError("FETCH_FAILED", failed.map((r) => r.error!.message).join("; "), options.pkg ? { pkg: options.pkg } : {});
  }
  return results;
}

/** One request per file: the URIs of repeated files merged in order, the first Manifest entry kept. */
function mergeRequests(requests: readonly FetchRequest[]): FetchRequest[] {
  const byFile = new Map<string, FetchRequest>();
  for (const r of requests) {
    const had = byFile.get(r.file);
    const seen = new Set<string>();
    const uris = had ? [...had.uris, ...r.uris].filter((u) => {
      const url = typeof u === "string" ? u : u.url;
      return !seen.has(url) && (seen.add(url), true);
    }) : r.uris;
    byFile.set(r.file, had ? { ...had, uris, manifest: had.manifest ?? r.manifest, fetchRestricted: had.fetchRestricted || r.fetchRestricted } : r);
  }
  return [...byFile.values()];
}

function makeAgent(options: FetchOptions): Dispatcher {
  const ca = deferredExtraCa();
  return new Agent({
    connections: options.connectionsPerHost ?? DEFAULTS.connectionsPerHost,
    connect: { timeout: options.timeoutMs ?? DEFAULTS.timeoutMs, ...(ca ? { ca } : {}) },
  }).compose(interceptors.redirect({ maxRedirections: options.maxRedirections ?? DEFAULTS.maxRedirections }));
}

// --- one file ---

/** Per-process queue per lock file: two requests of one file in one run take turns without polling the lock. */
const inProcess = new Map<string, Promise<unknown>>();

async function fetchOne(req: FetchRequest, options: FetchOptions, dispatcher: Dispatcher, reporter: Reporter): Promise<FetchResult> {
  const distdir = options.distdir;
  const task = `fetch ${req.file}`;
  const F = path.join(distdir, req.file);
  reporter.report({ kind: "started", task, total: req.manifest ? Number(req.manifest.size) || undefined : undefined });
  let result: FetchResult;
  try {
    if (!req.file || req.file.includes("/") || req.file === "." || req.file === "..") {
      throw new OuzoError("BAD_DISTFILE_NAME", `'${req.file}' is not a distfile name`, origin(options));
    }
    result = await fetchOneUnlocked(req, options, dispatcher, reporter, F);
  } catch (e) {
    if (options.signal?.aborted) throw e;
    const error = e instanceof OuzoError ? e : new OuzoError("FETCH_FAILED", `cannot fetch '${req.file}': ${(e as Error).message}`, origin(options));
    result = { file: req.file, status: "failed", path: F, tried: [], error };
  }
  reporter.report({ kind: "finished", task, message: finishedMessage(result) });
  return result;
}

function finishedMessage(r: FetchResult): string {
  switch (r.status) {
    case "present":
      return `${r.file} is present and verified`;
    case "fetched":
      return `${r.file} fetched from ${maskUrl(r.url ?? "")}`;
    case "linked":
      return `${r.file} linked from ${r.url}`;
    case "restricted":
      return `${r.file} is fetch-restricted: fetch it by hand into ${path.dirname(r.path)}`;
    case "locked":
      return `File '${r.file}' is already locked by another fetcher. Continuing...`;
    case "failed":
      return r.error!.message;
  }
}

function origin(options: FetchOptions): { pkg?: string } {
  return options.pkg ? { pkg: options.pkg } : {};
}

/**
 * The fast path needs no lock: a complete file only ever appears under its name by rename, so a
 * present file that verifies is done. Anything else is handled under the file's lock.
 */
async function fetchOneUnlocked(req: FetchRequest, options: FetchOptions, dispatcher: Dispatcher, reporter: Reporter, F: string): Promise<FetchResult> {
  const usable = req.manifest && !insufficient(req.manifest);
  if (!usable && !options.allowMissingDigests) {
    const why = req.manifest ? describeFailure(insufficient(req.manifest)!) : "no DIST entry in the Manifest";
    throw new OuzoError("FETCH_NO_DIGEST", `cannot verify '${req.file}': ${why}`, origin(options));
  }
  if (fs.existsSync(F)) {
    const quick = await checkPresent(F, req, options);
    if (quick.ok) return { file: req.file, status: "present", path: F, tried: [], digests: quick.digests };
  }
  if (!writable(options.distdir)) return checkOnly(req, options, F);
  if ((options.lock ?? "wait") === "none") return fetchLocked(req, options, dispatcher, reporter, F);

  const lockPath = path.join(options.distdir, lockName(req.file));
  if (options.lock === "skip" && inProcess.has(lockPath)) return { file: req.file, status: "locked", path: F, tried: [] };
  const before = inProcess.get(lockPath) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const chained = before.then(() => mine);
  inProcess.set(lockPath, chained);
  try {
    await before;
    const lock = await lockDistfile(lockPath, options, () =>
      reporter.report({ kind: "info", message: `>>> File '${req.file}' is already locked by another fetcher. Waiting...` }),
    );
    if (!lock) return { file: req.file, status: "locked", path: F, tried: [] };
    try {
      return await fetchLocked(req, options, dispatcher, reporter, F);
    } finally {
      unlockDistfile(lockPath, lock);
    }
  } finally {
    done();
    if (inProcess.get(lockPath) === chained) inProcess.delete(lockPath);
  }
}

/** Verify a present F (a directory there is fatal); without a usable entry (allowMissingDigests) it is taken as it is. */
async function checkPresent(F: string, req: FetchRequest, options: FetchOptions): Promise<VerifyResult> {
  const st = fs.statSync(F, { throwIfNoEntry: false });
  if (!st) return { ok: false, failure: { kind: "missing" }, reason: "no such file" };
  if (st.isDirectory()) throw new OuzoError("DISTFILE_IS_DIRECTORY", `${F} is a directory, not the distfile '${req.file}'`, origin(options));
  if (!req.manifest || insufficient(req.manifest)) {
    // only with allowMissingDigests: a present file is taken as it is
    const { digests } = await hashFile(F, options.manifestHashes ?? DEFAULT_MANIFEST_HASHES);
    return { ok: true, size: st.size, verified: [], digests };
  }
  return verifyFile(F, req.manifest, { sizeOnly: options.sizeOnly });
}

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A DISTDIR ouzo may not write: only say what is wrong (§6.6). */
async function checkOnly(req: FetchRequest, options: FetchOptions, F: string): Promise<FetchResult> {
  const r = await checkPresent(F, req, options);
  if (r.ok) return { file: req.file, status: "present", path: F, tried: [], digests: r.digests };
  const why =
    r && !r.ok && r.failure.kind !== "missing"
      ? `File ${req.file} is incorrect (${r.reason}), but unable to retry`
      : fs.existsSync(path.join(options.distdir, downloadName(req.file)))
        ? `File ${req.file} isn't fully fetched, but unable to complete it`
        : `File ${req.file} isn't fetched but unable to get it`;
  if (req.fetchRestricted) return { file: req.file, status: "restricted", path: F, tried: [] };
  throw new OuzoError("DISTDIR_READ_ONLY", `${why}: ${options.distdir} is not writable`, origin(options));
}

/**
 * Take a distfile's lock (Portage's lock-file protocol, §14.2, through core's FileLock), or
 * undefined when lock: "skip" and another fetcher has it. The previous holder deletes the lock
 * file when it lets go, so after taking it the path must still be the file that was locked
 * (same device, inode and birth time); otherwise it is taken again on the new file.
 */
async function lockDistfile(lockPath: string, options: FetchOptions, onWait: () => void): Promise<FileLock | undefined> {
  let told = false;
  for (;;) {
    const was = identity(lockPath);
    if (!was) {
      fs.closeSync(fs.openSync(lockPath, fs.constants.O_CREAT | fs.constants.O_RDWR, 0o660));
      continue;
    }
    const lock = new FileLock(lockPath, "ouzo fetch");
    if ((options.lock ?? "wait") === "skip") {
      if (!lock.tryAcquire()) return undefined;
    } else {
      await lock.acquire({
        timeoutMs: options.lockTimeoutMs ?? Infinity,
        onWait: () => {
          if (!told) onWait();
          told = true;
        },
      });
    }
    if (identity(lockPath) === was) return lock;
    lock.release();
  }
}

function identity(p: string): string | undefined {
  const st = fs.statSync(p, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}:${st.birthtimeNs}` : undefined;
}

/** Delete the lock file while still holding it (waiters then see it gone and retake a new one), then let go. */
function unlockDistfile(lockPath: string, lock: FileLock): void {
  try {
    fs.rmSync(lockPath, { force: true });
  } finally {
    lock.release();
  }
}

/** §6.5 under the lock: the present file, the partial file, the space, then each candidate. */
async function fetchLocked(req: FetchRequest, options: FetchOptions, dispatcher: Dispatcher, reporter: Reporter, F: string): Promise<FetchResult> {
  const distdir = options.distdir;
  const P = path.join(distdir, downloadName(req.file));
  const entry = req.manifest && !insufficient(req.manifest) ? req.manifest : undefined;
  const size = entry ? Number(entry.size) : undefined;
  const tried: TriedUri[] = [];
  const warn = (code: string, message: string) => reporter.report({ kind: "warning", code, message });

  // 2. the present file (again: another fetcher may have finished while this one waited)
  if (fs.lstatSync(F, { throwIfNoEntry: false })) {
    const r = await checkPresent(F, req, options);
    if (r?.ok) return { file: req.file, status: "present", path: F, tried, digests: r.digests };
    if (r && !r.ok && r.failure.kind !== "missing") {
      const aside = putAside(distdir, req.file, F);
      warn("FETCH_REFETCH", `${req.file}: ${r.reason}; refetching... file renamed to '${path.basename(aside)}'`);
    }
  }

  // PORTAGE_RO_DISTDIRS: a verified copy elsewhere is linked, not fetched
  if (entry) {
    for (const ro of options.roDistdirs ?? []) {
      const other = path.join(ro, req.file);
      if (!fs.existsSync(other)) continue;
      const r = await verifyFile(other, entry, { sizeOnly: options.sizeOnly });
      if (!r.ok) continue;
      fs.rmSync(F, { force: true });
      fs.symlinkSync(other, F);
      return { file: req.file, status: "linked", path: F, url: other, tried, digests: r.digests };
    }
  }

  // 3. the partial file
  const resumeMin = options.resumeMinSize ?? DEFAULTS.resumeMinSize;
  const pst = fs.lstatSync(P, { throwIfNoEntry: false });
  if (pst) {
    if (!pst.isFile() || pst.size === 0) fs.rmSync(P, { recursive: true, force: true });
    else if (size !== undefined && (pst.size >= size || pst.size < Math.min(resumeMin, size))) putAside(distdir, req.file, P);
  }

  const candidates = req.uris.map((u): CandidateUri => (typeof u === "string" ? { url: u, source: "primary" } : u));
  if (!candidates.length) {
    if (req.fetchRestricted) return { file: req.file, status: "restricted", path: F, tried };
    throw new OuzoError("FETCH_FAILED", `cannot fetch '${req.file}': no URI to fetch it from`, origin(options));
  }

  // 4. space
  spaceCheck(distdir, req.file, size, fs.statSync(P, { throwIfNoEntry: false })?.size ?? 0, options);

  // 5. each candidate; after 2 checksum failures the primary URIs are tried again (§6.3)
  const dl = new Download(req, options, dispatcher, reporter, P, size, entry);
  const queue = [...candidates];
  let checksumFailures = 0;
  let primaryAgain = false;
  const tryLimit = options.checksumTryMirrors ?? DEFAULTS.checksumTryMirrors;
  for (let i = 0; i < queue.length; i++) {
    options.signal?.throwIfAborted();
    const c = queue[i]!;
    const out = await dl.from(c);
    if (out.ok) {
      await finish(P, F);
      if (out.digests && Object.keys(out.digests).length) rememberDigests(F, out.digests);
      return { file: req.file, status: "fetched", path: F, url: c.url, tried, digests: out.digests };
    }
    tried.push({ url: c.url, reason: out.reason });
    if (out.checksum) {
      const aside = putAside(distdir, req.file, P, out.digests);
      warn("FETCH_CHECKSUM", `${req.file} from ${maskUrl(c.url)}: VERIFY FAILED: ${out.reason}; file renamed to '${path.basename(aside)}'`);
      dl.reset();
      if (++checksumFailures >= tryLimit) break;
      if (checksumFailures >= 2 && !primaryAgain) {
        primaryAgain = true;
        queue.push(...candidates.filter((x) => x.source === "primary" && queue.indexOf(x) <= i));
      }
    }
  }
  if (req.fetchRestricted) return { file: req.file, status: "restricted", path: F, tried };
  const list = tried.map((t) => `${maskUrl(t.url)}: ${t.reason}`).join(", ");
  const error = new OuzoError("FETCH_FAILED", `cannot fetch '${req.file}' (tried ${list})`, origin(options));
  return { file: req.file, status: "failed", path: F, tried, error };
}

/** P, complete and verified, becomes F: flushed, renamed, the directory flushed. */
async function finish(P: string, F: string): Promise<void> {
  const fh = await fs.promises.open(P, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  fs.renameSync(P, F);
  fsyncDir(path.dirname(F));
}

/**
 * Move a wrong file out of the way under `<name>._checksum_failure_.<random>` (§6.5), or delete
 * it when an identical copy is already kept under such a name. Returns where it is.
 */
function putAside(distdir: string, name: string, from: string, digests?: Readonly<Record<string, string>>): string {
  const size = fs.statSync(from).size;
  const prefix = `${name}${FAILURE_MARK}`;
  let mine: string | undefined = digests?.SHA512;
  for (const other of fs.readdirSync(distdir)) {
    if (!other.startsWith(prefix)) continue;
    const o = path.join(distdir, other);
    if (fs.statSync(o, { throwIfNoEntry: false })?.size !== size) continue;
    mine ??= sha512Sync(from);
    if (sha512Sync(o) === mine) {
      fs.rmSync(from, { force: true });
      return o;
    }
  }
  const to = path.join(distdir, prefix + randomName());
  fs.renameSync(from, to);
  return to;
}

function sha512Sync(file: string): string {
  const h = new MultiHasher(["SHA512"]);
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)); ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digests().SHA512!;
}

function randomName(): string {
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789_";
  return [...randomBytes(8)].map((b) => chars[b % chars.length]).join("");
}

/** §6.5 step 4: fail before downloading what would not fit. */
function spaceCheck(distdir: string, file: string, size: number | undefined, have: number, options: FetchOptions): void {
  if (size === undefined) return;
  let st: fs.StatsFs;
  try {
    st = fs.statfsSync(distdir);
  } catch {
    return;
  }
  const blocks = process.getuid?.() === 0 ? st.bfree : st.bavail;
  const free = st.bsize * blocks;
  if (size - have + st.bsize >= free) {
    throw new OuzoError("FETCH_NO_SPACE", `not enough space in ${distdir} for '${file}': ${size - have} bytes to fetch, ${free} available`, origin(options));
  }
}

/** Passwords in URLs are not shown. */
export function maskUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/:@]*:)[^/@]*@/, "$1****@");
}

// --- downloading into P ---

type Outcome =
  | { ok: true; digests?: Record<string, string> }
  /** checksum: the file came whole but is not the right one (P is to be put aside). */
  | { ok: false; reason: string; checksum: boolean; digests?: Record<string, string> };

/** A transient failure: worth another attempt at the same URI (resuming what came). */
class Transient extends Error {}

/**
 * The download of one file into P over the candidates in turn. Keeps a hasher in step with P's
 * bytes, so the digests are ready when the last byte arrives; a resumed download hashes the
 * bytes already in P once, when the server agrees to send the rest.
 */
class Download {
  private hasher: MultiHasher | undefined;
  private readonly algorithms: string[];
  private readonly task: string;

  constructor(
    private readonly req: FetchRequest,
    private readonly options: FetchOptions,
    private readonly dispatcher: Dispatcher,
    private readonly reporter: Reporter,
    private readonly P: string,
    private readonly size: number | undefined,
    private readonly entry: ManifestDist | undefined,
  ) {
    this.algorithms = options.sizeOnly ? [] : entry ? verifiableHashes(entry) : [...(options.manifestHashes ?? DEFAULT_MANIFEST_HASHES)];
    this.task = `fetch ${req.file}`;
  }

  /** P was put aside or deleted: start from nothing. */
  reset(): void {
    this.hasher = undefined;
  }

  private have(): number {
    return fs.statSync(this.P, { throwIfNoEntry: false })?.size ?? 0;
  }

  async from(c: CandidateUri): Promise<Outcome> {
    const attempts = Math.max(1, this.options.attemptsPerUri ?? DEFAULTS.attemptsPerUri);
    let last = "failed";
    for (let a = 0; a < attempts; a++) {
      if (a) await sleep(Math.min(2000, (this.options.retryDelayMs ?? DEFAULTS.retryDelayMs) * 2 ** (a - 1)), this.options.signal);
      try {
        const viaFs = c.url.startsWith("/") || c.url.startsWith("file://");
        if (!viaFs && !/^https?:\/\//i.test(c.url)) return { ok: false, reason: `unsupported URL scheme '${c.url.split(":")[0]}'`, checksum: false };
        const got = viaFs ? await this.copy(c.url) : await this.http(c.url);
        if (got) return got;
        return this.complete();
      } catch (e) {
        if (this.options.signal?.aborted) throw e;
        if (!(e instanceof Transient)) {
          if (e instanceof OuzoError) throw e;
          last = describeError(e);
          if (isPermanentNetworkError(e)) return { ok: false, reason: last, checksum: false };
        } else last = e.message;
        // what came stays in P to be resumed; the hasher follows it only if it is in step
        if (this.hasher && this.hasher.size !== this.have()) this.hasher = undefined;
      }
    }
    return { ok: false, reason: last, checksum: false };
  }

  /** P holds what the source sent: is it the file? */
  private complete(): Outcome {
    const have = this.have();
    if (this.size === undefined) return { ok: true, digests: this.hasher?.digests() };
    if (have < this.size) {
      if (improper404(this.P, this.req.file, have)) {
        fs.rmSync(this.P, { force: true });
        this.hasher = undefined;
        return { ok: false, reason: "Improper 404 redirect (an error page instead of the file)", checksum: false };
      }
      throw new Transient(`short read (${have} of ${this.size} bytes)`);
    }
    const digests = this.hasher && this.hasher.size === have ? this.hasher.digests() : undefined;
    this.hasher = undefined;
    if (!digests && !this.options.sizeOnly) throw new Transient("lost track of the downloaded bytes");
    const r = checkDigests(this.entry!, have, digests ?? {}, { sizeOnly: this.options.sizeOnly });
    return r.ok ? { ok: true, digests } : { ok: false, reason: r.reason, checksum: true, digests };
  }

  /** A filesystem mirror: the file is copied into P (hashed on the way). */
  private async copy(url: string): Promise<Outcome | undefined> {
    const src = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
    const st = fs.statSync(src, { throwIfNoEntry: false });
    if (!st?.isFile()) return { ok: false, reason: "no such file", checksum: false };
    if (this.size !== undefined && st.size !== this.size) return { ok: false, reason: `size ${st.size}, the Manifest says ${this.size}`, checksum: false };
    this.hasher = new MultiHasher(this.algorithms);
    const out = await fs.promises.open(this.P, "w", 0o664);
    try {
      await this.pump(fs.createReadStream(src, { highWaterMark: 1 << 20 }), out, 0);
    } finally {
      await out.close();
    }
    return undefined;
  }

  /** One HTTP request into P: resumed with Range when P has enough, restarted when the server sends it all. */
  private async http(url: string): Promise<Outcome | undefined> {
    let have = this.have();
    const resumeMin = this.options.resumeMinSize ?? DEFAULTS.resumeMinSize;
    if (have && have < resumeMin && (this.size === undefined || have < this.size)) have = 0; // too little to be worth a Range
    const timeout = this.options.timeoutMs ?? DEFAULTS.timeoutMs;
    const res = await request(url, {
      dispatcher: this.dispatcher,
      headers: { "accept-encoding": "identity", "user-agent": "ouzo", ...(have ? { range: `bytes=${have}-` } : {}) },
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: this.options.signal,
    });
    const status = res.statusCode;
    if (status === 416 && have) {
      // the server's file is no longer than the part already here: not the same file, start over
      await res.body.dump();
      fs.rmSync(this.P, { force: true });
      this.hasher = undefined;
      throw new Transient(`HTTP 416 for a resumed download`);
    }
    if (status !== 200 && status !== 206) {
      await res.body.dump();
      if (status >= 500 || status === 408 || status === 429) throw new Transient(`HTTP ${status}`);
      return { ok: false, reason: `HTTP ${status}`, checksum: false };
    }
    let start = 0;
    let total: number | undefined;
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers["content-range"] ?? ""));
      if (!m || Number(m[1]) !== have || !have) {
        // a part that does not continue ours: fetch it whole
        await res.body.dump();
        fs.rmSync(this.P, { force: true });
        this.hasher = undefined;
        throw new Transient("the server sent a range other than the one asked for");
      }
      start = have;
      total = m[3] === "*" ? undefined : Number(m[3]);
    } else {
      const len = res.headers["content-length"];
      total = len === undefined ? undefined : Number(len);
    }
    if (this.size !== undefined && total !== undefined && total !== this.size) {
      // the wrong file (an HTML page, another version): not worth downloading
      await res.body.dump();
      return { ok: false, reason: `the server's file has ${total} bytes, the Manifest says ${this.size}`, checksum: false };
    }
    if (start) {
      if (!this.hasher || this.hasher.size !== start) {
        this.hasher = new MultiHasher(this.algorithms);
        if (this.algorithms.length) await this.hasher.updateFromFile(this.P, start);
        else this.hasher.skip(start);
        if (this.hasher.size !== start) throw new Transient("the partial file changed while it was read");
      }
    } else this.hasher = new MultiHasher(this.algorithms);
    const out = await fs.promises.open(this.P, start ? "r+" : "w", 0o664);
    try {
      await this.pump(res.body, out, start);
    } catch (e) {
      res.body.destroy();
      throw e instanceof Transient || e instanceof OuzoError ? e : new Transient(describeError(e));
    } finally {
      await out.close();
    }
    // without a Manifest size, the server's word is all there is to know a cut transfer by
    if (this.size === undefined && total !== undefined && this.have() !== total) throw new Transient(`short read (${this.have()} of ${total} bytes)`);
    return undefined;
  }

  /**
   * Bytes from a stream into P at `start` (writes of 1 MiB), hashed on the way, with progress
   * events; more bytes than the Manifest size end it (P is then the wrong file, put aside).
   */
  private async pump(body: AsyncIterable<Buffer>, out: fs.promises.FileHandle, start: number): Promise<void> {
    let pos = start;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let lastReport = 0;
    const flush = async () => {
      if (!pendingBytes) return;
      let bufs = pending;
      let left = pendingBytes;
      pending = [];
      pendingBytes = 0;
      while (left > 0) {
        const { bytesWritten } = await out.writev(bufs, pos);
        pos += bytesWritten;
        left -= bytesWritten;
        if (left > 0) bufs = [Buffer.concat(bufs).subarray(bufs.reduce((n, b) => n + b.length, 0) - left)]; // a short write: the rest
      }
      const now = Date.now();
      if (now - lastReport >= 200) {
        lastReport = now;
        this.reporter.report({ kind: "progress", task: this.task, done: pos, total: this.size, item: this.req.file });
      }
    };
    for await (const chunk of body) {
      this.hasher?.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (this.size !== undefined && pos + pendingBytes > this.size) {
        await flush();
        await out.truncate(pos);
        return; // longer than the Manifest says: complete() sees the size ≥ expected and verifies
      }
      if (pendingBytes >= 1 << 20) await flush();
    }
    await flush();
    await out.truncate(pos);
    this.reporter.report({ kind: "progress", task: this.task, done: pos, total: this.size, item: this.req.file });
  }
}

/** §6.5: a small partial file that is an HTML "not found" page is not kept for resuming. */
function improper404(P: string, name: string, have: number): boolean {
  if (!have || have >= 100_000 || /\.html?$/i.test(name)) return false;
  try {
    return /<title>[^<]*(not found|404)/i.test(fs.readFileSync(P, "latin1"));
  } catch {
    return false;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!ms) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

function describeError(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return "the server stopped answering (timeout)";
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connection timed out";
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unknown host";
    case "UND_ERR_MAX_REDIRECTIONS":
      return "too many redirects";
    default: {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code) return describeError(cause);
      return (e as Error).message || String(e);
    }
  }
}

/** Errors another attempt at the same URI would only repeat. */
function isPermanentNetworkError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? (e as { cause?: { code?: string } }).cause?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "UND_ERR_MAX_REDIRECTIONS" || code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" || code === "DEPTH_ZERO_SELF_SIGNED_CERT" || code === "CERT_HAS_EXPIRED" || code === "UND_ERR_INVALID_ARG" || (e instanceof TypeError && /invalid url/i.test(e.message));
}

// --- the build's DISTDIR (§6.8) ---

/**
 * Make `buildDistdir` hold exactly one symlink per file of `files` (A), each pointing to the file
 * in `actualDistdir`, so a phase sees its own distfiles and no others. Other entries are removed;
 * anything there that is not a symlink is an error.
 */
export function linkDistdir(buildDistdir: string, files: readonly string[], actualDistdir: string): void {
  fs.mkdirSync(buildDistdir, { recursive: true });
  const want = new Map(files.map((f) => [f, path.join(path.resolve(actualDistdir), f)]));
  for (const f of want.keys()) {
    if (!f || f.includes("/") || f === "." || f === "..") throw new OuzoError("BAD_DISTFILE_NAME", `'${f}' is not a distfile name`);
  }
  for (const name of fs.readdirSync(buildDistdir)) {
    const p = path.join(buildDistdir, name);
    const st = fs.lstatSync(p);
    if (!st.isSymbolicLink()) throw new OuzoError("DISTDIR_NOT_LINKS", `${p} is not a symlink: the build's DISTDIR holds only links to distfiles`, { file: p });
    if (want.get(name) !== fs.readlinkSync(p)) fs.unlinkSync(p);
  }
  for (const [name, target] of want) {
    const p = path.join(buildDistdir, name);
    if (!fs.lstatSync(p, { throwIfNoEntry: false })) fs.symlinkSync(target, p);
  }
}
