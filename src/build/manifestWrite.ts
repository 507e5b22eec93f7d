// Writing a package's Manifest DIST lines (what `ebuild x.ebuild manifest` does, build spec §7.1):
// the size and the hashes layout.conf's manifest-hashes names, for each distfile in DISTDIR.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fsutil.js";
import { DEFAULT_MANIFEST_HASHES, hashFile } from "./verify.js";

/**
 * Replace the DIST lines of `pkgDir/Manifest` with lines for `files` (each in `distdir`), keeping
 * the other lines; the hash names come from layout.conf's manifest-hashes.
 */
export async function writeManifestDist(pkgDir: string, distdir: string, files: readonly string[], hashNames: readonly string[] = DEFAULT_MANIFEST_HASHES): Promise<string> {
  const manifest = path.join(pkgDir, "Manifest");
  const kept = (fs.existsSync(manifest) ? fs.readFileSync(manifest, "utf8").split("\n") : []).filter((l) => l.trim() && !l.startsWith("DIST "));
  const dist: string[] = [];
  for (const f of [...new Set(files)].sort()) {
    const file = path.join(distdir, f);
    if (!fs.existsSync(file)) throw new OuzoError("distfile-missing", `${f}: not in ${distdir}; fetch it first`);
    const { size, digests } = await hashFile(file, hashNames);
    dist.push(`DIST ${f} ${size} ${hashNames.map((n) => `${n} ${digests[n]}`).join(" ")}`);
  }
  atomicWriteFile(manifest, [...dist, ...kept].join("\n") + "\n");
  return manifest;
}
