// The DIST lines of a package's Manifest (GLEP 74): `DIST <file> <size> <HASH> <value>...`.
// What a distfile should be, for the fetcher's checks, reposcan and emerge's download sizes.

export interface ManifestDist {
  /** The size in bytes, as written. */
  readonly size: string;
  /** Hash name (lower case) → value. */
  readonly hashes: Readonly<Record<string, string>>;
}

/** The DIST entries of a Manifest's text, by file name; other lines are not this module's. */
export function parseManifestDist(text: string): Map<string, ManifestDist> {
  const out = new Map<string, ManifestDist>();
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] !== "DIST" || parts.length < 3) continue;
    const hashes: Record<string, string> = {};
    for (let i = 3; i + 1 < parts.length; i += 2) hashes[parts[i]!.toLowerCase()] = parts[i + 1]!;
    out.set(parts[1]!, { size: parts[2]!, hashes });
  }
  return out;
}
