// Stripping the image's ELF objects and archives (build spec §4.5, `estrip`): which files is the
// image step's choice (dostrip / STRIP_MASK, ELF facts); here they are stripped, with split debug
// information when FEATURES=splitdebug, several strip processes at once, each inode once.
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "../core/spawn.js";

/** elf: executable or shared object; object: `.o`; module: `.ko`; archive: `ar` archive. */
export type StripKind = "elf" | "object" | "module" | "archive";

export interface StripItem {
  /** Path relative to D, with leading `/`. */
  rel: string;
  abs: string;
  kind: StripKind;
  /** GNU build-id (hex), for the `.build-id` links of split debug files. */
  buildId?: string;
}

export interface StripOptions {
  /** D: `rel` paths are relative to it. */
  imageDir: string;
  /** ED: debug files go under `${ED}/usr/lib/debug`. */
  edDir: string;
  chost?: string;
  /** PORTAGE_STRIP_FLAGS; unset: the defaults for the strip found. */
  flags?: string;
  /** How many tools run at once. */
  jobs: number;
  splitdebug: boolean;
  compressdebug: boolean;
}

export interface StripOutcome {
  /** Image paths stripped (every name of a hard-linked file). */
  stripped: string[];
  /** Debug files written (image paths). */
  debugFiles: string[];
  failures: { path: string; message: string }[];
}

/** `${CHOST}-<tool>` when it is on PATH, else `<tool>` when it is, else undefined. */
export function findTool(tool: string, chost?: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(":").filter(Boolean);
  const onPath = (name: string) =>
    dirs.some((d) => {
      try {
        fs.accessSync(path.join(d, name), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  if (chost && onPath(`${chost}-${tool}`)) return `${chost}-${tool}`;
  return onPath(tool) ? tool : undefined;
}

/** Run `fn` over the items, at most `limit` at a time. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** Cut a list into pieces of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const GNU_FLAGS = "--strip-unneeded -N __gentoo_check_ldflags__ -R .comment -R .GCC.command.line -R .note.gnu.gold-version";
const OBJECT_FLAGS = ["--strip-unneeded", "-N", "__gentoo_check_ldflags__"];

const flavours = new Map<string, "gnu" | "elfutils">();

async function flavourOf(strip: string): Promise<"gnu" | "elfutils"> {
  let f = flavours.get(strip);
  if (!f) {
    const r = await run(strip, ["--version"]).catch(() => undefined);
    f = r && /elfutils/.test(r.stdout + r.stderr) ? "elfutils" : "gnu";
    flavours.set(strip, f);
  }
  return f;
}

/** What a file was before its tool ran, to put back afterwards. */
interface Saved {
  mode: number;
  uid: number;
  gid: number;
  atime: Date;
  mtime: Date;
}

function prepare(file: string): Saved {
  const st = fs.lstatSync(file);
  // strip rewrites the file: it must be writable by its owner meanwhile
  if (!(st.mode & 0o200)) fs.chmodSync(file, (st.mode & 0o7777) | 0o200);
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, atime: st.atime, mtime: st.mtime };
}

function restore(file: string, saved: Saved): void {
  const st = fs.lstatSync(file);
  if ((st.uid !== saved.uid || st.gid !== saved.gid) && process.getuid?.() === 0) fs.lchownSync(file, saved.uid, saved.gid);
  // after any chown: it drops set-id bits
  fs.chmodSync(file, saved.mode);
  fs.utimesSync(file, saved.atime, saved.mtime);
}

/** The other names of a hard-linked file point at the stripped one again (strip may write a new inode). */
function relink(group: StripItem[]): void {
  const rep = group[0]!;
  const ino = fs.lstatSync(rep.abs).ino;
  for (const other of group.slice(1)) {
    if (fs.lstatSync(other.abs).ino === ino) continue;
    const tmp = `${other.abs}.ouzo-link`;
    fs.rmSync(tmp, { force: true });
    fs.linkSync(rep.abs, tmp);
    fs.renameSync(tmp, other.abs);
  }
}

function relativeLink(target: string, link: string): void {
  fs.mkdirSync(path.dirname(link), { recursive: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(link), target), link);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
}

/**
 * Strip the items. Hard links (same inode) are stripped once; modes, owners and times are
 * kept; with `splitdebug`, executables, shared objects and kernel modules first give their
 * debug information to `/usr/lib/debug/<path>.debug`, with `.build-id` links.
 */
export async function stripFiles(items: readonly StripItem[], opts: StripOptions): Promise<StripOutcome> {
  const outcome: StripOutcome = { stripped: [], debugFiles: [], failures: [] };
  if (!items.length) return outcome;
  const strip = findTool("strip", opts.chost);
  if (!strip) {
    outcome.failures.push({ path: "/", message: "no strip program on PATH: nothing was stripped" });
    return outcome;
  }
  const objcopy = findTool("objcopy", opts.chost);
  const ranlib = findTool("ranlib", opts.chost);
  const flavour = await flavourOf(strip);
  const mainFlags = (opts.flags ?? (flavour === "elfutils" ? "--remove-comment" : GNU_FLAGS)).split(/\s+/).filter(Boolean);
  const flagsFor = (kind: StripKind): string[] => (kind === "archive" ? ["-g"] : kind === "elf" ? mainFlags : flavour === "elfutils" ? [] : OBJECT_FLAGS);

  // one group per inode: its first name is stripped, the others are linked to it again
  const byInode = new Map<string, StripItem[]>();
  for (const it of items) {
    const st = fs.lstatSync(it.abs);
    const key = `${st.dev}:${st.ino}`;
    const g = byInode.get(key);
    if (g) g.push(it);
    else byInode.set(key, [it]);
  }
  const groups = [...byInode.values()];

  const done = (group: StripItem[]) => outcome.stripped.push(...group.map((g) => g.rel));
  const fail = (item: StripItem, message: string) => outcome.failures.push({ path: item.rel, message: message.trim().split("\n")[0] || "failed" });

  const splitting = opts.splitdebug && objcopy !== undefined;
  const splitGroups = splitting ? groups.filter((g) => g[0]!.kind === "elf" || g[0]!.kind === "module") : [];
  const batchGroups = groups.filter((g) => !splitGroups.includes(g));

  // without split debug: one strip run for many files, several runs at once
  const batches: StripItem[][][] = [];
  for (const kind of ["elf", "object", "module", "archive"] as StripKind[]) {
    const ofKind = batchGroups.filter((g) => g[0]!.kind === kind);
    const size = Math.max(1, Math.min(64, Math.ceil(ofKind.length / (opts.jobs * 2))));
    batches.push(...chunks(ofKind, size));
  }

  const runOn = async (group: StripItem[], step: (file: string) => Promise<void>) => {
    const rep = group[0]!;
    const saved = prepare(rep.abs);
    try {
      await step(rep.abs);
    } finally {
      restore(rep.abs, saved);
      relink(group);
    }
  };

  const tasks: (() => Promise<void>)[] = [];
  for (const batch of batches) {
    tasks.push(async () => {
      const kind = batch[0]![0]!.kind;
      const saved = batch.map((g) => prepare(g[0]!.abs));
      let ok: boolean;
      try {
        const r = await run(strip, [...flagsFor(kind), ...batch.map((g) => g[0]!.abs)]);
        ok = r.code === 0;
      } finally {
        batch.forEach((g, i) => restore(g[0]!.abs, saved[i]!));
      }
      for (const g of batch) {
        if (!ok) {
          // find which files failed: one at a time
          let message = "";
          await runOn(g, async (file) => {
            const r = await run(strip, [...flagsFor(kind), file]);
            if (r.code !== 0) message = r.stderr || `exit ${r.code}`;
          });
          if (message) {
            fail(g[0]!, message);
            continue;
          }
        }
        if (kind === "archive" && ranlib) await runOn(g, async (file) => void (await run(ranlib, [file])));
        else relink(g);
        done(g);
      }
    });
  }
  for (const g of splitGroups) {
    tasks.push(async () => {
      const rep = g[0]!;
      const debug = path.join(opts.edDir, "usr/lib/debug", `${rep.rel}.debug`);
      const debugRel = `/${path.relative(opts.imageDir, debug)}`;
      let message = "";
      let split = false;
      await runOn(g, async (file) => {
        fs.mkdirSync(path.dirname(debug), { recursive: true });
        const keep = await run(objcopy!, ["--only-keep-debug", ...(opts.compressdebug ? ["--compress-debug-sections"] : []), file, debug]);
        split = keep.code === 0;
        if (!split) fs.rmSync(debug, { force: true });
        const r = await run(strip, [...flagsFor(rep.kind), file]);
        if (r.code !== 0) {
          message = r.stderr || `exit ${r.code}`;
          return;
        }
        if (split) {
          const link = await run(objcopy!, [`--add-gnu-debuglink=${debug}`, file]);
          if (link.code !== 0) message = link.stderr || `objcopy exit ${link.code}`;
        }
      });
      if (message) {
        fail(rep, message);
        return;
      }
      done(g);
      if (!split) return;
      const src = fs.lstatSync(rep.abs).mode;
      fs.chmodSync(debug, (src & 0o666 & ~0o002 & ~(src & 0o6000 ? 0o044 : 0)) | 0o400);
      outcome.debugFiles.push(debugRel);
      if (rep.buildId && rep.buildId.length > 2) {
        const base = path.join(opts.edDir, "usr/lib/debug/.build-id", rep.buildId.slice(0, 2), rep.buildId.slice(2));
        relativeLink(debug, `${base}.debug`);
        relativeLink(rep.abs, base);
      }
    });
  }
  await inParallel(tasks, opts.jobs, (t) => t());
  outcome.stripped.sort();
  outcome.debugFiles.sort();
  return outcome;
}
