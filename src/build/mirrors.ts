// Where a distfile can be fetched from (build spec §6.2, §6.3): the repositories'
// profiles/thirdpartymirrors, the user's /etc/portage/mirrors (with its `local` mirrors),
// GENTOO_MIRRORS and the layout each mirror declares in its distfiles/layout.conf.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { request, type Dispatcher } from "undici";
import { atomicWriteFile, readFileIfExists } from "../core/fsutil.js";
import type { SrcUri } from "../pms/depspec.js";
import type { ManifestDist } from "../pms/manifest.js";

/** Mirror name → base URLs, in the file's order. */
export type MirrorMap = ReadonlyMap<string, readonly string[]>;

/** `name url url …` lines with `#` comments: profiles/thirdpartymirrors and /etc/portage/mirrors. */
export function parseMirrors(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const [name, ...urls] = raw.replace(/#.*/, "").trim().split(/\s+/);
    if (name && urls.length) out.set(name, urls);
  }
  return out;
}

/**
 * The thirdpartymirrors of these repositories, stacked: a name defined again by a later
 * repository replaces the earlier definition (§6.2). Pass the repositories in stacking order
 * (masters first).
 */
export function readThirdpartyMirrors(repoLocations: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const loc of repoLocations) {
    const text = readFileIfExists(path.join(loc, "profiles", "thirdpartymirrors"));
    if (text) for (const [name, urls] of parseMirrors(text)) out.set(name, urls);
  }
  return out;
}

/** The user's mirrors, `${configRoot}/etc/portage/mirrors` (absent: none). */
export function readUserMirrors(configRoot = "/"): Map<string, string[]> {
  const text = readFileIfExists(path.join(configRoot, "etc", "portage", "mirrors"));
  return text ? parseMirrors(text) : new Map();
}

/** GENTOO_MIRRORS: a space-separated list of base URLs (trailing slashes dropped). */
export function parseGentooMirrors(value: string | undefined): string[] {
  return (value ?? "").split(/\s+/).filter(Boolean).map(trimSlash);
}

// --- mirror layouts (§6.2: <mirror>/distfiles/layout.conf) ---

/** How a mirror lays its distfiles out. */
export type MirrorLayout =
  | { readonly kind: "flat" }
  | { readonly kind: "filename-hash" | "content-hash"; readonly algorithm: string; readonly cutoffs: readonly number[] };

/** A layout.conf's `[structure]` entries, in key order (`0`, `1`, …), each split into words. */
export function parseLayoutStructure(text: string): string[][] {
  const entries: [number, string[]][] = [];
  let inStructure = false;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*/, "").trim();
    if (!line) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      inStructure = sec[1]!.trim() === "structure";
      continue;
    }
    const eq = line.indexOf("=");
    if (!inStructure || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    if (/^\d+$/.test(key)) entries.push([Number(key), line.slice(eq + 1).trim().split(/\s+/)]);
  }
  return entries.sort((a, b) => a[0] - b[0]).map(([, words]) => words);
}

const LAYOUT_HASHES: Readonly<Record<string, string>> = { BLAKE2B: "blake2b512", BLAKE2S: "blake2s256", MD5: "md5", SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" };

/** One structure entry as a layout, or undefined when ouzo does not understand it. */
export function layoutOf(words: readonly string[]): MirrorLayout | undefined {
  const [kind, algo, cut] = words;
  if (kind === "flat" && words.length === 1) return { kind: "flat" };
  if ((kind === "filename-hash" || kind === "content-hash") && words.length === 3 && LAYOUT_HASHES[algo!.toUpperCase()]) {
    const cutoffs = cut!.split(":").map(Number);
    if (cutoffs.every((c) => Number.isInteger(c) && c > 0 && c % 4 === 0)) return { kind, algorithm: algo!.toUpperCase(), cutoffs };
  }
  return undefined;
}

/**
 * The path of `name` on a mirror with this structure (relative to its distfiles/): the first
 * entry ouzo understands and can apply (content-hash needs the file's digest in `entry`), flat
 * when there is no structure. Undefined: no entry applies, the mirror cannot be asked.
 */
export function mirrorPath(structure: readonly (readonly string[])[] | undefined, name: string, entry?: ManifestDist): string | undefined {
  if (!structure?.length) return encodeSegment(name);
  for (const words of structure) {
    const layout = layoutOf(words);
    if (!layout) continue;
    if (layout.kind === "flat") return encodeSegment(name);
    let digest: string;
    let last: string;
    if (layout.kind === "filename-hash") {
      digest = createHash(LAYOUT_HASHES[layout.algorithm]!).update(name, "utf8").digest("hex");
      last = encodeSegment(name);
    } else {
      const d = entry?.hashes[layout.algorithm.toLowerCase()];
      if (!d) continue;
      digest = last = d.toLowerCase();
    }
    const dirs: string[] = [];
    let at = 0;
    for (const bits of layout.cutoffs) {
      dirs.push(digest.slice(at, at + bits / 4));
      at += bits / 4;
    }
    return [...dirs, last].join("/");
  }
  return undefined;
}

/** A file name as one URL path segment: characters with a meaning in URLs (`?`, `#`, `%`, space, …) escaped. */
function encodeSegment(name: string): string {
  return name.replace(/[^A-Za-z0-9._~!$&'()*+,;=:@-]/gu, (c) => encodeURIComponent(c));
}

const trimSlash = (u: string) => u.replace(/\/+$/, "");

/** A day, in seconds: how long a mirror's cached layout is trusted (§6.2). */
const LAYOUT_TTL_S = 86_400;

/**
 * The structure of each mirror's distfiles/layout.conf, cached in `${DISTDIR}/.mirror-cache.json`
 * for a day in Portage's format (mirror URL → [time in seconds, structure entries]). A mirror
 * without layout.conf (404) is flat and cached as such; one that cannot be reached is taken as
 * flat for this run and asked again next time. Filesystem mirrors (a path) are flat.
 */
export async function loadMirrorLayouts(
  mirrors: readonly string[],
  distdir: string,
  opts: { timeoutMs?: number; dispatcher?: Dispatcher; now?: number } = {},
): Promise<Map<string, string[][]>> {
  const cacheFile = path.join(distdir, ".mirror-cache.json");
  let cache: Record<string, [number, unknown]> = {};
  try {
    const parsed = JSON.parse(fs.readFileSync(cacheFile, "utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) cache = parsed;
  } catch {
    // no cache yet, or an unreadable one: ask the mirrors
  }
  const now = opts.now ?? Date.now() / 1000;
  const out = new Map<string, string[][]>();
  let changed = false;
  await Promise.all(
    [...new Set(mirrors.map(trimSlash))].filter((m) => /^https?:\/\//i.test(m)).map(async (m) => {
      const hit = cache[m];
      if (Array.isArray(hit) && typeof hit[0] === "number" && hit[0] >= now - LAYOUT_TTL_S && hit[0] <= now + 60) {
        out.set(m, structureFromJson(hit[1]));
        return;
      }
      const fetched = await fetchLayout(m, opts);
      if (fetched === undefined) return;
      out.set(m, fetched);
      cache[m] = [now, fetched];
      changed = true;
    }),
  );
  if (changed) {
    try {
      atomicWriteFile(cacheFile, JSON.stringify(cache), 0o664, { fsync: false });
    } catch {
      // a read-only DISTDIR: the layouts are asked again next time
    }
  }
  return out;
}

function structureFromJson(v: unknown): string[][] {
  if (!Array.isArray(v)) return [];
  if (v.every((x) => typeof x === "string")) return v.length ? [v as string[]] : [];
  return v.filter((x): x is string[] => Array.isArray(x) && x.every((w) => typeof w === "string"));
}

/** A mirror's layout structure; [] when it has no layout.conf, undefined when it could not be asked. */
async function fetchLayout(mirror: string, opts: { timeoutMs?: number; dispatcher?: Dispatcher }): Promise<string[][] | undefined> {
  try {
    const res = await request(`${mirror}/distfiles/layout.conf`, {
      dispatcher: opts.dispatcher,
      headersTimeout: opts.timeoutMs ?? 15_000,
      bodyTimeout: opts.timeoutMs ?? 15_000,
    });
    if (res.statusCode === 404 || res.statusCode === 410) {
      await res.body.dump();
      return [];
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      return undefined;
    }
    return parseLayoutStructure(await res.body.text());
  } catch {
    return undefined;
  }
}

// --- the candidate list (§6.3) ---

export interface MirrorConfig {
  /** GENTOO_MIRRORS, in order. */
  readonly gentooMirrors: readonly string[];
  /** profiles/thirdpartymirrors of the configured repositories, stacked. */
  readonly thirdparty: MirrorMap;
  /** /etc/portage/mirrors: tried before thirdpartymirrors for `mirror://name/`; `local`: first for every file. */
  readonly user?: MirrorMap;
  /** Mirror base URL → its layout.conf structure (loadMirrorLayouts); absent: flat. */
  readonly layouts?: ReadonlyMap<string, readonly (readonly string[])[]>;
  /** FEATURES=cdn (MARK): RESTRICT=mirror does not keep GENTOO_MIRRORS out. */
  readonly cdn?: boolean;
  /** FEATURES=force-mirror: no primary URIs, unless the file is mirror-restricted. */
  readonly forceMirror?: boolean;
  /** For shuffling thirdparty mirrors; Math.random by default. */
  readonly random?: () => number;
}

/** Where a candidate comes from: a `local` mirror, a GENTOO_MIRRORS entry, a `mirror://` expansion, or SRC_URI itself. */
export type CandidateSource = "local" | "mirror" | "thirdparty" | "primary";

export interface CandidateUri {
  /** An http(s)/ftp/… URL, or an absolute path for a filesystem mirror. */
  readonly url: string;
  readonly source: CandidateSource;
}

/** Split an EAPI 8 `fetch+`/`mirror+` prefix off a SRC_URI entry. */
export function uriPrefix(uri: string): { prefix: "fetch" | "mirror" | undefined; uri: string } {
  const m = /^(fetch|mirror)\+(?=[A-Za-z][A-Za-z0-9+.-]*:\/\/)/.exec(uri);
  return m ? { prefix: m[1] as "fetch" | "mirror", uri: uri.slice(m[0].length) } : { prefix: undefined, uri };
}

/**
 * Whether the file is kept off public mirrors (§6.3 step 2): RESTRICT has `fetch`, or `mirror`
 * (unless FEATURES=cdn), and none of its URIs carries `mirror+`.
 */
export function mirrorRestricted(entries: readonly SrcUri[], restrict: ReadonlySet<string>, cdn = false): boolean {
  if (!restrict.has("fetch") && (cdn || !restrict.has("mirror"))) return false;
  return !entries.some((e) => uriPrefix(e.uri).prefix === "mirror");
}

/**
 * The ordered, duplicate-free list of places to fetch one distfile from (§6.3): local mirrors;
 * GENTOO_MIRRORS unless mirror-restricted; `mirror://` expansions (user mirrors, then the
 * thirdparty ones shuffled); the primary URIs. RESTRICT=primaryuri puts the last two, in SRC_URI
 * order, before GENTOO_MIRRORS; RESTRICT=fetch keeps only local mirrors and `fetch+`/`mirror+`
 * URIs (§6.9). `entries`: the SRC_URI entries (USE-reduced) — those of other files are ignored.
 * `warn`: told about `mirror://` names no one defines.
 */
export function candidateUris(
  file: string,
  entries: readonly SrcUri[],
  restrict: ReadonlySet<string>,
  config: MirrorConfig,
  manifest?: ManifestDist,
  warn?: (message: string) => void,
): CandidateUri[] {
  const mine = entries.filter((e) => e.filename === file);
  const restricted = mirrorRestricted(mine, restrict, config.cdn);
  const fetchRestricted = restrict.has("fetch");
  const random = config.random ?? Math.random;

  const onMirror = (base: string): string | undefined => {
    if (base.startsWith("/")) return path.join(base, file); // a filesystem mirror: flat, no distfiles/
    const b = trimSlash(base);
    const p = mirrorPath(config.layouts?.get(b), file, manifest);
    return p === undefined ? undefined : `${b}/distfiles/${p}`;
  };
  const local: CandidateUri[] = [];
  for (const m of config.user?.get("local") ?? []) {
    const url = onMirror(m);
    if (url) local.push({ url, source: "local" });
  }
  const mirrors: CandidateUri[] = [];
  if (!restricted) {
    for (const m of config.gentooMirrors) {
      const url = onMirror(m);
      if (url) mirrors.push({ url, source: "mirror" });
    }
  }
  // mirror:// expansions and primary URIs, in SRC_URI order
  const expansions: CandidateUri[] = [];
  const primaries: CandidateUri[] = [];
  const inOrder: CandidateUri[] = [];
  for (const e of mine) {
    const { prefix, uri } = uriPrefix(e.uri);
    if (fetchRestricted && !prefix) continue;
    const mm = /^mirror:\/\/([^/]+)\/(.*)$/.exec(uri);
    if (mm) {
      const [, name, rest] = mm;
      const user = config.user?.get(name!) ?? [];
      const third = shuffle([...(config.thirdparty.get(name!) ?? [])], random);
      if (!user.length && !third.length) {
        warn?.(`No known mirror by the name: ${name}`);
        continue;
      }
      for (const base of [...user, ...third]) {
        const c: CandidateUri = { url: base.startsWith("/") ? path.join(base, rest!) : `${trimSlash(base)}/${rest}`, source: "thirdparty" };
        expansions.push(c);
        inOrder.push(c);
      }
    } else if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(uri)) {
      if (config.forceMirror && !restricted) continue;
      const c: CandidateUri = { url: uri, source: "primary" };
      primaries.push(c);
      inOrder.push(c);
    }
    // a bare file name: only says what the user must fetch by hand
  }
  const all = restrict.has("primaryuri") ? [...local, ...inOrder, ...mirrors] : [...local, ...mirrors, ...expansions, ...primaries];
  const seen = new Set<string>();
  return all.filter((c) => !seen.has(c.url) && (seen.add(c.url), true));
}

function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
