import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fsutil.js";
import { FileLock } from "../core/lock.js";
import { parseCpv } from "../pms/atom.js";
import { compareVersions } from "../pms/version.js";
import type { BinpkgFile } from "./tbz2.js";
import { type BinpkgMetadata, metadataText } from "./xpak.js";

/*
 * PKGDIR: where binary packages live (build-and-merge §12.3) and its `Packages` index (§12.4).
 * The index is UTF-8 text: stanzas separated by one blank line, lines `KEY: value`; the first
 * stanza is the header, every other one a package. ouzo writes MARK's format (VERSION 0, MD5 and
 * SHA1 of each file).
 */

/** One stanza: keys as they appear in the file (DESC, MTIME, REPO are the translated names). */
export type Stanza = Record<string, string>;

export interface PackagesIndex {
  header: Stanza;
  packages: Stanza[];
}

export type BinpkgFormat = "xpak" | "gpkg";

// --- names in PKGDIR (§12.3) ---

export interface BinpkgName {
  category: string;
  /** `${PN}` */
  pn: string;
  /** `${PF}` (`${P}` plus `-r<N>` when there is a revision) */
  pf: string;
  /** Only with FEATURES=binpkg-multi-instance. */
  buildId?: number;
}

/**
 * The path of a binary package relative to PKGDIR: `<cat>/<PF>.tbz2` (gpkg `.gpkg.tar`), or
 * with FEATURES=binpkg-multi-instance `<cat>/<PN>/<PF>-<BUILD_ID>.xpak` (gpkg `.gpkg.tar`).
 */
export function binpkgRelativePath(name: BinpkgName, format: BinpkgFormat, multiInstance: boolean): string {
  if (!multiInstance) return `${name.category}/${name.pf}${format === "xpak" ? ".tbz2" : ".gpkg.tar"}`;
  if (name.buildId === undefined || !Number.isInteger(name.buildId) || name.buildId < 1) {
    throw new OuzoError("BAD_BINPKG", `${name.category}/${name.pf}: a multi-instance binary package needs a BUILD_ID of 1 or more`);
  }
  return `${name.category}/${name.pn}/${name.pf}-${name.buildId}${format === "xpak" ? ".xpak" : ".gpkg.tar"}`;
}

/** The parts of a path relative to PKGDIR in any of the layouts (legacy `All/<PF>.tbz2` gives no category). */
export function parseBinpkgPath(rel: string): { category?: string; pn?: string; pf: string; buildId?: number; format: BinpkgFormat } | undefined {
  const parts = rel.split("/");
  const file = parts.at(-1)!;
  let m: RegExpExecArray | null;
  if (parts.length === 3 && (m = /^(.+)-(\d+)\.(xpak|gpkg\.tar)$/.exec(file))) {
    return { category: parts[0], pn: parts[1], pf: m[1]!, buildId: Number(m[2]), format: m[3] === "xpak" ? "xpak" : "gpkg" };
  }
  if (parts.length === 2 && (m = /^(.+)\.(tbz2|gpkg\.tar)$/.exec(file))) {
    return { category: parts[0] === "All" ? undefined : parts[0], pf: m[1]!, format: m[2] === "tbz2" ? "xpak" : "gpkg" };
  }
  return undefined;
}

/**
 * Claim the path of a new multi-instance package: BUILD_ID = 1 + the highest one that exists for
 * this PF (files in `<cat>/<PN>/` and, when given, entries of the index), then an exclusive create
 * of the file, moving on while a concurrent builder has taken the name. The empty file holds the
 * name until the package is renamed over it.
 */
export function claimMultiInstancePath(pkgdir: string, name: Omit<BinpkgName, "buildId">, format: BinpkgFormat, index?: PackagesIndex): { buildId: number; path: string } {
  const dir = path.join(pkgdir, name.category, name.pn);
  fs.mkdirSync(dir, { recursive: true });
  let highest = 0;
  for (const f of fs.readdirSync(dir)) {
    const p = parseBinpkgPath(`${name.category}/${name.pn}/${f}`);
    if (p?.pf === name.pf && p.buildId !== undefined) highest = Math.max(highest, p.buildId);
  }
  const cpv = `${name.category}/${name.pf}`;
  for (const s of index?.packages ?? []) {
    const id = Number(s.BUILD_ID);
    if (s.CPV === cpv && Number.isInteger(id)) highest = Math.max(highest, id);
  }
  for (let buildId = highest + 1; ; buildId++) {
    const rel = binpkgRelativePath({ ...name, buildId }, format, true);
    const abs = path.join(pkgdir, rel);
    try {
      fs.closeSync(fs.openSync(abs, "wx", 0o644));
      return { buildId, path: abs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

// --- the index (§12.4) ---

/** Internal names of the keys written under another name. */
const TO_EXTERNAL: Record<string, string> = { DESCRIPTION: "DESC", _mtime_: "MTIME", repository: "REPO" };
const TO_INTERNAL: Record<string, string> = Object.fromEntries(Object.entries(TO_EXTERNAL).map(([a, b]) => [b, a]));

/** Package keys in the order Portage writes them: sorted by internal name (so MTIME and REPO come last). */
function packageKeyOrder(a: string, b: string): number {
  const x = TO_INTERNAL[a] ?? a;
  const y = TO_INTERNAL[b] ?? b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Metadata keys copied from a package's build-info into its stanza (USE-evaluated values, §12.4). */
export const PACKAGE_METADATA_KEYS = [
  "BDEPEND",
  "BUILD_ID",
  "BUILD_TIME",
  "CHOST",
  "DEFINED_PHASES",
  "DEPEND",
  "DESCRIPTION",
  "EAPI",
  "IDEPEND",
  "IUSE",
  "KEYWORDS",
  "LICENSE",
  "PDEPEND",
  "PROPERTIES",
  "PROVIDES",
  "RDEPEND",
  "REQUIRES",
  "RESTRICT",
  "SLOT",
  "USE",
  "repository",
] as const;

/** Parse a Packages file. `source` names it in errors. */
export function parsePackagesIndex(text: string, source = "Packages"): PackagesIndex {
  const stanzas: Stanza[] = [];
  let cur: Stanza | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") {
      if (cur) stanzas.push(cur);
      cur = undefined;
      return;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw new OuzoError("BAD_PACKAGES_INDEX", `${source}:${i + 1}: expected 'KEY: value', found ${JSON.stringify(line.slice(0, 80))}`);
    cur ??= {};
    cur[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  });
  if (cur) stanzas.push(cur);
  const [header = {}, ...packages] = stanzas;
  packages.forEach((p, i) => {
    if (!p.CPV) throw new OuzoError("BAD_PACKAGES_INDEX", `${source}: package stanza ${i + 1} has no CPV`);
  });
  return { header, packages };
}

/** Order of package stanzas: by CPV in version order, then BUILD_ID. */
export function compareStanzas(a: Stanza, b: Stanza): number {
  const ca = tryCpv(a.CPV ?? "");
  const cb = tryCpv(b.CPV ?? "");
  let r: number;
  if (ca && cb) {
    r = cmp(ca.category, cb.category) || cmp(ca.package, cb.package) || compareVersions(ca.version, cb.version);
  } else r = cmp(a.CPV ?? "", b.CPV ?? "");
  return r || Number(a.BUILD_ID ?? 0) - Number(b.BUILD_ID ?? 0) || cmp(a.PATH ?? "", b.PATH ?? "");
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function tryCpv(s: string): ReturnType<typeof parseCpv> | undefined {
  try {
    return parseCpv(s);
  } catch {
    return undefined;
  }
}

function stanzaText(s: Stanza, keys: string[]): string {
  return keys
    .filter((k) => s[k] !== undefined && s[k] !== "")
    .map((k) => `${k}: ${s[k]!.replace(/\s+/g, " ").trim()}\n`)
    .join("");
}

/** The text of an index as Portage writes it: header keys sorted, packages in CPV order, empty values left out. */
export function formatPackagesIndex(index: PackagesIndex): string {
  const parts = [stanzaText(index.header, Object.keys(index.header).sort())];
  for (const p of [...index.packages].sort(compareStanzas)) parts.push(stanzaText(p, Object.keys(p).sort(packageKeyOrder)));
  return parts.map((p) => `${p}\n`).join("");
}

export function packagesIndexPath(pkgdir: string): string {
  return path.join(pkgdir, "Packages");
}

/** Read `${PKGDIR}/Packages`; an absent file is an empty index. */
export function readPackagesIndex(pkgdir: string): PackagesIndex {
  const file = packagesIndexPath(pkgdir);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { header: {}, packages: [] };
    throw new OuzoError("BAD_PACKAGES_INDEX", `cannot read ${file}: ${(e as Error).message}`);
  }
  return parsePackagesIndex(text, file);
}

export interface WritePackagesIndexOptions {
  /** Also write `Packages.gz` (FEATURES=compress-index). */
  compressIndex?: boolean;
  /** TIMESTAMP in epoch seconds (default now). */
  timestamp?: number;
}

/**
 * Write `${PKGDIR}/Packages` atomically: PACKAGES (count), TIMESTAMP (also the file's mtime) and
 * VERSION (0, MARK's) are set in the header. Call it with the Packages lock held (updatePackagesIndex).
 */
export function writePackagesIndex(pkgdir: string, index: PackagesIndex, opts: WritePackagesIndexOptions = {}): void {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  index.header.PACKAGES = String(index.packages.length);
  index.header.TIMESTAMP = String(timestamp);
  index.header.VERSION ??= "0";
  const text = formatPackagesIndex(index);
  const file = packagesIndexPath(pkgdir);
  atomicWriteFile(file, text);
  fs.utimesSync(file, timestamp, timestamp);
  if (opts.compressIndex) {
    atomicWriteFile(`${file}.gz`, zlib.gzipSync(Buffer.from(text, "utf8")));
    fs.utimesSync(`${file}.gz`, timestamp, timestamp);
  }
}

/**
 * The stanza of a binary package: the values of its metadata (whitespace-normalised, empty ones
 * left out), CPV, the file's SIZE, MD5, SHA1 and MTIME, PATH when the file is not at the default
 * `<cat>/<PF>.tbz2`; `EAPI: 0` and `SLOT: 0` left out, CHOST and REPO left out when the header
 * has the same value (§12.4).
 */
export function packageStanza(metadata: BinpkgMetadata, file: Pick<BinpkgFile, "size" | "mtime" | "md5" | "sha1">, relativePath: string, header: Stanza = {}): Stanza {
  const category = metadataText(metadata, "CATEGORY");
  const pf = metadataText(metadata, "PF");
  if (!category || !pf) throw new OuzoError("BAD_BINPKG", `${relativePath}: the metadata has no CATEGORY or PF`);
  const s: Stanza = { CPV: `${category}/${pf}` };
  for (const key of PACKAGE_METADATA_KEYS) {
    const v = metadataText(metadata, key);
    if (v) s[TO_EXTERNAL[key] ?? key] = v;
  }
  s.SIZE = String(file.size);
  s.MD5 = file.md5;
  s.SHA1 = file.sha1;
  s.MTIME = String(file.mtime);
  if (relativePath !== `${category}/${pf}.tbz2`) s.PATH = relativePath;
  if (s.EAPI === "0") delete s.EAPI;
  if (s.SLOT === "0") delete s.SLOT;
  if (s.CHOST !== undefined && s.CHOST === header.CHOST) delete s.CHOST;
  if (s.REPO !== undefined && s.REPO === header.REPO) delete s.REPO;
  return s;
}

/** A stanza with what readers inherit filled in: EAPI 0, SLOT 0, CHOST/REPO from the header, the default PATH. */
export function effectiveStanza(index: PackagesIndex, s: Stanza): Stanza {
  const out: Stanza = { EAPI: "0", SLOT: "0", ...s };
  if (out.CHOST === undefined && index.header.CHOST) out.CHOST = index.header.CHOST;
  if (out.REPO === undefined && index.header.REPO) out.REPO = index.header.REPO;
  out.PATH ??= `${s.CPV}.tbz2`;
  return out;
}

/** The identity of an instance: CPV, plus BUILD_ID with multi-instance. */
function sameInstance(a: Stanza, b: Stanza, multiInstance: boolean): boolean {
  return a.CPV === b.CPV && (!multiInstance || (a.BUILD_ID ?? "") === (b.BUILD_ID ?? ""));
}

/** Add a package's stanza, replacing the entry of the same instance (same CPV; and BUILD_ID with multi-instance). */
export function upsertPackage(index: PackagesIndex, stanza: Stanza, opts: { multiInstance?: boolean } = {}): PackagesIndex {
  index.packages = index.packages.filter((p) => !sameInstance(p, stanza, opts.multiInstance ?? false));
  index.packages.push(stanza);
  index.packages.sort(compareStanzas);
  return index;
}

/** Remove the entries of a CPV (only the one BUILD_ID when given); returns how many went. */
export function removePackage(index: PackagesIndex, cpv: string, buildId?: number): number {
  const before = index.packages.length;
  index.packages = index.packages.filter((p) => !(p.CPV === cpv && (buildId === undefined || p.BUILD_ID === String(buildId))));
  return before - index.packages.length;
}

export function packagesLockPath(pkgdir: string): string {
  return path.join(pkgdir, ".Packages.portage_lockfile");
}

/**
 * Read, change and write the index under the Packages lock (§14.2), so concurrent builders each
 * see the others' entries. `change` may mutate the index it is given.
 */
export async function updatePackagesIndex(pkgdir: string, change: (index: PackagesIndex) => void, opts: WritePackagesIndexOptions & { timeoutMs?: number } = {}): Promise<PackagesIndex> {
  fs.mkdirSync(pkgdir, { recursive: true });
  const lock = new FileLock(packagesLockPath(pkgdir), "ouzo: updating the binary package index");
  await lock.acquire({ timeoutMs: opts.timeoutMs });
  try {
    const index = readPackagesIndex(pkgdir);
    change(index);
    writePackagesIndex(pkgdir, index, opts);
    return index;
  } finally {
    lock.release();
  }
}

/**
 * Record a package already written in place (writeTbz2/writeGpkg rename it there atomically):
 * replace its entry in the index under the lock (§12.3: written, renamed into place, then injected).
 */
export async function recordBinpkg(
  pkgdir: string,
  relativePath: string,
  metadata: BinpkgMetadata,
  file: Pick<BinpkgFile, "size" | "mtime" | "md5" | "sha1">,
  opts: WritePackagesIndexOptions & { multiInstance?: boolean; timeoutMs?: number } = {},
): Promise<Stanza> {
  let stanza: Stanza = {};
  await updatePackagesIndex(
    pkgdir,
    (index) => {
      stanza = packageStanza(metadata, file, relativePath, index.header);
      upsertPackage(index, stanza, opts);
    },
    opts,
  );
  return stanza;
}

/** Header keys taken from the configuration (§12.4), besides USE_EXPAND_VALUES_* and the implicit USE_EXPAND variables. */
export const PACKAGES_HEADER_KEYS = [
  "ACCEPT_KEYWORDS",
  "ACCEPT_LICENSE",
  "ACCEPT_PROPERTIES",
  "ACCEPT_RESTRICT",
  "CBUILD",
  "CHOST",
  "CONFIG_PROTECT",
  "CONFIG_PROTECT_MASK",
  "FEATURES",
  "GENTOO_MIRRORS",
  "INSTALL_MASK",
  "IUSE_IMPLICIT",
  "USE",
  "USE_EXPAND",
  "USE_EXPAND_HIDDEN",
  "USE_EXPAND_IMPLICIT",
  "USE_EXPAND_UNPREFIXED",
] as const;

/**
 * The configuration part of the header from the effective settings: the keys above, every
 * `USE_EXPAND_VALUES_<NAME>`, the variables named by USE_EXPAND_IMPLICIT and USE_EXPAND_UNPREFIXED
 * (ARCH, ELIBC, KERNEL, …), PROFILE and URI when given. PACKAGES, TIMESTAMP and VERSION are set
 * by writePackagesIndex.
 */
export function packagesHeader(settings: Record<string, string | undefined>, extra: { profile?: string; uri?: string } = {}): Stanza {
  const h: Stanza = {};
  const put = (k: string) => {
    const v = settings[k]?.trim();
    if (v) h[k] = v;
  };
  for (const k of PACKAGES_HEADER_KEYS) put(k);
  for (const k of Object.keys(settings)) if (k.startsWith("USE_EXPAND_VALUES_")) put(k);
  for (const k of `${settings.USE_EXPAND_IMPLICIT ?? ""} ${settings.USE_EXPAND_UNPREFIXED ?? ""}`.split(/\s+/)) if (k) put(k);
  if (extra.profile) h.PROFILE = extra.profile;
  if (extra.uri) h.URI = extra.uri;
  return h;
}
