// Binary packages from remote binhosts (build spec §12.6, §12.7): binrepos.conf (a file or a
// directory of INI files) and PORTAGE_BINHOST name them; each one's Packages index is cached
// under ROOT/var/cache/edb/binhost/<host>/<path>/Packages and refreshed when its TIMESTAMP moves;
// a package that fits (CPV, SLOT, USE) is downloaded into PKGDIR, verified against the index's
// SIZE and MD5/SHA1, and recorded in PKGDIR's own index, from where --usepkg takes it.
import * as fs from "node:fs";
import * as path from "node:path";
import { request } from "undici";
import { parseIni } from "../config/repositories.js";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile, listConfigDir } from "../core/fsutil.js";
import type { Reporter } from "../core/reporter.js";
import { pkgdirOf } from "./binpkg.js";
import { fetchDistfiles } from "./fetch.js";
import { parsePackagesIndex, recordBinpkg, type PackagesIndex } from "./packagesIndex.js";
import type { BuildPackage, BuildSettings } from "./phaseEnv.js";
import { readTbz2 } from "./tbz2.js";
import { readGpkg } from "./gpkg.js";
import { stanzaFits } from "./binpkgInstall.js";

export interface Binhost {
  readonly name: string;
  readonly uri: string;
  readonly priority: number;
}

/** binrepos.conf's sections with a sync-uri, then PORTAGE_BINHOST's URIs; higher priority first. */
export function binhostsOf(settings: BuildSettings): Binhost[] {
  const out: Binhost[] = [];
  const conf = path.join(settings.configRoot, "etc", "portage", "binrepos.conf");
  const files = fs.existsSync(conf) ? (fs.statSync(conf).isDirectory() ? listConfigDir(conf) : [conf]) : [];
  for (const f of files) {
    for (const [name, keys] of parseIni(fs.readFileSync(f, "utf8"), f)) {
      const uri = keys.get("sync-uri");
      if (name === "DEFAULT" || !uri) continue;
      out.push({ name, uri: uri.replace(/\/+$/, ""), priority: Number(keys.get("priority") ?? 0) || 0 });
    }
  }
  for (const uri of (settings.vars.get("PORTAGE_BINHOST") ?? "").split(/\s+/).filter(Boolean)) out.push({ name: uri, uri: uri.replace(/\/+$/, ""), priority: 0 });
  return out.sort((a, b) => b.priority - a.priority);
}

/** The host's Packages index, from the cache while its TIMESTAMP is the remote one. */
async function remoteIndex(host: Binhost, root: string): Promise<PackagesIndex> {
  const u = new URL(host.uri);
  const cache = path.join(root, "var", "cache", "edb", "binhost", u.host, u.pathname.replace(/^\/+/, ""), "Packages");
  let res;
  try {
    res = await request(`${host.uri}/Packages`, { headersTimeout: 30_000, bodyTimeout: 60_000 });
  } catch (e) {
    throw new OuzoError("binhost-unreachable", `binhost ${host.name}: cannot fetch ${host.uri}/Packages: ${(e as Error).message}`);
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new OuzoError("binhost-index", `binhost ${host.name}: ${host.uri}/Packages: HTTP ${res.statusCode}`);
  }
  const text = await res.body.text();
  const index = parsePackagesIndex(text, `${host.uri}/Packages`);
  const cached = fs.existsSync(cache) ? parsePackagesIndex(fs.readFileSync(cache, "utf8"), cache) : undefined;
  if (cached?.header.TIMESTAMP !== index.header.TIMESTAMP) atomicWriteFile(cache, text);
  return index;
}

/**
 * --getbinpkg: download a fitting binary package of `pkg` from the first binhost that has one
 * into PKGDIR (verified against the host's index) and record it there. Returns whether it did.
 */
export async function getBinpkg(pkg: BuildPackage, settings: BuildSettings, reporter?: Reporter): Promise<boolean> {
  const pkgdir = pkgdirOf(settings);
  for (const host of binhostsOf(settings)) {
    const index = await remoteIndex(host, settings.root);
    const s = index.packages.find((x) => stanzaFits(x, pkg));
    if (!s) continue;
    const rel = s.PATH || `${s.CPV}.tbz2`;
    if (rel.split("/").includes("..") || path.isAbsolute(rel)) throw new OuzoError("binhost-path", `binhost ${host.name}: unsafe PATH '${rel}' for ${s.CPV}`);
    const dest = path.join(pkgdir, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const hashes: Record<string, string> = {};
    if (s.MD5) hashes.md5 = s.MD5;
    if (s.SHA1) hashes.sha1 = s.SHA1;
    // the fetcher verifies size and digests before the file takes its name
    await fetchDistfiles([{ file: path.basename(rel), uris: [`${host.uri}/${rel}`], manifest: { size: s.SIZE ?? "0", hashes } }], { distdir: path.dirname(dest), pkg: s.CPV }, reporter);
    const metadata = rel.endsWith(".gpkg.tar") ? await readGpkg(dest) : readTbz2(dest);
    const st = fs.statSync(dest);
    await recordBinpkg(pkgdir, rel, metadata, { size: st.size, mtime: Math.floor(st.mtimeMs / 1000), md5: s.MD5 ?? "", sha1: s.SHA1 ?? "" });
    return true;
  }
  return false;
}
