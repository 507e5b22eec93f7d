import * as fs from "node:fs";
import * as path from "node:path";
import { listDir, writeFileIfChanged } from "../core/fsutil.js";
import type { PackageMetadata, MetadataKey } from "./PackageMetadata.js";
import { scanRepository } from "./ebuildTree.js";

/** Keys MARK's Portage writes, in byte order (then `_eclasses_` and `_md5_`). IDEPEND only when set (EAPI 8). */
const MD5_DICT_KEYS: readonly MetadataKey[] = [
  "BDEPEND", "DEFINED_PHASES", "DEPEND", "DESCRIPTION", "EAPI", "HOMEPAGE", "IDEPEND", "IUSE", "KEYWORDS", "LICENSE",
  "PDEPEND", "PROPERTIES", "RDEPEND", "REQUIRED_USE", "RESTRICT", "SLOT", "SRC_URI",
];

/** One md5-dict cache file (Portage's `metadata/md5-cache/<category>/<PF>`). */
export function md5CacheText(m: PackageMetadata): string {
  let out = "";
  for (const k of MD5_DICT_KEYS) {
    const v = k === "EAPI" ? m.values.EAPI || "0" : k === "DEFINED_PHASES" ? m.values.DEFINED_PHASES || "-" : m.values[k];
    if (v) out += `${k}=${v}\n`;
  }
  if (m.eclasses.length) {
    const sorted = [...m.eclasses].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    out += `_eclasses_=${sorted.map(([n, md5]) => `${n}\t${md5}`).join("\t")}\n`;
  }
  out += `_md5_=${m.md5}\n`;
  return out;
}

export interface Md5CacheResult {
  written: number;
  unchanged: number;
  removed: number;
}

/**
 * Write `metadata/md5-cache` for a repository: one file per entry, each through a temporary name
 * and a rename; files whose content is unchanged are left alone. As egencache does, only files of
 * ebuilds that no longer exist (or whose name is not a valid ebuild name) are removed: the file of
 * an ebuild whose regeneration failed, or whose entry is marked stale by a failure, stays as it is.
 */
export function writeMd5Cache(location: string, entries: readonly PackageMetadata[]): Md5CacheResult {
  const root = path.join(location, "metadata", "md5-cache");
  const result: Md5CacheResult = { written: 0, unchanged: 0, removed: 0 };
  for (const m of entries) {
    if (m.failure) continue;
    // a derived file: atomic rename, no fsync (egencache does not flush either)
    if (writeFileIfChanged(path.join(root, m.cpv), md5CacheText(m), { fsync: false })) result.written++;
    else result.unchanged++;
  }
  const present = new Set(scanRepository(location).map((f) => f.cpv));
  for (const cat of listDir(root) ?? []) {
    const dir = path.join(root, cat);
    const files = listDir(dir);
    if (!files) continue;
    for (const f of files) {
      if (!present.has(`${cat}/${f}`)) {
        fs.rmSync(path.join(dir, f), { force: true });
        result.removed++;
      }
    }
    if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
  return result;
}
