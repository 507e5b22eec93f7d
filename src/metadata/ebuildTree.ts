import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { CATEGORY_PATTERN, PACKAGE_PATTERN, splitPf } from "../pms/atom.js";
import { listDir } from "../core/fsutil.js";

/** An ebuild file found in a repository. */
export interface EbuildFile {
  readonly cpv: string;
  readonly category: string;
  readonly pn: string;
  readonly pf: string;
  readonly version: string;
  readonly path: string;
}

const CATEGORY_RE = new RegExp(`^${CATEGORY_PATTERN}$`);
const PACKAGE_RE = new RegExp(`^${PACKAGE_PATTERN}$`);
const NOT_CATEGORIES = new Set(["eclass", "profiles", "metadata", "licenses", "scripts", "distfiles", "packages"]);

/** Categories of a repository: profiles/categories when present, else the directories that look like one. */
export function categoriesOf(location: string): string[] {
  try {
    return fs
      .readFileSync(path.join(location, "profiles", "categories"), "utf8")
      .split("\n")
      .map((l) => l.replace(/#.*/, "").trim())
      .filter(Boolean);
  } catch {
    return fs
      .readdirSync(location, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith(".") && !NOT_CATEGORIES.has(d.name) && CATEGORY_RE.test(d.name) && (d.name.includes("-") || d.name === "virtual"))
      .map((d) => d.name);
  }
}

/** The ebuilds among the names of a package directory; names that are not `PN-<version>.ebuild` are reported. */
function ebuildsAmong(names: readonly string[], location: string, category: string, pn: string, bad?: (file: string, why: string) => void): EbuildFile[] {
  const dir = path.join(location, category, pn);
  const out: EbuildFile[] = [];
  for (const n of names) {
    if (!n.endsWith(".ebuild")) continue;
    const pf = n.slice(0, -7);
    const v = splitPf(pn, pf);
    if (!v) {
      bad?.(`${dir}/${n}`, `invalid ebuild name: expected ${pn}-<version>.ebuild`);
      continue;
    }
    // dir is already normal: a plain concatenation spares path.join's normalising of 22,000 paths
    out.push({ cpv: `${category}/${pf}`, category, pn, pf, version: v.text, path: `${dir}/${n}` });
  }
  return out;
}

/** Every ebuild of a package directory; names that are not `PN-<version>.ebuild` are reported. */
export function ebuildsOfPackage(location: string, category: string, pn: string, bad?: (file: string, why: string) => void): EbuildFile[] {
  return ebuildsAmong(listDir(path.join(location, category, pn)) ?? [], location, category, pn, bad);
}

/**
 * Listings of package directories kept between runs: the valid ebuild names (`PF`) of
 * `category/PN` and the directory's mtime when they were listed. While the mtime is unchanged no
 * file was added, removed or renamed there, so a stat replaces the listing.
 */
export interface ListingCache {
  get(rel: string): { readonly mtimeMs: number; readonly pfs: readonly string[] } | undefined;
  set(rel: string, mtimeMs: number, pfs: readonly string[]): void;
  /** Called once the scan is over, with every directory it saw. */
  seen(rels: ReadonlySet<string>): void;
}

/**
 * A listing is recorded only for a directory whose mtime is this much older than the scan: a
 * directory changed twice within one timestamp tick (a few ms) would otherwise look unchanged.
 */
const SETTLED_MS = 2000;

/**
 * Every ebuild of a repository. With a listing cache, a package directory whose mtime is the one
 * recorded is not listed again, and its misnamed files, already reported, are not reported again.
 * (The mtime is compared as node's double of milliseconds: finer than the kernel's clock tick.)
 */
export function scanRepository(location: string, bad?: (file: string, why: string) => void, listings?: ListingCache): EbuildFile[] {
  const out: EbuildFile[] = [];
  const seen = new Set<string>();
  const settledBefore = Date.now() - SETTLED_MS;
  for (const cat of categoriesOf(location)) {
    let pkgs: fs.Dirent[];
    const catDir = `${location}/${cat}`;
    try {
      pkgs = fs.readdirSync(catDir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const p of pkgs) {
      if (!p.isDirectory() || !PACKAGE_RE.test(p.name)) continue;
      if (!listings) {
        out.push(...ebuildsOfPackage(location, cat, p.name, bad));
        continue;
      }
      const pn = p.name;
      const rel = `${cat}/${pn}`;
      seen.add(rel);
      const dir = `${catDir}/${pn}`;
      const st = fs.statSync(dir, { throwIfNoEntry: false });
      const known = listings.get(rel);
      if (st && known && known.mtimeMs === st.mtimeMs) {
        for (const pf of known.pfs) out.push({ cpv: `${cat}/${pf}`, category: cat, pn, pf, version: pf.slice(pn.length + 1), path: `${dir}/${pf}.ebuild` });
        continue;
      }
      const found = ebuildsAmong(listDir(dir) ?? [], location, cat, pn, bad);
      if (st && st.mtimeMs < settledBefore) listings.set(rel, st.mtimeMs, found.map((e) => e.pf));
      out.push(...found);
    }
  }
  listings?.seen(seen);
  return out;
}

export function md5File(file: string): string {
  return createHash("md5").update(fs.readFileSync(file)).digest("hex");
}

const HEAD_EAPI_RE = /^[ \t]*EAPI=(['"]?)([A-Za-z0-9+_.-]*)\1[ \t]*([ \t]#.*)?$/;

/**
 * EAPI from the ebuild head (PMS 7.3.1): the first line that is neither blank nor a comment,
 * if it is an EAPI assignment; otherwise 0. An explicitly empty value is an error.
 */
export function headEapi(text: string, file: string): string {
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t || t.startsWith("#")) continue;
    const m = HEAD_EAPI_RE.exec(line);
    if (!m) return "0";
    if (m[2] === "") throw new OuzoError("EMPTY_EAPI", "EAPI is assigned an empty value", { file });
    return m[2]!;
  }
  return "0";
}
