import * as fs from "node:fs";
import * as path from "node:path";
import { METADATA_KEYS, type MetadataKey } from "./PackageMetadata.js";

/** One entry of a repository's `metadata/md5-cache` (Portage's md5-dict format), as read. */
export interface ShippedEntry {
  /** `_md5_`: md5 of the ebuild the entry was generated from. */
  readonly md5: string;
  /** `_eclasses_` pairs, in the file's order (sorted by name). */
  readonly eclasses: readonly [string, string][];
  readonly values: Record<MetadataKey, string>;
}

const KNOWN = new Set<string>(METADATA_KEYS);
const MD5_RE = /^[0-9a-f]{32}$/;

/**
 * Parse an md5-dict file. Returns undefined when it is not a well-formed entry (a line without
 * `=`, no `_md5_`, an `_eclasses_` with an odd number of fields or a checksum that is not 32 hex
 * digits): such a file is treated as missing. Unknown keys are ignored, as Portage ignores them.
 */
export function parseMd5Dict(text: string): ShippedEntry | undefined {
  const values = {} as Record<MetadataKey, string>;
  for (const k of METADATA_KEYS) values[k] = "";
  let md5: string | undefined;
  let eclasses: [string, string][] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const eq = text.indexOf("=", start);
    if (eq < 0 || eq > end) {
      if (end > start) return undefined;
      start = end + 1;
      continue;
    }
    const key = text.slice(start, eq);
    const value = text.slice(eq + 1, end);
    if (key === "_md5_") {
      if (!MD5_RE.test(value)) return undefined;
      md5 = value;
    } else if (key === "_eclasses_") {
      const parts = value.split("\t");
      if (parts.length % 2) return undefined;
      eclasses = [];
      for (let i = 0; i < parts.length; i += 2) {
        if (!parts[i] || !MD5_RE.test(parts[i + 1]!)) return undefined;
        eclasses.push([parts[i]!, parts[i + 1]!]);
      }
    } else if (KNOWN.has(key)) values[key as MetadataKey] = value;
    start = end + 1;
  }
  if (!md5) return undefined;
  // The file does not record INHERITED: the eclass names stand in for it (in name order).
  values.INHERITED = eclasses.map(([n]) => n).join(" ");
  return { md5, eclasses, values };
}

/** The shipped entry of `category/PF` in a repository, if there is a well-formed one. */
export function readShippedEntry(location: string, cpv: string): ShippedEntry | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(location, "metadata", "md5-cache", cpv), "utf8");
  } catch {
    return undefined;
  }
  return parseMd5Dict(text);
}

/** Whether a repository ships an md5-cache directory at all (most MARK `mark-*` branches do not). */
export function shipsMd5Cache(location: string): boolean {
  try {
    return fs.statSync(path.join(location, "metadata", "md5-cache")).isDirectory();
  } catch {
    return false;
  }
}
