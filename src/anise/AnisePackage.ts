// The package object and artifact metadata of anise (anise.md §5), read in both spellings: the
// JSON/modern YAML keys (`requires`, `use_flags`) and the legacy YAML ones (`packagerequires`,
// `useflags`). Writers here emit the modern keys only.
import { OuzoError } from "../core/errors.js";

/** A reference to a package inside requires/conflicts/provides: `version` is a selector there. */
export interface PackageRefSpec {
  readonly category: string;
  readonly name: string;
  readonly version: string;
}

/** The package object (`runtime`, `compilespec.package`, definition.yaml). */
export interface PackageSpec {
  readonly category: string;
  readonly name: string;
  readonly version: string;
  readonly requires: readonly PackageRefSpec[];
  readonly conflicts: readonly PackageRefSpec[];
  readonly provides: readonly PackageRefSpec[];
  readonly useFlags: readonly string[];
  readonly hidden: boolean;
  readonly annotations: Readonly<Record<string, unknown>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly description: string;
  readonly license: string;
  readonly uri: readonly string[];
}

/** Artifact metadata (`metadata.json`, or a `<fingerprint>.metadata.yaml` sidecar). */
export interface ArtifactMetadata {
  /** The artifact's file name (the basename of `path`). */
  readonly file: string;
  readonly sha256: string | undefined;
  readonly compression: string;
  /** Every non-directory entry of the tarball, relative, without `/` or `./`. */
  readonly files: readonly string[];
  readonly runtime: PackageSpec;
  /** compilespec.package.annotations.config_protect: the install-time protected directory. */
  readonly configProtect: string | undefined;
  /** The document as read, for `database get` and for recording. */
  readonly raw: Readonly<Record<string, unknown>>;
}

type Doc = Record<string, unknown>;

const isMap = (x: unknown): x is Doc => typeof x === "object" && x !== null && !Array.isArray(x);

function pick(d: Doc, ...keys: string[]): unknown {
  for (const k of keys) if (d[k] !== undefined && d[k] !== null) return d[k];
  return undefined;
}

function refs(x: unknown): PackageRefSpec[] {
  if (!Array.isArray(x)) return [];
  const out: PackageRefSpec[] = [];
  for (const r of x) {
    if (!isMap(r) || typeof r.name !== "string" || typeof r.category !== "string") continue;
    out.push({ category: r.category, name: r.name, version: r.version === undefined || r.version === null ? "" : String(r.version) });
  }
  return out;
}

/** Read a package object in either spelling; `where` names it in errors. */
export function parsePackageSpec(x: unknown, where: string): PackageSpec {
  if (!isMap(x)) throw new OuzoError("BAD_ANISE_PACKAGE", `${where}: the package is not a map`);
  const { name, category, version } = x;
  if (typeof name !== "string" || !name || typeof category !== "string" || !category || version === undefined || version === null || String(version) === "") {
    throw new OuzoError("BAD_ANISE_PACKAGE", `${where}: a package needs name, category and version`);
  }
  const labels: Record<string, string> = {};
  const rawLabels = pick(x, "labels");
  if (isMap(rawLabels)) for (const [k, v] of Object.entries(rawLabels)) labels[k] = String(v);
  const uri = pick(x, "uri");
  return {
    category,
    name,
    version: String(version),
    requires: refs(pick(x, "requires", "packagerequires")),
    conflicts: refs(pick(x, "conflicts", "packageconflicts")),
    provides: refs(pick(x, "provides")),
    useFlags: ((pick(x, "use_flags", "useflags") as unknown[] | undefined) ?? []).map(String),
    hidden: pick(x, "hidden") === true,
    annotations: isMap(pick(x, "annotations")) ? (pick(x, "annotations") as Doc) : {},
    labels,
    description: String(pick(x, "description") ?? ""),
    license: String(pick(x, "license") ?? ""),
    uri: Array.isArray(uri) ? uri.map(String) : typeof uri === "string" ? [uri] : [],
  };
}

/** Read artifact metadata; `runtime` falls back to `compilespec.package` (§5). */
export function parseArtifactMetadata(x: unknown, where: string): ArtifactMetadata {
  if (!isMap(x)) throw new OuzoError("BAD_ANISE_PACKAGE", `${where}: the metadata is not a map`);
  const compilespec = isMap(x.compilespec) ? x.compilespec : undefined;
  const cpkg = compilespec && isMap(compilespec.package) ? compilespec.package : undefined;
  const runtime = parsePackageSpec(x.runtime ?? cpkg, where);
  const p = typeof x.path === "string" ? x.path : "";
  const sums = isMap(x.checksums) ? x.checksums : {};
  const sha = typeof sums.sha256 === "string" && sums.sha256 ? sums.sha256.toLowerCase() : undefined;
  const cp = cpkg && isMap(cpkg.annotations) ? cpkg.annotations.config_protect : undefined;
  return {
    file: p ? p.slice(p.lastIndexOf("/") + 1) : "",
    sha256: sha,
    compression: String(x.compressiontype ?? ""),
    files: Array.isArray(x.files) ? x.files.map((f) => String(f).replace(/^(\.\/|\/)+/, "")) : [],
    runtime,
    configProtect: typeof cp === "string" && cp ? cp : undefined,
    raw: x,
  };
}

/** `name-category-version`: anise's fingerprint (§1), the artifact's base name. */
export function fingerprint(p: Pick<PackageSpec, "name" | "category" | "version">): string {
  return `${p.name}-${p.category}-${p.version}`;
}

/** The package object as current writers emit it (modern keys). */
export function packageDocument(p: PackageSpec, extra: Doc = {}): Doc {
  const ref = (r: PackageRefSpec) => ({ name: r.name, category: r.category, version: r.version });
  return {
    name: p.name,
    category: p.category,
    version: p.version,
    ...(p.useFlags.length ? { use_flags: [...p.useFlags] } : {}),
    requires: p.requires.length ? p.requires.map(ref) : null,
    conflicts: p.conflicts.length ? p.conflicts.map(ref) : null,
    provides: p.provides.map(ref),
    hidden: p.hidden,
    ...(Object.keys(p.annotations).length ? { annotations: p.annotations } : {}),
    ...(Object.keys(p.labels).length ? { labels: p.labels } : {}),
    ...(p.description ? { description: p.description } : {}),
    ...(p.license ? { license: p.license } : {}),
    ...(p.uri.length ? { uri: [...p.uri] } : {}),
    ...extra,
  };
}

/** The `subsets` annotation (§11): subset name → regular expressions on `/`-prefixed paths. */
export function subsetRules(p: PackageSpec): Map<string, RegExp[]> {
  const out = new Map<string, RegExp[]>();
  const s = p.annotations.subsets;
  if (!isMap(s) || !isMap(s.rules)) return out;
  for (const [name, list] of Object.entries(s.rules)) {
    if (!Array.isArray(list)) continue;
    const res: RegExp[] = [];
    for (const r of list) {
      try {
        res.push(new RegExp(String(r)));
      } catch {
        // an expression JavaScript cannot read is ignored (Go's RE2 syntax is mostly a subset)
      }
    }
    out.set(name, res);
  }
  return out;
}
