// Installing from a binary package instead of building (build spec §12.6, §1.2 "Binary package
// install"): the package's image and build-info come out of the .tbz2/.gpkg.tar, its saved
// environment (without the build machine's PATH, locale, FEATURES and sandbox lists) becomes
// T/environment, pkg_setup runs with MERGE_TYPE=binary; the merge then goes as for a build.
import * as fs from "node:fs";
import * as path from "node:path";
import { tokens } from "../config/shellVars.js";
import { OuzoError } from "../core/errors.js";
import type { BuildDir } from "./BuildDir.js";
import { extractGpkg, readGpkg } from "./gpkg.js";
import { loadForeignEnvironment } from "./savedEnvironment.js";
import { readPackagesIndex, type PackagesIndex, type Stanza } from "./packagesIndex.js";
import type { BuildPackage, BuildSettings } from "./phaseEnv.js";
import { pkgdirOf } from "./binpkg.js";
import { extractTbz2, readTbz2 } from "./tbz2.js";
import type { BinpkgMetadata } from "./xpak.js";

export interface BinpkgMatch {
  readonly path: string;
  readonly format: "xpak" | "gpkg";
}

/** The binary package at `file`, its format told by its name (GPKG: `.gpkg.tar`; else xpak). */
export function binpkgAt(file: string): BinpkgMatch {
  return { path: file, format: file.endsWith(".gpkg.tar") ? "gpkg" : "xpak" };
}

/**
 * Whether a Packages stanza can stand for this build: same CPV and SLOT, and the same enabled USE
 * (the index lists USE as built; compared within the IUSE_EFFECTIVE the build would have).
 */
export function stanzaFits(s: Stanza, pkg: BuildPackage): boolean {
  if (s.CPV !== `${pkg.category}/${pkg.pf}` || (s.SLOT || "0") !== (pkg.metadata.SLOT || "0")) return false;
  return tokens(s.USE).filter((f) => pkg.iuseEffective.includes(f)).sort().join(" ") === [...pkg.use].sort().join(" ");
}

/**
 * The binary package in PKGDIR that can stand for this build (--usepkg): same CPV, same SLOT, the
 * same enabled USE (emerge's default --binpkg-respect-use), or undefined.
 */
export function findBinpkg(pkg: BuildPackage, settings: BuildSettings): BinpkgMatch | undefined {
  const pkgdir = pkgdirOf(settings);
  const index = readPackagesIndex(pkgdir);
  for (const s of index.packages) {
    if (!stanzaFits(s, pkg)) continue;
    const rel = s.PATH || `${pkg.category}/${pkg.pf}.tbz2`;
    const file = path.join(pkgdir, rel);
    if (!fs.existsSync(file)) continue;
    return binpkgAt(file);
  }
  return undefined;
}

/**
 * The binary package in PKGDIR for a package of a plan (--usepkg, emerge spec §6.1), decided
 * when the plan is made so that its line can say `binary`: same CPV, SLOT and sub-slot, and the same
 * enabled flags among the package's IUSE (emerge's --binpkg-respect-use). `index`: PKGDIR's
 * Packages index, read once by a caller that asks for many packages.
 */
export function findBinpkgFor(pkgdir: string, c: { readonly cpv: string; readonly slot: string; readonly subslot: string; readonly iuse: readonly string[]; readonly use: ReadonlySet<string> }, index: PackagesIndex = readPackagesIndex(pkgdir)): BinpkgMatch | undefined {
  const flags = new Set(c.iuse.map((f) => f.replace(/^[+-]/, "")));
  const want = [...c.use].filter((f) => flags.has(f)).sort().join(" ");
  for (const s of index.packages) {
    // the sub-slot too: slot-operator rebuilds depend on it
    const [slot, subslot = slot] = (s.SLOT || "0").split("/");
    if (s.CPV !== c.cpv || slot !== c.slot || subslot !== c.subslot) continue;
    if (tokens(s.USE).filter((f) => flags.has(f)).sort().join(" ") !== want) continue;
    const file = path.join(pkgdir, s.PATH || `${c.cpv}.tbz2`);
    if (!fs.existsSync(file)) continue;
    return binpkgAt(file);
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
  loadForeignEnvironment(env, dir, "binpkg-environment", match.path);
  return metadata;
}
