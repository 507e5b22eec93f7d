// The image's QA (build spec §4.2, §4.3) and the ELF facts it and the build-info files need
// (§4.10): ELF headers are read here in TypeScript, so neither scanelf nor file(1) is needed.
// Every check is a named rule giving findings (code, severity, path, one line), which the image
// step reports as warnings and renders as "QA Notice:" lines.
import * as fs from "node:fs";
import * as path from "node:path";

// --- ELF ---

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PT_NOTE = 4;
const PT_GNU_STACK = 0x6474e551;
const PF_X = 1;
const PF_W = 2;
const SHT_SYMTAB = 2;
const SHT_DYNAMIC = 6;
const SHT_NOTE = 7;
const SHF_EXECINSTR = 4;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_TEXTREL = 22;
const DT_RUNPATH = 29;
const DT_FLAGS = 30;
const DF_TEXTREL = 4;
const NT_GNU_BUILD_ID = 3;
const EF_MIPS_ABI2 = 0x20;

/** What the image step needs to know of one ELF object. */
export interface ElfInfo {
  bits: 32 | 64;
  littleEndian: boolean;
  /** e_type: ET_REL, ET_EXEC, ET_DYN, … */
  type: number;
  machine: number;
  flags: number;
  /** Has a PT_INTERP: an executable (also a PIE), not a library. */
  interp: boolean;
  /** Has a dynamic section. */
  dynamic: boolean;
  soname: string;
  needed: string[];
  /** DT_RUNPATH, else DT_RPATH ("" when none), as scanelf's `%r`. */
  rpath: string;
  textrel: boolean;
  /** PT_GNU_STACK (or `.note.GNU-stack` for objects): "missing" means the toolchain default, an executable stack. */
  stack: "noexec" | "exec" | "missing";
  /** A PT_LOAD segment both writable and executable. */
  wxLoad: boolean;
  /** GNU build-id in hex, "" when none. */
  buildId: string;
  symtab: boolean;
  debugInfo: boolean;
  gccCommandLine: boolean;
}

/** What a regular file is, from its first bytes. */
export type FileKind = "elf" | "archive" | "other";

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const AR_MAGIC = Buffer.from("!<arch>\n", "latin1");

export function fileKindOf(head: Buffer): FileKind {
  if (head.length >= 16 && head.subarray(0, 4).equals(ELF_MAGIC)) return "elf";
  if (head.length >= 8 && head.subarray(0, 8).equals(AR_MAGIC)) return "archive";
  return "other";
}

/** Tables larger than this are not believed (a damaged or hostile file). */
const MAX_TABLE = 64 << 20;

class ElfFile {
  readonly le: boolean;
  readonly is64: boolean;
  constructor(
    private readonly fd: number,
    readonly size: number,
    head: Buffer,
  ) {
    this.is64 = head[4] === 2;
    this.le = head[5] === 1;
  }
  read(pos: number, len: number): Buffer {
    if (pos < 0 || len < 0 || len > MAX_TABLE || pos + len > this.size) throw new RangeError("outside the file");
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, b, got, len - got, pos + got);
      if (n === 0) throw new RangeError("short read");
      got += n;
    }
    return b;
  }
  u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }
  u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }
  u64(b: Buffer, o: number): number {
    return Number(this.le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  }
  i64(b: Buffer, o: number): number {
    return Number(this.le ? b.readBigInt64LE(o) : b.readBigInt64BE(o));
  }
  /** A native-word field (32 or 64 bits). */
  word(b: Buffer, o: number): number {
    return this.is64 ? this.u64(b, o) : this.u32(b, o);
  }
}

interface Segment { type: number; flags: number; offset: number; vaddr: number; filesz: number; align: number }
interface Section { name: string; type: number; flags: number; offset: number; size: number; link: number; align: number }

function cstring(b: Buffer, at: number): string {
  if (at < 0 || at >= b.length) return "";
  const end = b.indexOf(0, at);
  return b.toString("utf8", at, end < 0 ? b.length : end);
}

function parseNotes(f: ElfFile, data: Buffer, align: number): string {
  const pad = (n: number) => (n + (align - 1)) & ~(align - 1);
  let o = 0;
  while (o + 12 <= data.length) {
    const namesz = f.u32(data, o);
    const descsz = f.u32(data, o + 4);
    const type = f.u32(data, o + 8);
    const nameAt = o + 12;
    const descAt = nameAt + pad(namesz);
    if (descAt + descsz > data.length) break;
    if (type === NT_GNU_BUILD_ID && namesz === 4 && data.toString("latin1", nameAt, nameAt + 3) === "GNU") {
      return data.subarray(descAt, descAt + descsz).toString("hex");
    }
    o = descAt + pad(descsz);
  }
  return "";
}

/**
 * The ELF facts of a file (section and program headers, the dynamic section, the build-id note),
 * or undefined when it is not an ELF object this reader understands.
 */
export function readElf(file: string): ElfInfo | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 52) return undefined;
    const head = Buffer.alloc(64);
    fs.readSync(fd, head, 0, 64, 0);
    if (fileKindOf(head) !== "elf" || (head[4] !== 1 && head[4] !== 2) || (head[5] !== 1 && head[5] !== 2)) return undefined;
    return parseElf(new ElfFile(fd, size, head), head);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function parseElf(f: ElfFile, h: Buffer): ElfInfo {
  const is64 = f.is64;
  const type = f.u16(h, 16);
  const machine = f.u16(h, 18);
  const phoff = is64 ? f.u64(h, 32) : f.u32(h, 28);
  const shoff = is64 ? f.u64(h, 40) : f.u32(h, 32);
  const flags = f.u32(h, is64 ? 48 : 36);
  const phentsize = f.u16(h, is64 ? 54 : 42);
  const phnum = f.u16(h, is64 ? 56 : 44);
  const shentsize = f.u16(h, is64 ? 58 : 46);
  let shnum = f.u16(h, is64 ? 60 : 48);
  let shstrndx = f.u16(h, is64 ? 62 : 50);

  const segments: Segment[] = [];
  if (phoff && phnum && phentsize >= (is64 ? 56 : 32)) {
    const t = f.read(phoff, phnum * phentsize);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      segments.push(
        is64
          ? { type: f.u32(t, o), flags: f.u32(t, o + 4), offset: f.u64(t, o + 8), vaddr: f.u64(t, o + 16), filesz: f.u64(t, o + 32), align: f.u64(t, o + 48) }
          : { type: f.u32(t, o), offset: f.u32(t, o + 4), vaddr: f.u32(t, o + 8), filesz: f.u32(t, o + 16), flags: f.u32(t, o + 24), align: f.u32(t, o + 28) },
      );
    }
  }

  const sections: Section[] = [];
  if (shoff && shentsize >= (is64 ? 64 : 40)) {
    const readSh = (i: number) => f.read(shoff + i * shentsize, shentsize);
    if (shnum === 0 || shstrndx === 0xffff) {
      // extended numbering: the real values sit in section 0
      const s0 = readSh(0);
      if (shnum === 0) shnum = is64 ? f.u64(s0, 32) : f.u32(s0, 20);
      if (shstrndx === 0xffff) shstrndx = f.u32(s0, is64 ? 40 : 24);
    }
    const t = f.read(shoff, shnum * shentsize);
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      raw.push(
        is64
          ? { nameAt: f.u32(t, o), type: f.u32(t, o + 4), flags: f.u64(t, o + 8), offset: f.u64(t, o + 24), size: f.u64(t, o + 32), link: f.u32(t, o + 40), align: f.u64(t, o + 48) }
          : { nameAt: f.u32(t, o), type: f.u32(t, o + 4), flags: f.u32(t, o + 8), offset: f.u32(t, o + 16), size: f.u32(t, o + 20), link: f.u32(t, o + 24), align: f.u32(t, o + 32) },
      );
    }
    let names: Buffer = Buffer.alloc(0);
    const strsec = raw[shstrndx];
    if (strsec && strsec.type !== 8) {
      try {
        names = f.read(strsec.offset, strsec.size);
      } catch {
        // a damaged name table: sections stay nameless
      }
    }
    for (const s of raw) sections.push({ name: cstring(names, s.nameAt), type: s.type, flags: s.flags, offset: s.offset, size: s.size, link: s.link, align: s.align });
  }

  const info: ElfInfo = {
    bits: is64 ? 64 : 32,
    littleEndian: f.le,
    type,
    machine,
    flags,
    interp: segments.some((s) => s.type === PT_INTERP),
    dynamic: false,
    soname: "",
    needed: [],
    rpath: "",
    textrel: false,
    stack: "missing",
    wxLoad: segments.some((s) => s.type === PT_LOAD && (s.flags & (PF_W | PF_X)) === (PF_W | PF_X)),
    buildId: "",
    symtab: sections.some((s) => s.type === SHT_SYMTAB),
    debugInfo: sections.some((s) => s.name.startsWith(".debug_") || s.name.startsWith(".zdebug_")),
    gccCommandLine: sections.some((s) => s.name === ".GCC.command.line"),
  };

  const stackSeg = segments.find((s) => s.type === PT_GNU_STACK);
  if (stackSeg) info.stack = stackSeg.flags & PF_X ? "exec" : "noexec";
  else if (type === ET_REL) {
    const note = sections.find((s) => s.name === ".note.GNU-stack");
    if (note) info.stack = note.flags & SHF_EXECINSTR ? "exec" : "noexec";
  }

  // build-id: from the note segments, else the note sections
  const notes: { offset: number; size: number; align: number }[] = segments.some((s) => s.type === PT_NOTE)
    ? segments.filter((s) => s.type === PT_NOTE).map((s) => ({ offset: s.offset, size: s.filesz, align: s.align }))
    : sections.filter((s) => s.type === SHT_NOTE).map((s) => ({ offset: s.offset, size: s.size, align: s.align }));
  for (const n of notes) {
    try {
      info.buildId = parseNotes(f, f.read(n.offset, n.size), n.align === 8 ? 8 : 4);
    } catch {
      continue;
    }
    if (info.buildId) break;
  }

  // the dynamic section: its segment, else its section
  const dynSeg = segments.find((s) => s.type === PT_DYNAMIC);
  const dynSec = sections.find((s) => s.type === SHT_DYNAMIC);
  const dynAt = dynSeg ? { offset: dynSeg.offset, size: dynSeg.filesz } : dynSec ? { offset: dynSec.offset, size: dynSec.size } : undefined;
  if (dynAt && dynAt.size) {
    info.dynamic = true;
    const d = f.read(dynAt.offset, dynAt.size);
    const ent = is64 ? 16 : 8;
    const tags: [number, number][] = [];
    for (let o = 0; o + ent <= d.length; o += ent) {
      const tag = is64 ? f.i64(d, o) : f.u32(d, o) | 0;
      if (tag === 0) break;
      tags.push([tag, f.word(d, o + (is64 ? 8 : 4))]);
    }
    const strtabAddr = tags.find(([t]) => t === DT_STRTAB)?.[1];
    const strsz = tags.find(([t]) => t === DT_STRSZ)?.[1];
    let strtab: Buffer | undefined;
    const load = strtabAddr === undefined ? undefined : segments.find((s) => s.type === PT_LOAD && strtabAddr >= s.vaddr && strtabAddr < s.vaddr + s.filesz);
    try {
      if (load && strtabAddr !== undefined) {
        const off = strtabAddr - load.vaddr + load.offset;
        strtab = f.read(off, Math.min(strsz ?? load.filesz, f.size - off));
      } else if (dynSec && sections[dynSec.link]) {
        const s = sections[dynSec.link]!;
        strtab = f.read(s.offset, s.size);
      }
    } catch {
      strtab = undefined;
    }
    let rpath = "";
    let runpath = "";
    for (const [tag, val] of tags) {
      if (tag === DT_TEXTREL) info.textrel = true;
      else if (tag === DT_FLAGS && val & DF_TEXTREL) info.textrel = true;
      else if (strtab) {
        if (tag === DT_NEEDED) info.needed.push(cstring(strtab, val));
        else if (tag === DT_SONAME) info.soname = cstring(strtab, val);
        else if (tag === DT_RPATH) rpath = rpath ? `${rpath}:${cstring(strtab, val)}` : cstring(strtab, val);
        else if (tag === DT_RUNPATH) runpath = runpath ? `${runpath}:${cstring(strtab, val)}` : cstring(strtab, val);
      }
    }
    info.rpath = runpath || rpath;
  }
  return info;
}

/** scanelf's machine names (`EM_` + this): the first column of NEEDED.ELF.2 is the name alone. */
const MACHINE_NAMES: Record<number, string> = {
  2: "SPARC", 3: "386", 4: "68K", 8: "MIPS", 10: "MIPS_RS3_LE", 15: "PARISC", 18: "SPARC32PLUS", 20: "PPC", 21: "PPC64",
  22: "S390", 40: "ARM", 42: "SH", 43: "SPARCV9", 50: "IA_64", 62: "X86_64", 183: "AARCH64", 243: "RISCV", 258: "LOONGARCH",
  0x9026: "ALPHA",
};

export function elfMachineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? String(machine);
}

/** The multilib category of an object (§4.10): `<arch>_<abi>`, undefined for a machine not known here. */
export function multilibCategory(e: ElfInfo): string | undefined {
  const bits = String(e.bits);
  switch (e.machine) {
    case 3:
      return "x86_32";
    case 62:
      return e.bits === 32 ? "x86_x32" : "x86_64";
    case 40:
    case 183:
      return `arm_${bits}`;
    case 20:
    case 21:
      return `ppc_${bits}`;
    case 22:
      return `s390_${bits}`;
    case 2:
    case 18:
    case 43:
      return `sparc_${bits}`;
    case 8:
    case 10:
      return e.bits === 64 ? "mips_n64" : e.flags & EF_MIPS_ABI2 ? "mips_n32" : "mips_o32";
    case 243: {
      const float = ["", "f", "d", "q"][(e.flags >> 1) & 3];
      return `riscv_${e.bits === 64 ? "lp64" : "ilp32"}${float}`;
    }
    case 258:
      return e.bits === 64 ? "loong_lp64d" : "loong_ilp32d";
    case 0x9026:
      return "alpha_64";
    case 50:
      return "ia64_64";
    case 4:
      return "m68k_32";
    case 42:
      return "sh_32";
    case 15:
      return `hppa_${bits}`;
    default:
      return undefined;
  }
}

/** A description in the words of `file -S` (what MULTILIB_STRICT_DENY regexes are written against). */
export function describeElf(e: ElfInfo): string {
  const kind = e.type === ET_REL ? "relocatable" : e.type === ET_EXEC ? "executable" : e.type === ET_DYN ? (e.interp ? "pie executable" : "shared object") : "core file";
  return `ELF ${e.bits}-bit ${e.littleEndian ? "LSB" : "MSB"} ${kind}`;
}

/** Whether an object is a shared library (not a PIE executable), the only kind that provides a soname. */
export function isSharedLibrary(rel: string, e: ElfInfo): boolean {
  return e.type === ET_DYN && (e.soname !== "" || (!e.interp && /\.so(\.|$)/.test(path.posix.basename(rel))));
}

// --- patterns ---

/** A shell/fnmatch glob as a regular expression source (`*` also crosses `/`, as fnmatch and `[[ == ]]` do). */
export function globSource(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      let j = i + 1;
      if (glob[j] === "!" || glob[j] === "^") j++;
      if (glob[j] === "]") j++;
      while (j < glob.length && glob[j] !== "]") j++;
      if (j >= glob.length) out += "\\[";
      else {
        let body = glob.slice(i + 1, j);
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        out += `[${body.replace(/\\/g, "\\\\")}]`;
        i = j;
      }
    } else out += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return out;
}

export function globRegExp(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`);
}

/**
 * A QA_* variable as one matcher of image paths (relative to ED, with or without the leading
 * slash): regex-valued ones (QA_PRESTRIPPED, QA_SONAME, …) as extended regexes, glob-valued
 * ones (QA_EXECSTACK, QA_TEXTRELS, QA_WX_LOAD) as globs; QA_PREBUILT's globs count for all.
 */
export function qaMatcher(value: string | undefined, kind: "regex" | "glob", prebuilt?: string): (rel: string) => boolean {
  const sources: string[] = [];
  for (const w of (value ?? "").split(/\s+/).filter(Boolean)) sources.push(kind === "glob" ? globSource(w) : w);
  for (const w of (prebuilt ?? "").split(/\s+/).filter(Boolean)) sources.push(globSource(w));
  const res: RegExp[] = [];
  for (const s of sources) {
    try {
      res.push(new RegExp(`^(?:${s})$`));
    } catch {
      // an entry JavaScript cannot read as a regex matches nothing
    }
  }
  if (!res.length) return () => false;
  return (rel) => {
    const bare = rel.replace(/^\/+/, "");
    return res.some((r) => r.test(bare) || r.test(`/${bare}`));
  };
}

// --- findings ---

/** fatal: the install stops; warning and notice: "QA Notice" warnings; info: reported, not warned. */
export type QaSeverity = "fatal" | "warning" | "notice" | "info";

export interface QaFinding {
  /** Stable code, e.g. QA_WORLD_WRITABLE. */
  code: string;
  severity: QaSeverity;
  /** The image path concerned (with leading `/`), when there is one. */
  path?: string;
  /** One line, naming the file. */
  message: string;
}

/** One image entry: path relative to D with leading `/`, absolute path, lstat. */
export interface ImageEntry {
  rel: string;
  abs: string;
  st: fs.Stats;
}

/** The QA_* variables of the ebuild (already with their `_${ARCH}` variants appended, if any). */
export interface QaVariables {
  QA_PREBUILT?: string;
  QA_PRESTRIPPED?: string;
  QA_FLAGS_IGNORED?: string;
  QA_EXECSTACK?: string;
  QA_TEXTRELS?: string;
  QA_WX_LOAD?: string;
  QA_SONAME?: string;
  QA_DT_NEEDED?: string;
  QA_MULTILIB_PATHS?: string;
  QA_CONFIGURE_OPTIONS?: string;
  QA_AM_MAINTAINER_MODE?: string;
}

export interface QaContext {
  imageDir: string;
  pf: string;
  features: ReadonlySet<string>;
  restrict: ReadonlySet<string>;
  qa: QaVariables;
  entries: readonly ImageEntry[];
  /** ELF objects among the regular files, by `rel`. */
  elves: ReadonlyMap<string, ElfInfo>;
  /** Files the strip step will look at (for the pre-stripped notice); empty when stripping is off. */
  stripCandidates: ReadonlySet<string>;
  /** The UID/GID files are installed as (PORTAGE_INST_UID/GID). */
  instUid: number;
  /** CFLAGS of the build: the ignored-flags check runs only when they record gcc switches. */
  cflags?: string;
  multilibStrictDirs?: string;
  multilibStrictDeny?: string;
}

export interface QaRule {
  code: string;
  check(ctx: QaContext): QaFinding[];
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

function under(rel: string, dir: string): boolean {
  return rel === dir || rel.startsWith(`${dir}/`);
}

const BIN_DIRS = ["/bin", "/sbin", "/usr/bin", "/usr/sbin"];
const RUNTIME_DIRS = ["/var/run", "/run", "/var/lock"];
const RUNTIME_CACHE_DIRS = ["/var/cache", "/var/tmp"];
const DEPRECATED_DIRS = ["/etc/app-defaults", "/usr/man", "/usr/info", "/usr/X11R6", "/usr/doc", "/usr/locale"];
const LIB_DIR = /^\/(usr\/)?lib(32|64|x32)?\//;
/** Directories ld.so searches by default; a library there needs its soname as a name next to it. */
const SYSTEM_LIB_DIRS = new Set(["/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32"]);
const KEEP_FILE = /^\.keep/;

function finding(code: string, severity: QaSeverity, p: string | undefined, text: string): QaFinding {
  return { code, severity, path: p, message: p === undefined ? `QA Notice: ${text}` : `QA Notice: ${text}: ${p}` };
}

/** Whether an ELF rule applies (RESTRICT=binchecks skips them; QA_PREBUILT files are exempt per variable). */
function binchecks(ctx: QaContext): boolean {
  return !ctx.restrict.has("binchecks");
}

/** Machines whose kernel gives an executable stack to objects without a GNU stack marking. */
const MISSING_STACK_IS_EXEC = new Set([3, 62, 20, 21]);

const execSeverity = (ctx: QaContext): QaSeverity => (ctx.features.has("stricter") ? "fatal" : "warning");

/** The checks of §4.2 that need no external tool, in the order they run. */
export const IMAGE_QA_RULES: readonly QaRule[] = [
  {
    code: "QA_WORLD_WRITABLE",
    check: (ctx) =>
      ctx.entries.flatMap((e) => {
        if (!e.st.isFile() || !(e.st.mode & 0o002)) return [];
        if (e.st.mode & (S_ISUID | S_ISGID)) return [finding("QA_WORLD_WRITABLE_SETID", "fatal", e.rel, "world-writable set-id file (will not be installed)")];
        return [finding("QA_WORLD_WRITABLE", "warning", e.rel, "world-writable file")];
      }),
  },
  {
    code: "QA_BIN_PERMS",
    check: (ctx) =>
      ctx.entries.flatMap((e) => {
        if (e.st.isDirectory() || !BIN_DIRS.includes(path.posix.dirname(e.rel))) return [];
        if (e.st.uid !== ctx.instUid) return [finding("QA_BIN_OWNER", "warning", e.rel, `file in a bin directory not owned by uid ${ctx.instUid}`)];
        if (!e.st.isSymbolicLink() && e.st.mode & 0o020) return [finding("QA_BIN_GROUP_WRITE", "warning", e.rel, "group-writable file in a bin directory")];
        return [];
      }),
  },
  {
    code: "QA_SETID_FILE",
    check: (ctx) =>
      ctx.entries.flatMap((e) =>
        e.st.isFile() && e.st.mode & (S_ISUID | S_ISGID) && !(e.st.mode & 0o002)
          ? [finding("QA_SETID_FILE", "info", e.rel, `${e.st.mode & S_ISUID ? "setuid" : "setgid"} file (mode ${(e.st.mode & 0o7777).toString(8)})`)]
          : [],
      ),
  },
  {
    code: "QA_RUNTIME_DIR",
    check: (ctx) => {
      const out: QaFinding[] = [];
      for (const dir of [...RUNTIME_DIRS, ...RUNTIME_CACHE_DIRS]) {
        const top = ctx.entries.find((e) => e.rel === dir);
        if (!top || !top.st.isDirectory()) continue;
        // keepdir is how packages make a cache dir; only other contents count under var/cache and var/tmp
        const strict = RUNTIME_DIRS.includes(dir);
        const content = ctx.entries.some((e) => e.rel.startsWith(`${dir}/`) && (strict || (!e.st.isDirectory() && !KEEP_FILE.test(path.posix.basename(e.rel)))));
        if (content) out.push(finding("QA_RUNTIME_DIR", "warning", dir, "directory must be created at runtime, not installed"));
      }
      return out;
    },
  },
  {
    code: "QA_DEPRECATED_DIR",
    check: (ctx) => ctx.entries.filter((e) => DEPRECATED_DIRS.includes(e.rel)).map((e) => finding("QA_DEPRECATED_DIR", "warning", e.rel, "deprecated directory")),
  },
  {
    code: "QA_USR_LOCAL",
    check: (ctx) =>
      ctx.entries.filter((e) => !e.st.isDirectory() && under(e.rel, "/usr/local")).map((e) => finding("QA_USR_LOCAL", "warning", e.rel, "file installed into /usr/local")),
  },
  {
    code: "QA_DOC_DIR",
    check: (ctx) =>
      ctx.entries
        .filter((e) => path.posix.dirname(e.rel) === "/usr/share/doc" && path.posix.basename(e.rel) !== ctx.pf)
        .map((e) => finding("QA_DOC_DIR", "warning", e.rel, `documentation outside /usr/share/doc/${ctx.pf}`)),
  },
  {
    code: "QA_LA_DESTDIR",
    check: (ctx) => {
      const d = ctx.imageDir.replace(/\/+$/, "");
      return ctx.entries.flatMap((e) => {
        if (!e.st.isFile() || !e.rel.endsWith(".la") || e.st.size > 1 << 20) return [];
        return fs.readFileSync(e.abs, "latin1").includes(d) ? [finding("QA_LA_DESTDIR", "fatal", e.rel, "libtool archive refers to the image directory")] : [];
      });
    },
  },
  {
    code: "QA_LOCATION",
    check: (ctx) =>
      ctx.entries.flatMap((e) => {
        if (e.st.isDirectory()) return [];
        if (under(e.rel, "/etc/systemd/system")) return [finding("QA_SYSTEMD_UNIT_DIR", "warning", e.rel, "systemd unit in /etc/systemd/system (belongs in the systemd unit directory under /lib or /usr/lib)")];
        if (under(e.rel, "/etc/udev/rules.d")) return [finding("QA_UDEV_RULES_DIR", "warning", e.rel, "udev rule in /etc/udev/rules.d (belongs in the udev rules directory under /lib or /usr/lib)")];
        if (under(e.rel, "/etc/bash_completion.d")) return [finding("QA_BASHCOMP_DIR", "warning", e.rel, "bash completion in /etc/bash_completion.d (belongs in /usr/share/bash-completion/completions)")];
        return [];
      }),
  },
  {
    code: "QA_MULTILIB_STRICT",
    check: (ctx) => {
      if (!ctx.features.has("multilib-strict") || !ctx.multilibStrictDirs?.trim() || !ctx.multilibStrictDeny?.trim()) return [];
      let deny: RegExp;
      try {
        deny = new RegExp(ctx.multilibStrictDeny.trim(), "i");
      } catch {
        return [];
      }
      const dirs = ctx.multilibStrictDirs.split(/\s+/).filter(Boolean).map((d) => `/${d.replace(/^\/+|\/+$/g, "")}`);
      const allowed = qaMatcher(ctx.qa.QA_MULTILIB_PATHS, "regex");
      const out: QaFinding[] = [];
      for (const [rel, e] of ctx.elves) {
        if (dirs.includes(path.posix.dirname(rel)) && deny.test(describeElf(e)) && !allowed(rel)) {
          out.push(finding("QA_MULTILIB_STRICT", "fatal", rel, `${describeElf(e)} in a directory multilib-strict forbids`));
        }
      }
      return out;
    },
  },
  {
    code: "QA_TEXTREL",
    check: (ctx) => {
      if (!binchecks(ctx)) return [];
      const ok = qaMatcher(ctx.qa.QA_TEXTRELS, "glob", ctx.qa.QA_PREBUILT);
      return [...ctx.elves].filter(([rel, e]) => e.textrel && !ok(rel)).map(([rel]) => finding("QA_TEXTREL", execSeverity(ctx), rel, "text relocations"));
    },
  },
  {
    code: "QA_EXECSTACK",
    check: (ctx) => {
      if (!binchecks(ctx)) return [];
      const ok = qaMatcher(ctx.qa.QA_EXECSTACK, "glob", ctx.qa.QA_PREBUILT);
      return [...ctx.elves]
        .filter(([rel, e]) => (e.stack === "exec" || (e.stack === "missing" && MISSING_STACK_IS_EXEC.has(e.machine) && (e.type === ET_REL || e.type === ET_EXEC || e.type === ET_DYN))) && !ok(rel))
        .map(([rel, e]) => finding("QA_EXECSTACK", execSeverity(ctx), rel, e.stack === "exec" ? "executable stack" : "no GNU stack marking (executable stack)"));
    },
  },
  {
    code: "QA_WX_LOAD",
    check: (ctx) => {
      if (!binchecks(ctx)) return [];
      const ok = qaMatcher(ctx.qa.QA_WX_LOAD, "glob", ctx.qa.QA_PREBUILT);
      return [...ctx.elves].filter(([rel, e]) => e.wxLoad && !ok(rel)).map(([rel]) => finding("QA_WX_LOAD", execSeverity(ctx), rel, "writable and executable LOAD segment"));
    },
  },
  {
    code: "QA_SONAME",
    check: (ctx) => {
      if (!binchecks(ctx)) return [];
      const noSoname = qaMatcher(ctx.qa.QA_SONAME, "regex", ctx.qa.QA_PREBUILT);
      const noNeeded = qaMatcher(ctx.qa.QA_DT_NEEDED, "regex", ctx.qa.QA_PREBUILT);
      const out: QaFinding[] = [];
      for (const [rel, e] of ctx.elves) {
        if (e.type !== ET_DYN || e.interp || !LIB_DIR.test(rel) || !/\.so(\.|$)/.test(rel)) continue;
        if (!e.soname && !noSoname(rel)) out.push(finding("QA_SONAME", "warning", rel, "shared library without SONAME"));
        if (!e.needed.length && !noNeeded(rel)) out.push(finding("QA_DT_NEEDED", "warning", rel, "shared library without NEEDED entries"));
      }
      return out;
    },
  },
  {
    code: "QA_FLAGS_IGNORED",
    check: (ctx) => {
      if (!binchecks(ctx) || !/(^|\s)-frecord-gcc-switches(\s|$)/.test(ctx.cflags ?? "")) return [];
      const ok = qaMatcher(ctx.qa.QA_FLAGS_IGNORED, "regex", ctx.qa.QA_PREBUILT);
      return [...ctx.elves]
        .filter(([rel, e]) => (e.type === ET_EXEC || e.type === ET_DYN) && !e.gccCommandLine && !ok(rel))
        .map(([rel]) => finding("QA_FLAGS_IGNORED", "warning", rel, "CFLAGS/LDFLAGS ignored (no .GCC.command.line)"));
    },
  },
  {
    code: "QA_PRESTRIPPED",
    check: (ctx) => {
      const ok = qaMatcher(ctx.qa.QA_PRESTRIPPED, "regex", ctx.qa.QA_PREBUILT);
      return [...ctx.stripCandidates]
        .filter((rel) => {
          const e = ctx.elves.get(rel);
          return e && (e.type === ET_EXEC || e.type === ET_DYN) && !e.symtab && !ok(rel);
        })
        .map((rel) => finding("QA_PRESTRIPPED", "notice", rel, "pre-stripped file (stripped before the package manager could)"));
    },
  },
  {
    code: "QA_UNRECOGNIZED_ELF",
    check: (ctx) => {
      const ok = qaMatcher(undefined, "glob", ctx.qa.QA_PREBUILT);
      return [...ctx.elves].filter(([rel, e]) => !multilibCategory(e) && !ok(rel)).map(([rel, e]) => finding("QA_UNRECOGNIZED_ELF", "notice", rel, `unrecognized ELF file (machine ${elfMachineName(e.machine)})`));
    },
  },
  {
    code: "QA_SONAME_SYMLINK",
    check: (ctx) => {
      const names = new Set(ctx.entries.map((e) => e.rel));
      const out: QaFinding[] = [];
      for (const [rel, e] of ctx.elves) {
        const dir = path.posix.dirname(rel);
        if (!e.soname || !SYSTEM_LIB_DIRS.has(dir) || path.posix.basename(rel) === e.soname) continue;
        if (!names.has(`${dir}/${e.soname}`)) out.push(finding("QA_SONAME_SYMLINK", "notice", rel, `no ${e.soname} symlink next to the library`));
      }
      return out;
    },
  },
];

/** Run every image rule. */
export function runImageQa(ctx: QaContext): QaFinding[] {
  return IMAGE_QA_RULES.flatMap((r) => r.check(ctx));
}

// --- the build log (§4.3, and the compiler-warning rows of §4.2) ---

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** gcc warnings that mean broken code (the "severe warnings" notice), by code. */
const GCC_WARNINGS: [string, RegExp][] = [
  ["QA_IMPLICIT_DECLARATION", /warning: (implicit declaration of function|incompatible implicit declaration of built-in function)|\[-Wimplicit-function-declaration\]|error: implicit declaration of function/],
  ["QA_ALWAYS_OVERFLOW", /warning: .*(will always overflow|writing \d+ bytes? into a region of size \d+ overflows)|\[-Wstringop-overflow=?\]/],
  ["QA_STRICT_ALIASING", /warning: dereferencing type-punned pointer will break strict-aliasing rules/],
  ["QA_ARRAY_BOUNDS", /warning: array subscript .* is (above|below|outside) array bounds/],
  ["QA_RETURN_TYPE", /warning: control reaches end of non-void function|warning: no return statement in function returning non-void/],
  ["QA_SEQUENCE_POINT", /warning: operation on .* may be undefined/],
  ["QA_INT_CONVERSION", /warning: (cast (from|to) pointer (from|to) integer of different size|assignment to .* from .* makes (pointer from integer|integer from pointer) without a cast)/],
  ["QA_LTO_MISMATCH", /warning: type of .* does not match original declaration \[-Wlto-type-mismatch\]/],
];

/** Findings from the text of the build log. */
export function scanBuildLog(text: string, qa: QaVariables): QaFinding[] {
  const out: QaFinding[] = [];
  const amOk = (qa.QA_AM_MAINTAINER_MODE ?? "")
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((s) => {
      try {
        return [new RegExp(s)];
      } catch {
        return [];
      }
    });
  const confOk = qaMatcher(qa.QA_CONFIGURE_OPTIONS, "regex");
  const seen = new Set<string>();
  const add = (code: string, text: string) => {
    const key = `${code}\0${text}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ code, severity: "warning", message: `QA Notice: ${text}` });
  };
  for (const raw of text.split("\n")) {
    const line = raw.replace(ANSI, "").replace(/\r$/, "");
    if (!line) continue;
    let m: RegExpMatchArray | null;
    if ((m = /^!!! ((?:do|new)[\w.-]*): (.*) does not exist$/.exec(line))) add("QA_HELPER_MISSING_FILE", `${m[1]}: ${m[2]} does not exist`);
    else if (/^\s*cd\b.*&&.*\/missing\s+(--run\s+)?(automake|autoconf|autoheader|aclocal)\b/.test(line)) {
      if (!amOk.some((r) => r.test(line))) add("QA_AM_MAINTAINER_MODE", `automake maintainer mode ran: ${line.trim()}`);
    } else if ((m = /: ([^:]+): command not found$/.exec(line)) || (m = /^[^ :]+: \d+: ([^:]+): not found$/.exec(line))) add("QA_COMMAND_NOT_FOUND", `command not found: ${m[1]}`);
    else if ((m = /configure: WARNING: unrecognized options: (.*)$/.exec(line))) {
      const bad = m[1]!.split(/,\s*/).map((s) => s.trim()).filter((o) => o && !confOk(o));
      if (bad.length) add("QA_CONFIGURE_OPTIONS", `unrecognized configure options: ${bad.join(", ")}`);
    } else if (/make\[\d+\]: warning: jobserver unavailable/.test(line)) add("QA_JOBSERVER", "make jobserver unavailable (a recursive make without $(MAKE) or `+`)");
    else if (/SetuptoolsDeprecationWarning|setup\.py install is deprecated/.test(line)) add("QA_SETUPTOOLS", `setuptools warning: ${line.trim()}`);
    else {
      for (const [code, re] of GCC_WARNINGS) {
        if (re.test(line)) {
          add(code, `severe compiler warning: ${line.trim()}`);
          break;
        }
      }
    }
  }
  return out;
}
