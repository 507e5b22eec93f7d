// The fetch step of one package's build (build spec §6.8): its distfiles, from the candidate
// URLs configuration gives, verified against its Manifest, into the real DISTDIR.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Reporter } from "../core/reporter.js";
import { readLayoutConf } from "../config/repositories.js";
import { parseManifestDist } from "../pms/manifest.js";
import { selectedUris } from "./distfiles.js";
import { distfileRequests, fetchDistfiles, type FetchResult } from "./fetch.js";
import { parseGentooMirrors, readThirdpartyMirrors, readUserMirrors, type MirrorConfig } from "./mirrors.js";
import { eapiOf, type BuildPackage, type BuildSettings } from "./phaseEnv.js";
import { manifestHashes } from "./verify.js";

/** Where configuration says distfiles come from: GENTOO_MIRRORS, the repositories' thirdpartymirrors, /etc/portage/mirrors. */
export function mirrorConfig(pkg: BuildPackage, settings: BuildSettings): MirrorConfig {
  return {
    gentooMirrors: parseGentooMirrors(settings.vars.get("GENTOO_MIRRORS")),
    thirdparty: readThirdpartyMirrors([...pkg.repo.eclassLocations].reverse()),
    user: readUserMirrors(settings.configRoot),
    cdn: settings.features.has("cdn"),
    forceMirror: settings.features.has("force-mirror"),
  };
}

export async function fetchPackage(pkg: BuildPackage, settings: BuildSettings, reporter?: Reporter, opts: { signal?: AbortSignal } = {}): Promise<FetchResult[]> {
  const entries = selectedUris(pkg.metadata.SRC_URI ?? "", eapiOf(pkg), new Set(pkg.use));
  if (!entries.length) return [];
  const pkgDir = path.dirname(pkg.ebuild);
  let manifestText = "";
  try {
    manifestText = fs.readFileSync(path.join(pkgDir, "Manifest"), "utf8");
  } catch {
    // no Manifest: every file fails verification below, with a message saying so
  }
  const restrict = new Set(pkg.restrict);
  const mirrors = mirrorConfig(pkg, settings);
  const warn = (message: string) => reporter?.report({ kind: "warning", code: "fetch", message: `${pkg.category}/${pkg.pf}: ${message}` });
  const requests = distfileRequests(entries, restrict, parseManifestDist(manifestText), mirrors, warn);
  const results = await fetchDistfiles(
    requests,
    {
      distdir: settings.distdir,
      pkg: `${pkg.category}/${pkg.pf}`,
      manifestHashes: manifestHashes(readLayoutConf(pkg.repo.location)).hashes,
      lock: settings.features.has("distlocks") || !settings.features.has("-distlocks") ? "wait" : "none",
      signal: opts.signal,
    },
    reporter,
  );
  return results;
}
