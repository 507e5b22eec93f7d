// Processing the image after src_install (build spec §4): masks, ownership, QA, doc compression,
// stripping, empty directories, and the build-info files derived from the image (SIZE, NEEDED,
// NEEDED.ELF.2, PROVIDES, REQUIRES). One call, `processImage`, with plain values in and a record
// of what was done out; the build driver calls it once src_install has returned (`instprep`).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fsutil.js";
import type { Reporter } from "../core/reporter.js";
import { isSupportedEapi } from "../pms/eapi.js";
import { compressDocs, underAny } from "./compress.js";
import {
  ET_DYN,
  ET_EXEC,
  ET_REL,
  elfMachineName,
  fileKindOf,
  globRegExp,
  globSource,
  isSharedLibrary,
  multilibCategory,
  readElf,
  runImageQa,
  scanBuildLog,
  type ElfInfo,
  type ImageEntry,
  type QaFinding,
  type QaVariables,
} from "./imageQa.js";
import { findTool, stripFiles, type StripItem } from "./strip.js";

export type { QaFinding, QaVariables } from "./imageQa.js";

/** A docompress or dostrip list pair (§3.11): paths relative to ED. */
export interface PathLists {
  include: string[];
  exclude: string[];
}

export interface ImageInput {
  /** D. */
  imageDir: string;
  /** EPREFIX ("" on MARK): ED = D + EPREFIX. */
  eprefix?: string;
  eapi: string;
  category: string;
  pf: string;
  /** `category/pf` when not given. */
  cpv?: string;
  features: ReadonlySet<string>;
  /** RESTRICT, USE-conditionals evaluated. */
  restrict: ReadonlySet<string>;
  /** INSTALL_MASK (FEATURES nodoc/noman/noinfo are added here). */
  installMask?: string;
  /** PKG_INSTALL_MASK: not applied to D (it is for the binary package's copy, see applyInstallMask); recorded only. */
  pkgInstallMask?: string;
  /** From ${T}/.ouzo_docompress; unset: the initial lists of §3.11. */
  docompress?: PathLists;
  /** From ${T}/.ouzo_dostrip (EAPI 7+); unset: the initial lists of §3.11. */
  dostrip?: PathLists;
  /** STRIP_MASK (EAPI ≤6). */
  stripMask?: string;
  qa?: QaVariables;
  /** PROVIDES_EXCLUDE / REQUIRES_EXCLUDE (globs on sonames, or on paths when they hold a `/`). */
  providesExclude?: string;
  requiresExclude?: string;
  /** PORTAGE_COMPRESS: unset means bzip2 (MARK's default), "" turns compression off. */
  compress?: string;
  compressFlags?: string;
  compressExcludeSuffixes?: string;
  docompressSizeLimit?: number;
  chost?: string;
  /** PORTAGE_STRIP_FLAGS. */
  stripFlags?: string;
  /** Job count (from MAKEOPTS); never more than the machine's cores. */
  jobs?: number;
  cflags?: string;
  /** UID/GID of the build user (`portage`): their files become PORTAGE_INST_UID/GID. */
  buildUid?: number;
  buildGid?: number;
  instUid?: number;
  instGid?: number;
  /** The profile's MULTILIB_STRICT_DIRS / MULTILIB_STRICT_DENY (FEATURES=multilib-strict). */
  multilibStrictDirs?: string;
  multilibStrictDeny?: string;
  /** ${PORTAGE_BUILDDIR}/build-info: SIZE, NEEDED, … are written there when given. */
  buildInfoDir?: string;
  /** The build log, plain or gzip, scanned for §4.3 notices when given. */
  buildLog?: string;
  /** ${T}/qa.log: findings appended in its YAML form when given. */
  qaLog?: string;
  /** Whether an installed package provides a soname (for the unresolved-soname notice); unset: no such check. */
  isSonameInstalled?: (category: string, soname: string) => boolean;
}

/** One ELF object of the image, as NEEDED.ELF.2 records it. */
export interface ElfObject {
  path: string;
  arch: string;
  soname: string;
  rpath: string;
  needed: string[];
  /** Multilib category ("" when the machine is not known). */
  category: string;
  /** A shared library (not a PIE executable): it provides a soname. */
  library: boolean;
}

export interface ImageResult {
  /** SIZE: bytes of regular files, each inode once. */
  size: number;
  stripped: string[];
  debugFiles: string[];
  compressed: string[];
  relinked: { from: string; to: string }[];
  removed: { path: string; reason: "install-mask" | "empty-dir" | "info-dir" }[];
  qa: QaFinding[];
  elf: ElfObject[];
  /** Build-info files derived from the image: name → content (also written when buildInfoDir is given). */
  buildInfo: Record<string, string>;
}

/** What the image step needs from the EAPI table; to move into pms/eapi.ts (not ours to edit). */
interface ImageEapi {
  /** docompress exists (4+); before, fixed paths are compressed. */
  docompress: boolean;
  /** dostrip exists (7+); before, STRIP_MASK. */
  dostrip: boolean;
  /** Empty directories are dropped from the image (8+, upstream Portage). */
  dropEmptyDirs: boolean;
}

function imageEapi(eapi: string): ImageEapi {
  switch (eapi) {
    case "0":
    case "1":
    case "2":
    case "3":
      return { docompress: false, dostrip: false, dropEmptyDirs: false };
    case "4":
    case "5":
    case "6":
      return { docompress: true, dostrip: false, dropEmptyDirs: false };
    case "7":
      return { docompress: true, dostrip: true, dropEmptyDirs: false };
    default:
      return { docompress: true, dostrip: true, dropEmptyDirs: true };
  }
}

// --- path lists ---

/** §3.11: duplicate slashes collapsed, trailing slash removed, leading slash added, duplicates dropped. */
export function normalisePathList(list: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of list) {
    if (!p) continue;
    const n = `/${p}`.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
    out.add(n);
  }
  return [...out];
}

/** The `+path` / `-path` lines phase.sh writes to ${T}/.ouzo_docompress and .ouzo_dostrip. */
export function parsePathLists(text: string): PathLists {
  const lists: PathLists = { include: [], exclude: [] };
  for (const line of text.split("\n")) {
    if (line.startsWith("+")) lists.include.push(line.slice(1));
    else if (line.startsWith("-")) lists.exclude.push(line.slice(1));
  }
  return { include: normalisePathList(lists.include), exclude: normalisePathList(lists.exclude) };
}

/** The lists of such a file, or undefined when there is none (phase.sh did not write it). */
export function readPathLists(file: string): PathLists | undefined {
  try {
    return parsePathLists(fs.readFileSync(file, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export function initialDocompress(pf: string): PathLists {
  return { include: ["/usr/share/doc", "/usr/share/info", "/usr/share/man"], exclude: [`/usr/share/doc/${pf}/html`] };
}

export function initialDostrip(restrict: ReadonlySet<string>): PathLists {
  return { include: restrict.has("strip") ? [] : ["/"], exclude: [] };
}

// --- walking the image ---

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Every entry below `root` (not root itself), parents before children, names in order. Names
 * that are not UTF-8 are renamed with U+FFFD in place of the bad bytes (`renamed` hears of it).
 */
export function walkImage(root: string, renamed?: (from: string, to: string) => void): ImageEntry[] {
  const out: ImageEntry[] = [];
  const visit = (dir: string, rel: string) => {
    let names: Buffer[];
    try {
      names = fs.readdirSync(dir, { encoding: "buffer" });
    } catch {
      return;
    }
    const decoded = names.map((b) => {
      try {
        return utf8.decode(b);
      } catch {
        const fixed = b.toString("utf8");
        const to = path.join(dir, fixed);
        fs.renameSync(Buffer.concat([Buffer.from(`${dir}/`), b]), to);
        renamed?.(`${rel}/${b.toString("latin1")}`, `${rel}/${fixed}`);
        return fixed;
      }
    });
    for (const name of decoded.sort()) {
      const abs = path.join(dir, name);
      const st = fs.lstatSync(abs);
      const r = `${rel}/${name}`;
      out.push({ rel: r, abs, st });
      if (st.isDirectory()) visit(abs, r);
    }
  };
  visit(root, "");
  return out;
}

// --- INSTALL_MASK (§4.7) ---

export interface InstallMaskRule {
  exception: boolean;
  /** Starts with `/`: a glob on the path; otherwise a glob on the name. */
  anchored: boolean;
  re: RegExp;
}

export function parseInstallMask(value: string): InstallMaskRule[] {
  return value
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => {
      const exception = w.startsWith("-");
      let p = exception ? w.slice(1) : w;
      const anchored = p.startsWith("/");
      if (anchored) p = `/${p}`.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
      return { exception, anchored, re: globRegExp(p) };
    })
    .filter((r) => r.re.source !== "^$");
}

/** Whether a path (relative to ED, leading `/`) is masked: the last rule matching it or a parent decides. */
export function installMasked(rules: readonly InstallMaskRule[], rel: string): boolean {
  let masked = false;
  const chain: string[] = [];
  for (let p = rel; p !== "/" && p !== ""; p = path.posix.dirname(p)) chain.push(p);
  for (const r of rules) {
    if (chain.some((p) => r.re.test(r.anchored ? p : path.posix.basename(p)))) masked = !r.exception;
  }
  return masked;
}

/**
 * Remove what the mask covers from the tree at `edDir`, then the directories that emptied;
 * returns the removed paths (relative to edDir). Used on D for INSTALL_MASK and on the binary
 * package's copy for PKG_INSTALL_MASK.
 */
export function applyInstallMask(edDir: string, value: string): string[] {
  const rules = parseInstallMask(value);
  if (!rules.length) return [];
  const removed: string[] = [];
  const entries = walkImage(edDir);
  const touched = new Set<string>();
  const maskedDirs = new Set<string>();
  for (const e of entries) {
    const masked = installMasked(rules, e.rel);
    if (e.st.isDirectory()) {
      if (masked) maskedDirs.add(e.rel);
      continue;
    }
    if (!masked) continue;
    fs.unlinkSync(e.abs);
    removed.push(e.rel);
    touched.add(path.posix.dirname(e.rel));
  }
  for (const e of [...entries].reverse()) {
    if (!e.st.isDirectory() || !(touched.has(e.rel) || maskedDirs.has(e.rel))) continue;
    if (fs.readdirSync(e.abs).length) continue;
    fs.rmdirSync(e.abs);
    removed.push(e.rel);
    touched.add(path.posix.dirname(e.rel));
  }
  return removed.sort();
}

// --- the step ---

const cores = () => (typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length) || 1;

function report(reporter: Reporter, f: QaFinding): void {
  reporter.report(f.severity === "info" ? { kind: "info", message: f.message } : { kind: "warning", code: f.code, message: f.message });
}

function qaLogText(findings: readonly QaFinding[]): string {
  return findings
    .map((f) => `- tag: ${f.code}\n  data:\n    severity: ${f.severity}\n    message: ${JSON.stringify(f.message)}\n${f.path ? `  files:\n    - ${JSON.stringify(f.path)}\n` : ""}`)
    .join("");
}

function finding(code: string, severity: QaFinding["severity"], p: string | undefined, text: string): QaFinding {
  return { code, severity, path: p, message: p === undefined ? `QA Notice: ${text}` : `QA Notice: ${text}: ${p}` };
}

/** The image paths (or the whole image) that the package manager refuses before touching anything. */
function refusals(imageDir: string, entries: readonly ImageEntry[]): QaFinding[] {
  const out: QaFinding[] = [];
  const d = imageDir.replace(/\/+$/, "");
  const doubled = path.join(d, d);
  if (fs.existsSync(doubled)) {
    const under = walkImage(doubled).filter((e) => !e.st.isDirectory()).slice(0, 10);
    out.push(finding("QA_DOUBLE_D", "fatal", `/${path.relative(d, doubled)}`, `files installed into \${D}\${D} (a helper was given \${D}); e.g. ${under.map((e) => e.rel).join(" ") || "(empty dirs)"}`));
  }
  for (const e of entries) {
    const target = e.st.isSymbolicLink() ? fs.readlinkSync(e.abs) : "";
    if (/[\n\r]/.test(e.rel) || /[\n\r]/.test(target)) out.push(finding("QA_NEWLINE_PATH", "fatal", JSON.stringify(e.rel), "path or symlink target with a newline (CONTENTS cannot store it)"));
  }
  return out;
}

/** Files of the build user become PORTAGE_INST_UID/GID (§4.4); set-id bits that chown drops come back. */
function fixOwnership(entries: ImageEntry[], input: ImageInput): void {
  if (process.getuid?.() !== 0 || (input.buildUid === undefined && input.buildGid === undefined)) return;
  const instUid = input.instUid ?? 0;
  const instGid = input.instGid ?? 0;
  for (const e of entries) {
    const uid = e.st.uid === input.buildUid ? instUid : e.st.uid;
    const gid = e.st.gid === input.buildGid ? instGid : e.st.gid;
    if (uid === e.st.uid && gid === e.st.gid) continue;
    fs.lchownSync(e.abs, uid, gid);
    if (!e.st.isSymbolicLink()) fs.chmodSync(e.abs, e.st.mode & 0o7777);
    e.st = fs.lstatSync(e.abs);
  }
}

/** Absolute symlinks that point into D lose the D part (they would point into the build dir). */
function rewriteSymlinksIntoImage(imageDir: string, entries: ImageEntry[]): QaFinding[] {
  const d = imageDir.replace(/\/+$/, "");
  const out: QaFinding[] = [];
  for (const e of entries) {
    if (!e.st.isSymbolicLink()) continue;
    const target = fs.readlinkSync(e.abs);
    if (target !== d && !target.startsWith(`${d}/`)) continue;
    const fixed = target.slice(d.length) || "/";
    fs.unlinkSync(e.abs);
    fs.symlinkSync(fixed, e.abs);
    e.st = fs.lstatSync(e.abs);
    out.push(finding("QA_SYMLINK_INTO_IMAGE", "warning", e.rel, `absolute symlink into the image (\${D}), rewritten to ${fixed}`));
  }
  return out;
}

function readHead(file: string): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const b = Buffer.alloc(64);
    const n = fs.readSync(fd, b, 0, 64, 0);
    return b.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

function globsMatcher(value: string | undefined): (s: string) => boolean {
  const res = (value ?? "").split(/\s+/).filter(Boolean).map((g) => new RegExp(`^${globSource(g)}$`));
  return (s) => res.some((r) => r.test(s));
}

/** Sonames by multilib category: what the package provides, and what it needs from others with the objects needing them. */
export interface SonameDeps {
  provides: Map<string, Set<string>>;
  requires: Map<string, Map<string, string[]>>;
}

/**
 * PROVIDES and REQUIRES of §4.10: a library provides its SONAME (its file name when it has
 * none); a needed soname is the package's own when it provides it in that category or a file of
 * that name sits in the consumer's RUNPATH (`$ORIGIN` expanded) inside the image.
 */
export function sonameDeps(objects: readonly ElfObject[], input: Pick<ImageInput, "providesExclude" | "requiresExclude">, present: (rel: string) => boolean): SonameDeps {
  const providesEx = globsMatcher(input.providesExclude);
  const requiresEx = globsMatcher(input.requiresExclude);
  const provides = new Map<string, Set<string>>();
  for (const o of objects) {
    const soname = o.soname || (o.library ? path.posix.basename(o.path) : "");
    if (!o.category || !soname || !o.library || providesEx(soname) || providesEx(o.path)) continue;
    (provides.get(o.category) ?? provides.set(o.category, new Set()).get(o.category)!).add(soname);
  }
  const requires = new Map<string, Map<string, string[]>>();
  for (const o of objects) {
    if (!o.category) continue;
    const dirs = o.rpath
      .split(":")
      .filter(Boolean)
      .map((d) => d.replace(/\$(ORIGIN|\{ORIGIN\})/g, path.posix.dirname(o.path)));
    for (const n of o.needed) {
      if (provides.get(o.category)?.has(n)) continue;
      if (dirs.some((d) => present(path.posix.join(d, n)))) continue;
      if (requiresEx(n) || requiresEx(o.path)) continue;
      const cat = requires.get(o.category) ?? requires.set(o.category, new Map()).get(o.category)!;
      (cat.get(n) ?? cat.set(n, []).get(n)!).push(o.path);
    }
  }
  return { provides, requires };
}

/** The text of NEEDED, NEEDED.ELF.2, PROVIDES and REQUIRES (only those with content). */
export function elfBuildInfo(objects: readonly ElfObject[], deps: SonameDeps): Record<string, string> {
  const files: Record<string, string> = {};
  if (!objects.length) return files;
  files.NEEDED = objects.map((o) => `${o.path} ${o.needed.join(",")}\n`).join("");
  files["NEEDED.ELF.2"] = objects.map((o) => `${o.arch};${o.path};${o.soname};${o.rpath};${o.needed.join(",")};${o.category}\n`).join("");
  const line = (m: Map<string, Iterable<string>>) =>
    [...m.keys()]
      .sort()
      .map((c) => `${c}: ${[...m.get(c)!].sort().join(" ")}`)
      .join(" ");
  if (deps.provides.size) files.PROVIDES = `${line(deps.provides)}\n`;
  const req = new Map([...deps.requires].map(([c, m]) => [c, m.keys()] as const));
  if (req.size) files.REQUIRES = `${line(req)}\n`;
  return files;
}

/**
 * The `instprep` step: everything §4 does to D between src_install and the merge, in this order:
 * refusals (double D, newlines in paths), INSTALL_MASK, ownership, symlinks into D, image QA and
 * build-log QA (fatal findings throw IMAGE_QA), `usr/share/info/dir*` removal, doc compression,
 * stripping, empty directories, then SIZE and the ELF build-info files.
 */
export async function processImage(input: ImageInput, reporter: Reporter): Promise<ImageResult> {
  const cpv = input.cpv ?? `${input.category}/${input.pf}`;
  if (!isSupportedEapi(input.eapi)) throw new OuzoError("EAPI_UNSUPPORTED", `EAPI ${input.eapi} is not supported`, { pkg: cpv });
  const imageDir = path.resolve(input.imageDir);
  if (!fs.statSync(imageDir, { throwIfNoEntry: false })?.isDirectory()) throw new OuzoError("IMAGE_MISSING", `image directory ${imageDir} does not exist`, { pkg: cpv });
  const edDir = path.join(imageDir, input.eprefix ?? "");
  const edPrefix = `/${path.relative(imageDir, edDir)}`.replace(/\/$/, "");
  /** Path relative to ED (leading `/`) of an image path, or undefined when it lies outside ED. */
  const edRel = (rel: string) => (edPrefix === "" ? rel : rel === edPrefix ? "/" : rel.startsWith(`${edPrefix}/`) ? rel.slice(edPrefix.length) : undefined);
  const rules = imageEapi(input.eapi);
  const jobs = Math.max(1, Math.min(input.jobs ?? cores(), cores()));
  const qa = input.qa ?? {};
  const result: ImageResult = { size: 0, stripped: [], debugFiles: [], compressed: [], relinked: [], removed: [], qa: [], elf: [], buildInfo: {} };
  const add = (fs_: QaFinding[]) => {
    for (const f of fs_) {
      result.qa.push(f);
      report(reporter, f);
    }
  };
  reporter.report({ kind: "started", task: `image ${cpv}` });

  // refusals, before anything changes
  const renamed: QaFinding[] = [];
  let entries = walkImage(imageDir, (from, to) => renamed.push(finding("QA_NON_UTF8_NAME", "notice", to, `file name not valid UTF-8 (was ${JSON.stringify(from)}), renamed`)));
  add(renamed);
  const refused = refusals(imageDir, entries);
  add(refused);
  if (refused.length) throw new OuzoError("IMAGE_QA", `${refused.map((f) => f.message.replace(/^QA Notice: /, "")).join("; ")}`, { pkg: cpv });

  // INSTALL_MASK (with nodoc/noman/noinfo)
  const mask = [input.installMask ?? "", ...(["doc", "man", "info"] as const).filter((w) => input.features.has(`no${w}`)).map((w) => `/usr/share/${w}`)].join(" ").trim();
  for (const p of applyInstallMask(edDir, mask)) result.removed.push({ path: `${edPrefix}${p}`, reason: "install-mask" });
  if (result.removed.length) entries = walkImage(imageDir);

  fixOwnership(entries, input);
  add(rewriteSymlinksIntoImage(imageDir, entries));

  // ELF objects and archives
  const elves = new Map<string, ElfInfo>();
  const archives = new Set<string>();
  for (const e of entries) {
    if (!e.st.isFile() || e.st.size < 16) continue;
    let kind;
    try {
      kind = fileKindOf(readHead(e.abs));
    } catch {
      continue;
    }
    if (kind === "elf") {
      const info = readElf(e.abs);
      if (info) elves.set(e.rel, info);
    } else if (kind === "archive" && e.rel.endsWith(".a")) archives.add(e.rel);
  }

  // what stripping will look at: dostrip lists (7+) or everything minus STRIP_MASK
  const willStrip = !input.features.has("nostrip") && !input.restrict.has("strip");
  const stripScope = new Set<string>();
  if (willStrip) {
    const lists = rules.dostrip ? input.dostrip ?? initialDostrip(input.restrict) : undefined;
    const include = lists ? normalisePathList(lists.include) : [];
    const exclude = lists ? normalisePathList(lists.exclude) : [];
    const masked = globsMatcher(input.stripMask);
    for (const rel of [...elves.keys(), ...archives]) {
      const r = edRel(rel);
      if (r === undefined) continue;
      if (lists ? underAny(r, include) && !underAny(r, exclude) : !masked(r)) stripScope.add(rel);
    }
  }

  // QA of the image and of the build log
  add(
    runImageQa({
      imageDir,
      pf: input.pf,
      features: input.features,
      restrict: input.restrict,
      qa,
      entries,
      elves,
      stripCandidates: stripScope,
      instUid: input.instUid ?? 0,
      cflags: input.cflags,
      multilibStrictDirs: input.multilibStrictDirs,
      multilibStrictDeny: input.multilibStrictDeny,
    }),
  );
  if (input.buildLog && fs.existsSync(input.buildLog)) {
    let log = fs.readFileSync(input.buildLog);
    if (log[0] === 0x1f && log[1] === 0x8b) log = zlib.gunzipSync(log);
    add(scanBuildLog(log.toString("utf8"), qa));
  }
  const fatal = result.qa.filter((f) => f.severity === "fatal");
  if (input.qaLog && result.qa.length) fs.appendFileSync(input.qaLog, qaLogText(result.qa));
  if (fatal.length) {
    throw new OuzoError("IMAGE_QA", `${fatal.length} QA problem(s) stop the install: ${fatal.map((f) => f.message.replace(/^QA Notice: /, "")).join("; ")}`, { pkg: cpv });
  }

  // the system regenerates the info directory file
  const infoDir = path.join(edDir, "usr/share/info");
  for (const name of listOrEmpty(infoDir)) {
    if (!/^dir(\.[A-Za-z0-9]+)?$/.test(name)) continue;
    fs.rmSync(path.join(infoDir, name), { force: true });
    result.removed.push({ path: `${edPrefix}/usr/share/info/${name}`, reason: "info-dir" });
  }

  // doc compression
  const compressor = input.compress ?? "bzip2";
  if (compressor.trim()) {
    const [command, ...inlineFlags] = compressor.trim().split(/\s+/);
    if (!command!.includes("/") && !findTool(command!)) {
      add([finding("IMAGE_COMPRESS_MISSING", "warning", undefined, `PORTAGE_COMPRESS=${command} is not on PATH: documentation left uncompressed`)]);
    } else {
      const lists = rules.docompress ? input.docompress ?? initialDocompress(input.pf) : initialDocompress(input.pf);
      const flags = input.compressFlags ?? (inlineFlags.length ? inlineFlags.join(" ") : undefined);
      const c = await compressDocs({
        imageDir,
        edDir,
        include: normalisePathList(lists.include),
        exclude: normalisePathList(lists.exclude),
        command: command!,
        flags,
        sizeLimit: input.docompressSizeLimit,
        excludeSuffixes: input.compressExcludeSuffixes,
        jobs,
      });
      result.compressed = c.compressed;
      result.relinked = c.relinked;
      add(c.collisions.map((p) => finding("QA_COMPRESS_COLLISION", "notice", p, "colliding files (both x and a compressed x exist): not compressed")));
      add(c.failures.map((f) => finding("QA_COMPRESS_FAILED", "warning", f.path, `could not compress (${f.message})`)));
    }
  }

  // stripping
  const unsupported: [string, string][] = [
    ["installsources", "no sources copied to /usr/src/debug (needs debugedit)"],
    ["dedupdebug", "debug information not deduplicated (needs dwz)"],
    ["xattr", "extended attributes of stripped files are not kept"],
  ];
  for (const [feature, what] of unsupported) {
    if (willStrip && input.features.has(feature)) add([finding("IMAGE_FEATURE_UNSUPPORTED", "warning", undefined, `FEATURES=${feature} is not supported yet: ${what}`)]);
  }
  if (willStrip && stripScope.size) {
    const items: StripItem[] = [];
    for (const rel of [...stripScope].sort()) {
      const abs = path.join(imageDir, rel);
      if (!fs.lstatSync(abs, { throwIfNoEntry: false })?.isFile()) continue;
      if (archives.has(rel)) {
        items.push({ rel, abs, kind: "archive" });
        continue;
      }
      const e = elves.get(rel)!;
      // a file with neither symbols nor debug information has nothing to strip
      if (!e.symtab && !e.debugInfo && !e.gccCommandLine) continue;
      if (e.type === ET_EXEC || e.type === ET_DYN) items.push({ rel, abs, kind: "elf", buildId: e.buildId });
      else if (e.type === ET_REL) items.push({ rel, abs, kind: rel.endsWith(".ko") ? "module" : "object", buildId: e.buildId });
    }
    const s = await stripFiles(items, {
      imageDir,
      edDir,
      chost: input.chost,
      flags: input.stripFlags,
      jobs,
      splitdebug: input.features.has("splitdebug") && !input.restrict.has("splitdebug"),
      compressdebug: input.features.has("compressdebug"),
    });
    result.stripped = s.stripped;
    result.debugFiles = s.debugFiles;
    add(s.failures.map((f) => finding("QA_STRIP_FAILED", "warning", f.path, `strip failed (${f.message})`)));
  }

  // empty directories (§4.8): dropped in EAPI 8 / strict-keepdir, a notice under /var otherwise;
  // worked out from one listing of the final image, which also gives SIZE
  let final = walkImage(imageDir);
  const children = new Map<string, number>();
  for (const e of final) children.set(path.posix.dirname(e.rel), (children.get(path.posix.dirname(e.rel)) ?? 0) + 1);
  if (rules.dropEmptyDirs || input.features.has("strict-keepdir")) {
    const gone = new Set<string>();
    for (const e of [...final].reverse()) {
      if (!e.st.isDirectory() || children.get(e.rel)) continue;
      fs.rmdirSync(e.abs);
      gone.add(e.rel);
      result.removed.push({ path: e.rel, reason: "empty-dir" });
      const parent = path.posix.dirname(e.rel);
      children.set(parent, (children.get(parent) ?? 1) - 1);
    }
    if (gone.size) final = final.filter((e) => !gone.has(e.rel));
  } else {
    add(final.filter((e) => e.st.isDirectory() && (e.rel === "/var" || e.rel.startsWith("/var/")) && !children.get(e.rel)).map((e) => finding("QA_EMPTY_VAR_DIR", "notice", e.rel, "empty directory under /var (use keepdir if it must exist)")));
  }

  // SIZE, NEEDED, NEEDED.ELF.2, PROVIDES, REQUIRES
  const present = new Set(final.map((e) => e.rel));
  const inodes = new Set<string>();
  for (const e of final) {
    if (!e.st.isFile()) continue;
    const key = `${e.st.dev}:${e.st.ino}`;
    if (inodes.has(key)) continue;
    inodes.add(key);
    result.size += e.st.size;
  }
  result.elf = [...elves]
    .filter(([rel]) => present.has(rel))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([rel, e]) => ({
      path: rel,
      arch: elfMachineName(e.machine),
      soname: e.soname,
      rpath: e.rpath,
      needed: e.needed,
      category: multilibCategory(e) ?? "",
      library: isSharedLibrary(rel, e),
    }));
  const deps = sonameDeps(result.elf, input, (rel) => present.has(rel));
  result.buildInfo = { SIZE: `${result.size}\n`, ...elfBuildInfo(result.elf, deps) };
  if (!willStrip) result.buildInfo.DEBUGBUILD = "";
  if (mask) result.buildInfo.INSTALL_MASK = `${mask}\n`;
  if (input.pkgInstallMask?.trim()) result.buildInfo.PKG_INSTALL_MASK = `${input.pkgInstallMask.trim().split(/\s+/).join(" ")}\n`;

  // §4.1 step 10: a needed soname that neither this package nor an installed one provides
  if (input.isSonameInstalled) {
    for (const [category, sonames] of deps.requires) {
      for (const [soname, users] of sonames) {
        if (!input.isSonameInstalled(category, soname)) add([finding("QA_UNRESOLVED_SONAME", "warning", users[0], `needs ${soname} (${category}), which no package provides`)]);
      }
    }
  }

  if (input.buildInfoDir) {
    for (const name of ["NEEDED", "NEEDED.ELF.2", "PROVIDES", "REQUIRES", "DEBUGBUILD"]) {
      if (!(name in result.buildInfo)) fs.rmSync(path.join(input.buildInfoDir, name), { force: true });
    }
    for (const [name, text] of Object.entries(result.buildInfo)) atomicWriteFile(path.join(input.buildInfoDir, name), text, 0o644, { fsync: false });
  }
  reporter.report({ kind: "finished", task: `image ${cpv}`, message: `${result.stripped.length} stripped, ${result.compressed.length} compressed, ${result.removed.length} removed, SIZE ${result.size}` });
  return result;
}

function listOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
