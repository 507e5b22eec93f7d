import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";
import { parseSrcUri, allLeaves } from "../pms/depspec.js";
import { parseManifestDist, type ManifestDist } from "../pms/manifest.js";
import type { PackageMetadata, MetadataKey } from "./PackageMetadata.js";
import type { RegenFailure } from "./MetadataStore.js";

/** The 22 depend lines, by position (ouzo's values rebuilt in Portage's order). */
const LINES: (MetadataKey | "")[] = [
  "DEPEND", "RDEPEND", "SLOT", "SRC_URI", "RESTRICT", "HOMEPAGE", "LICENSE", "DESCRIPTION", "KEYWORDS", "INHERITED",
  "IUSE", "REQUIRED_USE", "PDEPEND", "BDEPEND", "EAPI", "PROPERTIES", "DEFINED_PHASES", "", "_PY_COMPAT", "", "", "",
];
/** Names of the first 19 lines in reposcan's `metadata` map. */
const METADATA_NAMES = [
  "DEPEND", "RDEPEND", "SLOT", "SRC_URI", "RESTRICT", "HOMEPAGE", "LICENSE", "DESCRIPTION", "KEYWORDS", "INHERITED",
  "IUSE", "REQUIRED_USE", "PDEPEND", "BDEPEND", "EAPI", "PROPERTIES", "DEFINED_PHASES", "HDEPEND", "PYTHON_COMPAT",
];
const RELATION_KINDS: MetadataKey[] = ["BDEPEND", "RDEPEND", "DEPEND", "PDEPEND"];

function lineValue(m: PackageMetadata, k: MetadataKey | ""): string {
  if (!k) return "";
  if (k === "EAPI") return m.values.EAPI || "0";
  if (k === "DEFINED_PHASES") return m.values.DEFINED_PHASES || "-";
  return m.values[k];
}

/** Unique category/PN of the packages a dependency string names, blockers excluded. */
function relationsOf(spec: string): string[] {
  const out: string[] = [];
  for (const tok of spec.split(" ")) {
    if (!tok || tok === "(" || tok === ")" || tok === "||" || tok.endsWith("?") || tok.startsWith("!")) continue;
    const a = Atom.tryParse(tok, USER_CONFIG_EAPI);
    const cp = a ? a.cp : /^[<>=~]*([^/\s]+\/[^:[\s]+?)(?:-\d[^:[\s]*)?(?:[:[].*)?$/.exec(tok)?.[1];
    if (cp && !out.includes(cp)) out.push(cp);
  }
  return out;
}

function readManifest(file: string): Map<string, ManifestDist> {
  try {
    return parseManifestDist(fs.readFileSync(file, "utf8"));
  } catch {
    return new Map();
  }
}

/** Sort object keys recursively, as Go marshals maps. Arrays keep their order. */
function sortedMap<T>(m: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

/** JSON as Go's encoding/json writes it: compact, with <, >, &, U+2028 and U+2029 escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

export interface ReposcanOptions {
  readonly kit: string;
  readonly branch: string;
  readonly location: string;
}

/** anise-portage-converter's reposcan document for one repository. */
export function reposcanDocument(entries: readonly PackageMetadata[], failures: readonly RegenFailure[], o: ReposcanOptions): Record<string, unknown> {
  const atoms: Record<string, unknown> = {};
  const manifests = new Map<string, { md5?: string; dist: Map<string, ManifestDist> }>();
  for (const m of entries) {
    const pkgDir = path.join(o.location, m.category, m.package);
    let man = manifests.get(pkgDir);
    if (!man) {
      const file = path.join(pkgDir, "Manifest");
      let md5: string | undefined;
      try {
        md5 = createHash("md5").update(fs.readFileSync(file)).digest("hex");
      } catch {
        md5 = undefined;
      }
      man = { md5, dist: readManifest(file) };
      manifests.set(pkgDir, man);
    }
    const rev = /-r(\d+)$/.exec(m.version);
    const relations: string[] = [];
    const byKind: Record<string, string[]> = {};
    for (const k of RELATION_KINDS) {
      const rel = relationsOf(m.values[k]);
      if (rel.length) byKind[k] = rel;
      for (const r of rel) if (!relations.includes(r)) relations.push(r);
    }
    const metadata: Record<string, string> = {};
    METADATA_NAMES.forEach((name, i) => (metadata[name] = lineValue(m, LINES[i]!)));
    const files: unknown[] = [];
    const seen = new Set<string>();
    let uris: { uri: string; filename: string }[] = [];
    try {
      uris = allLeaves(parseSrcUri(m.values.SRC_URI, m.values.EAPI || "0"));
    } catch {
      uris = [];
    }
    for (const u of uris) {
      const dist = man.dist.get(u.filename);
      if (!dist || seen.has(u.filename)) continue;
      seen.add(u.filename);
      files.push({ src_uri: [u.uri.replace(/^(fetch|mirror)\+/, "")], size: dist.size, hashes: sortedMap(dist.hashes), name: u.filename });
    }
    const atom: Record<string, unknown> = {
      atom: m.cpv,
      category: m.category,
      package: m.package,
      revision: rev ? String(Number(rev[1])) : "0",
      catpkg: `${m.category}/${m.package}`,
    };
    if (m.eclasses.length) atom.eclasses = m.eclasses.map(([n, md5]) => [n, md5]);
    atom.kit = o.kit;
    atom.branch = o.branch;
    if (relations.length) atom.relations = relations;
    if (Object.keys(byKind).length) atom.relations_by_kind = sortedMap(byKind);
    atom.metadata = sortedMap(metadata);
    atom.metadata_out = LINES.map((k) => lineValue(m, k) + "\n").join("");
    if (man.md5) atom.manifest_md5 = man.md5;
    atom.md5 = m.md5;
    if (files.length) atom.files = files;
    atoms[m.cpv] = atom;
  }
  const doc: Record<string, unknown> = { cache_data_version: "1.0.6", atoms: sortedMap(atoms) };
  const errors: Record<string, unknown> = {};
  for (const f of failures) errors[f.cpv] = { kit: o.kit, branch: o.branch, status: "ebuild.sh failure", output: f.output || f.message };
  if (Object.keys(errors).length) doc.metadata_errors = sortedMap(errors);
  return doc;
}
