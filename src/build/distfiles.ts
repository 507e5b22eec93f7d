// What a plan still has to download (emerge spec §8.5): for each distfile a package's USE selects,
// its Manifest size less what DISTDIR already holds (a complete file: nothing; a partial
// `<file>.__download__`: the rest). A file counts once per plan, at its first package.
import * as fs from "node:fs";
import * as path from "node:path";
import { allLeaves, parsePlainTokens, parseSrcUri, reduce, type SrcUri } from "../pms/depspec.js";
import { parseManifestDist, type ManifestDist } from "../pms/manifest.js";

/** The SRC_URI entries USE selects. */
export function selectedUris(srcUri: string, eapi: string, use: ReadonlySet<string>): SrcUri[] {
  return srcUri.trim() ? allLeaves(reduce(parseSrcUri(srcUri, eapi), use)) : [];
}

/** The distfile names of these entries, each once, in their order. */
export function distfileNames(uris: readonly SrcUri[]): string[] {
  return [...new Set(uris.map((u) => u.filename))];
}

/**
 * The entries of a fetch-restricted package that the user must fetch by hand: all but `mirror+`
 * URIs (EAPI 8: fetchable although the package is restricted).
 */
export function fetchedByHand(uris: readonly SrcUri[]): SrcUri[] {
  return uris.filter((u) => !u.uri.startsWith("mirror+"));
}

/** Whether RESTRICT, with USE, contains `fetch`. */
export function fetchRestricted(restrict: string, use: ReadonlySet<string>): boolean {
  if (!restrict.trim()) return false;
  return allLeaves(reduce(parsePlainTokens(restrict, "RESTRICT"), use)).includes("fetch");
}

export class DownloadCounter {
  private readonly counted = new Set<string>();
  private readonly manifests = new Map<string, Map<string, ManifestDist>>();

  constructor(private readonly distdir: string) {}

  /**
   * Bytes still to fetch for these files of the package directory `pkgDir` (its Manifest gives
   * the sizes; no Manifest or no DIST line: 0), leaving out files counted before.
   */
  bytes(pkgDir: string, files: readonly string[]): number {
    if (!files.length) return 0;
    const dist = this.manifest(pkgDir);
    let total = 0;
    for (const f of files) {
      if (this.counted.has(f)) continue;
      this.counted.add(f);
      const size = Number(dist.get(f)?.size ?? 0);
      if (!size) continue;
      total += Math.max(0, size - this.present(f, size));
    }
    return total;
  }

  /** Whether every one of these files of `pkgDir` is complete in DISTDIR (its Manifest size, when it has one). */
  allPresent(pkgDir: string, files: readonly string[]): boolean {
    const dist = this.manifest(pkgDir);
    return files.every((f) => {
      const have = sizeOf(path.join(this.distdir, f));
      const want = dist.get(f)?.size;
      return have !== undefined && (want === undefined || have === Number(want));
    });
  }

  /** Bytes of `f` already in DISTDIR: all of them when the file is complete, else the partial download's. */
  private present(f: string, size: number): number {
    const whole = sizeOf(path.join(this.distdir, f));
    if (whole === size) return size;
    return sizeOf(path.join(this.distdir, `${f}.__download__`)) ?? 0;
  }

  private manifest(pkgDir: string): Map<string, ManifestDist> {
    let m = this.manifests.get(pkgDir);
    if (!m) {
      let text = "";
      try {
        text = fs.readFileSync(path.join(pkgDir, "Manifest"), "utf8");
      } catch {
        // no Manifest: nothing known to download
      }
      this.manifests.set(pkgDir, (m = parseManifestDist(text)));
    }
    return m;
  }
}

function sizeOf(file: string): number | undefined {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}
