// The package step (build spec §12.5): the image and build-info of a finished build as a binary
// package in PKGDIR (xpak .tbz2 by default, as MARK's Portage 3.0.14 writes and reads; GPKG with
// BINPKG_FORMAT=gpkg), and its entry in the Packages index.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { BuildDir } from "./BuildDir.js";
import { writeGpkg } from "./gpkg.js";
import { binpkgRelativePath, claimMultiInstancePath, packagesHeader, packageStanza, readPackagesIndex, updatePackagesIndex, upsertPackage, type BinpkgFormat } from "./packagesIndex.js";
import type { BuildPackage, BuildSettings } from "./phaseEnv.js";
import { parseBinpkgCompress, writeTbz2, type BinpkgFile } from "./tbz2.js";
import { readBuildInfo } from "./xpak.js";

export interface BinpkgWritten extends BinpkgFile {
  readonly format: BinpkgFormat;
  /** Relative to PKGDIR, as the index's PATH says. */
  readonly relativePath: string;
}

export function pkgdirOf(settings: BuildSettings): string {
  return settings.vars.get("PKGDIR") || "/var/cache/portage/packages";
}

export function binpkgFormatOf(settings: BuildSettings): BinpkgFormat {
  const f = (settings.vars.get("BINPKG_FORMAT") || "xpak").trim();
  if (f !== "xpak" && f !== "gpkg") throw new OuzoError("binpkg-format", `BINPKG_FORMAT="${f}" is not a binary package format ouzo writes (xpak or gpkg)`);
  return f;
}

export async function writeBinpkg(pkg: BuildPackage, settings: BuildSettings, dir: BuildDir): Promise<BinpkgWritten> {
  const pkgdir = pkgdirOf(settings);
  const format = binpkgFormatOf(settings);
  const multi = settings.features.has("binpkg-multi-instance");
  const name = { category: pkg.category, pn: pkg.pn, pf: pkg.pf };
  let relativePath: string;
  if (multi) {
    const claimed = claimMultiInstancePath(pkgdir, name, format, readPackagesIndex(pkgdir));
    relativePath = path.relative(pkgdir, claimed.path);
    fs.writeFileSync(path.join(dir.buildInfo, "BUILD_ID"), `${claimed.buildId}\n`);
  } else {
    relativePath = binpkgRelativePath(name, format, false);
  }
  const out = path.join(pkgdir, relativePath);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const metadata = readBuildInfo(dir.buildInfo);
  const compression = parseBinpkgCompress(settings.vars.get("BINPKG_COMPRESS"));
  const file = format === "xpak" ? await writeTbz2(out, { imageDir: dir.image, metadata, compression }) : await writeGpkg(out, { imageDir: dir.image, metadata, compression });
  fs.writeFileSync(path.join(dir.buildInfo, "BINPKGMD5"), `${file.md5}\n`);
  const header = packagesHeader(Object.fromEntries(settings.vars));
  await updatePackagesIndex(pkgdir, (index) => {
    index.header = { ...index.header, ...header };
    upsertPackage(index, packageStanza(metadata, file, relativePath, index.header), { multiInstance: multi });
  }, { compressIndex: settings.features.has("compress-index") });
  return { ...file, format, relativePath };
}
