// Documentation compression (build spec §4.6, `ecompress`; which paths: §3.11 `docompress`):
// candidates under the inclusion paths and not under the exclusion ones, compressed with
// PORTAGE_COMPRESS keeping their mtime, then symlinks that pointed at them re-pointed.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../core/spawn.js";
import { chunks, findTool, inParallel } from "./strip.js";

export interface CompressOptions {
  /** D: result paths are relative to it, absolute symlink targets resolve in it. */
  imageDir: string;
  /** ED: the docompress paths are relative to it. */
  edDir: string;
  include: readonly string[];
  exclude: readonly string[];
  /** PORTAGE_COMPRESS (a program name or path; not empty). */
  command: string;
  /** PORTAGE_COMPRESS_FLAGS; unset: the program's defaults (§4.6). */
  flags?: string;
  /** PORTAGE_DOCOMPRESS_SIZE_LIMIT: files of this size or smaller are left alone. */
  sizeLimit?: number;
  /** PORTAGE_COMPRESS_EXCLUDE_SUFFIXES (regex words matched against the extension). */
  excludeSuffixes?: string;
  jobs: number;
}

export interface CompressOutcome {
  /** The suffix the compressor adds (".bz2"). */
  suffix: string;
  /** Image paths of the compressed files, by their new names. */
  compressed: string[];
  /** Symlinks re-pointed to compressed names: old link path → new link path. */
  relinked: { from: string; to: string }[];
  /** Files left alone because `x` and a compressed `x.<sfx>` both exist. */
  collisions: string[];
  failures: { path: string; message: string }[];
}

export const DEFAULT_COMPRESS_EXCLUDE_SUFFIXES = "css gif htm[l]? jp[e]?g js pdf png";
export const DEFAULT_DOCOMPRESS_SIZE_LIMIT = 128;

const COMPRESSED_SUFFIXES = [".Z", ".gz", ".bz2", ".lzma", ".lz", ".lzo", ".lz4", ".xz", ".zst"];

/** Programs that take these suffixes off again. */
const DECOMPRESSORS: Record<string, [string, string[]]> = {
  ".gz": ["gzip", ["-d", "-f", "-q"]],
  ".Z": ["gzip", ["-d", "-f", "-q"]],
  ".bz2": ["bzip2", ["-d", "-f", "-q"]],
  ".xz": ["xz", ["-d", "-f", "-q"]],
  ".lzma": ["xz", ["-d", "-f", "-q", "--format=lzma"]],
  ".lz": ["lzip", ["-d", "-f", "-q"]],
};

const KNOWN_SUFFIX: Record<string, string> = {
  bzip2: ".bz2", pbzip2: ".bz2", lbzip2: ".bz2", gzip: ".gz", pigz: ".gz", xz: ".xz", pixz: ".xz", zstd: ".zst", pzstd: ".zst",
  lz4: ".lz4", lzip: ".lz", plzip: ".lz", lzma: ".lzma", lzop: ".lzo", compress: ".Z",
};

/** PORTAGE_COMPRESS_FLAGS when unset (§4.6). */
export function defaultCompressFlags(command: string, jobs: number): string {
  switch (path.basename(command)) {
    case "bzip2":
    case "gzip":
      return "-9";
    case "xz":
      return `-q -T${jobs} --memlimit-compress=50%`;
    case "zstd":
      return `-q --rm -T${jobs}`;
    case "lz4":
      return "-m --rm";
    default:
      return "";
  }
}

const suffixes = new Map<string, string>();

/** The suffix a compressor adds: known for the usual ones, else found by compressing a test file. */
export async function compressSuffix(command: string, flags: string[]): Promise<string> {
  const known = KNOWN_SUFFIX[path.basename(command)];
  if (known) return known;
  const key = `${command}\0${flags.join(" ")}`;
  const cached = suffixes.get(key);
  if (cached !== undefined) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-compress-"));
  try {
    fs.writeFileSync(path.join(dir, "test"), "ouzo compression test\n".repeat(20));
    await run(command, [...flags, path.join(dir, "test")]);
    const made = fs.readdirSync(dir).find((n) => n.startsWith("test") && n !== "test");
    const sfx = made ? made.slice(4) : "";
    suffixes.set(key, sfx);
    return sfx;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A path list entry stands for itself and everything beneath it (§3.11). */
export function underAny(rel: string, list: readonly string[]): boolean {
  return list.some((p) => p === "/" || rel === p || rel.startsWith(`${p}/`));
}

function compressedSuffixOf(name: string): string | undefined {
  return COMPRESSED_SUFFIXES.find((s) => name.endsWith(s) && name.length > s.length);
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function regularFilesUnder(root: string): string[] {
  const st = lstatOrUndefined(root);
  if (!st) return [];
  if (st.isFile()) return [root];
  if (!st.isDirectory()) return [];
  const out: string[] = [];
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) stack.push(p);
      else if (d.isFile()) out.push(p);
    }
  }
  return out;
}

function symlinksUnder(root: string): string[] {
  const out: string[] = [];
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let list: fs.Dirent[];
    try {
      list = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of list) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) stack.push(p);
      else if (d.isSymbolicLink()) out.push(p);
    }
  }
  return out;
}

/** Copy a hard-linked file over its own name, so compressing it leaves the other names alone. */
function breakHardLink(file: string, st: fs.Stats): void {
  const tmp = `${file}.ouzo-unlink`;
  fs.copyFileSync(file, tmp);
  fs.chmodSync(tmp, st.mode & 0o7777);
  if (process.getuid?.() === 0) fs.chownSync(tmp, st.uid, st.gid);
  fs.utimesSync(tmp, st.atime, st.mtime);
  fs.renameSync(tmp, file);
}

/** Compress the documentation of the image. */
export async function compressDocs(opts: CompressOptions): Promise<CompressOutcome> {
  const flags = (opts.flags ?? defaultCompressFlags(opts.command, opts.jobs)).split(/\s+/).filter(Boolean);
  const suffix = await compressSuffix(opts.command, flags);
  const outcome: CompressOutcome = { suffix, compressed: [], relinked: [], collisions: [], failures: [] };
  const limit = opts.sizeLimit ?? DEFAULT_DOCOMPRESS_SIZE_LIMIT;
  const edRel = (abs: string) => `/${path.relative(opts.edDir, abs)}`;
  const dRel = (abs: string) => `/${path.relative(opts.imageDir, abs)}`;
  let skipSuffix: RegExp | undefined;
  try {
    const words = (opts.excludeSuffixes ?? DEFAULT_COMPRESS_EXCLUDE_SUFFIXES).split(/\s+/).filter(Boolean);
    if (words.length) skipSuffix = new RegExp(`^(?:${words.join("|")})$`);
  } catch {
    skipSuffix = undefined;
  }

  // 1-2: candidates under the inclusion paths, minus the exclusion paths
  const marked = new Map<string, fs.Stats>();
  for (const inc of opts.include) {
    for (const abs of regularFilesUnder(path.join(opts.edDir, inc))) {
      if (marked.has(abs) || underAny(edRel(abs), opts.exclude)) continue;
      const st = fs.lstatSync(abs);
      if (st.size > limit || compressedSuffixOf(abs)) marked.set(abs, st);
    }
  }

  // x and x.<sfx> both there: neither is touched
  const todo: [string, fs.Stats][] = [];
  for (const [abs, st] of marked) {
    const sfx = compressedSuffixOf(abs);
    const partner = sfx ? [abs.slice(0, -sfx.length)] : COMPRESSED_SUFFIXES.map((s) => abs + s);
    const other = partner.find((p) => lstatOrUndefined(p));
    if (other) {
      outcome.collisions.push(dRel(abs));
      continue;
    }
    // 3: skipped suffixes, empty files, files already in the target format
    const ext = path.basename(abs).includes(".") ? path.extname(abs).slice(1) : "";
    if ((ext && skipSuffix?.test(ext)) || st.size === 0 || (sfx && sfx === suffix)) continue;
    todo.push([abs, st]);
  }
  outcome.collisions.sort();

  // decompress what another compressor made, so the chosen one does it again
  const plain: [string, fs.Stats][] = [];
  const toDecompress = new Map<string, [string, fs.Stats][]>();
  for (const [abs, st] of todo) {
    const sfx = compressedSuffixOf(abs);
    if (!sfx) plain.push([abs, st]);
    else if (DECOMPRESSORS[sfx] && findTool(DECOMPRESSORS[sfx]![0])) {
      const list = toDecompress.get(sfx) ?? [];
      list.push([abs, st]);
      toDecompress.set(sfx, list);
    }
  }
  const decompressTasks: (() => Promise<void>)[] = [];
  for (const [sfx, list] of toDecompress) {
    const [prog, args] = DECOMPRESSORS[sfx]!;
    for (const batch of chunks(list, 64)) {
      decompressTasks.push(async () => {
        for (const [abs, st] of batch) if (st.nlink > 1) breakHardLink(abs, st);
        await run(prog, [...args, ...batch.map(([abs]) => abs)]);
        for (const [abs, st] of batch) {
          const bare = abs.slice(0, -sfx.length);
          if (lstatOrUndefined(bare)?.isFile() && !lstatOrUndefined(abs)) plain.push([bare, st]);
          else outcome.failures.push({ path: dRel(abs), message: `could not decompress with ${prog}` });
        }
      });
    }
  }
  await inParallel(decompressTasks, opts.jobs, (t) => t());

  // compress, many files per run, several runs at once
  const size = Math.max(1, Math.min(64, Math.ceil(plain.length / (opts.jobs * 2))));
  const tasks = chunks(plain, size).map((batch) => async () => {
    for (const [abs, st] of batch) {
      if (st.nlink > 1 && fs.lstatSync(abs).nlink > 1) breakHardLink(abs, st);
      fs.rmSync(abs + suffix, { force: true });
    }
    const r = await run(opts.command, [...flags, ...batch.map(([abs]) => abs)]);
    for (const [abs, st] of batch) {
      const out = abs + suffix;
      if (lstatOrUndefined(out)?.isFile()) {
        fs.rmSync(abs, { force: true });
        // PMS: a compressed file keeps the mtime of the original
        fs.utimesSync(out, st.atime, st.mtime);
        outcome.compressed.push(dRel(out));
      } else {
        outcome.failures.push({ path: dRel(abs), message: (r.stderr.trim().split("\n")[0] || `${opts.command} exit ${r.code}`).trim() });
      }
    }
  });
  await inParallel(tasks, opts.jobs, (t) => t());
  outcome.compressed.sort();

  if (outcome.compressed.length) outcome.relinked = fixSymlinks(opts.imageDir, opts.edDir, suffix);
  return outcome;
}

/**
 * A symlink whose target is gone but `target<sfx>` exists becomes `link<sfx>` → `target<sfx>`
 * (a target that had another compressor's suffix is matched without it); repeated until
 * nothing changes, for chains of links.
 */
export function fixSymlinks(imageDir: string, edDir: string, suffix: string): { from: string; to: string }[] {
  const moved: { from: string; to: string }[] = [];
  let links = symlinksUnder(edDir);
  for (let round = 0; round < 100; round++) {
    let changed = false;
    const next: string[] = [];
    for (const link of links) {
      const target = fs.readlinkSync(link);
      const resolved = target.startsWith("/") ? path.join(imageDir, target) : path.resolve(path.dirname(link), target);
      if (fs.existsSync(resolved)) {
        next.push(link);
        continue;
      }
      let newTarget: string | undefined;
      let newLink = link + suffix;
      if (fs.existsSync(resolved + suffix)) newTarget = target + suffix;
      else {
        const old = compressedSuffixOf(target);
        if (old && old !== suffix && fs.existsSync(resolved.slice(0, -old.length) + suffix)) {
          newTarget = target.slice(0, -old.length) + suffix;
          if (link.endsWith(old)) newLink = link.slice(0, -old.length) + suffix;
        }
      }
      if (!newTarget || lstatOrUndefined(newLink)) {
        next.push(link);
        continue;
      }
      const st = fs.lstatSync(link);
      fs.unlinkSync(link);
      fs.symlinkSync(newTarget, newLink);
      if (process.getuid?.() === 0) fs.lchownSync(newLink, st.uid, st.gid);
      fs.lutimesSync(newLink, st.atime, st.mtime);
      moved.push({ from: `/${path.relative(imageDir, link)}`, to: `/${path.relative(imageDir, newLink)}` });
      next.push(newLink);
      changed = true;
    }
    links = next;
    if (!changed) break;
  }
  // a link moved twice reports where it started and where it ended
  const byEnd = new Map<string, { from: string; to: string }>();
  for (const m of moved) {
    const earlier = byEnd.get(m.from);
    if (earlier) byEnd.delete(m.from);
    byEnd.set(m.to, { from: earlier?.from ?? m.from, to: m.to });
  }
  return [...byEnd.values()].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
}
