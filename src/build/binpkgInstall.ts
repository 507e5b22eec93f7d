// Installing from a binary package instead of building (build spec §12.6, §1.2 "Binary package
// install"): the package's image and build-info come out of the .tbz2/.gpkg.tar, its saved
// environment (without the build machine's PATH, locale, FEATURES and sandbox lists) becomes
// T/environment, pkg_setup runs with MERGE_TYPE=binary; the merge then goes as for a build.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { BuildDir } from "./BuildDir.js";
import { extractGpkg, readGpkg } from "./gpkg.js";
import { preprocessEnvironment } from "./installedPhase.js";
import { readPackagesIndex } from "./packagesIndex.js";
import type { BuildPackage, BuildSettings } from "./phaseEnv.js";
import { pkgdirOf } from "./binpkg.js";
import { extractTbz2, readTbz2 } from "./tbz2.js";
import type { BinpkgMetadata } from "./xpak.js";

export interface BinpkgMatch {
  readonly path: string;
  readonly format: "xpak" | "gpkg";
}

const words = (s: string | undefined) => (s ?? "").split(/\s+/).filter(Boolean);

/**
 * The binary package in PKGDIR that can stand for this build (--usepkg): same CPV, same SLOT, the
 * same enabled USE (emerge's default --binpkg-respect-use), or undefined.
 */
export function findBinpkg(pkg: BuildPackage, settings: BuildSettings): BinpkgMatch | undefined {
  const pkgdir = pkgdirOf(settings);
  const index = readPackagesIndex(pkgdir);
  const cpv = `${pkg.category}/${pkg.pf}`;
  const want = [...pkg.use].sort().join(" ");
  const slot = pkg.metadata.SLOT || "0";
  for (const s of index.packages) {
    if (s.CPV !== cpv) continue;
    if ((s.SLOT || "0") !== slot) continue;
    // the index lists USE as built, within IUSE_EFFECTIVE; compare the flags the build would have
    const built = words(s.USE).filter((f) => pkg.iuseEffective.includes(f)).sort().join(" ");
    if (built !== want) continue;
    const rel = s.PATH || `${pkg.category}/${pkg.pf}.tbz2`;
    const file = path.join(pkgdir, rel);
    if (!fs.existsSync(file)) continue;
    return { path: file, format: file.endsWith(".gpkg.tar") ? "gpkg" : "xpak" };
  }
  return undefined;
}

/** Unpack a binary package into the build directory: image/, build-info/, T/environment. */
export async function unpackBinpkg(match: BinpkgMatch, dir: BuildDir): Promise<BinpkgMetadata> {
  fs.rmSync(dir.image, { recursive: true, force: true });
  fs.rmSync(dir.buildInfo, { recursive: true, force: true });
  fs.mkdirSync(dir.image, { recursive: true });
  fs.mkdirSync(dir.buildInfo, { recursive: true });
  const metadata = match.format === "xpak" ? readTbz2(match.path) : await readGpkg(match.path);
  if (match.format === "xpak") await extractTbz2(match.path, dir.image, { sameOwner: true, numericOwner: true });
  else await extractGpkg(match.path, dir.image, { sameOwner: true, numericOwner: true });
  for (const [name, value] of metadata) fs.writeFileSync(path.join(dir.buildInfo, name), value);
  const env = metadata.get("environment.bz2");
  if (!env) throw new OuzoError("binpkg-environment", `${match.path}: no environment.bz2 in its metadata`);
  const r = spawnSync("bzip2", ["-dc"], { input: env, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new OuzoError("binpkg-environment", `${match.path}: cannot read its environment.bz2: ${r.stderr?.toString().trim()}`);
  fs.mkdirSync(dir.temp, { recursive: true });
  fs.writeFileSync(dir.environment, preprocessEnvironment(r.stdout.toString("utf8")));
  return metadata;
}
