import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { splitPf, CATEGORY_PATTERN, PACKAGE_PATTERN } from "../pms/atom.js";
import { VERSION_PATTERN, type Version } from "../pms/version.js";

/**
 * One installed package, as Portage records it in `/var/db/pkg/<category>/<PF>/`
 * (build-and-merge spec §9). Values are the files' contents, trimmed and with runs of whitespace
 * collapsed; a missing file is `""` (EAPI: `0`).
 */
export interface InstalledPackage {
  readonly category: string;
  readonly package: string;
  readonly version: Version;
  /** `category/PF` */
  readonly cpv: string;
  readonly slot: string;
  /** The sub-slot; the slot itself when SLOT has none. */
  readonly subslot: string;
  readonly eapi: string;
  /** IUSE as in the metadata, with `+`/`-` defaults. */
  readonly iuse: readonly string[];
  /** USE that was active when it was built (filtered to IUSE_EFFECTIVE by Portage). */
  readonly use: readonly string[];
  readonly keywords: readonly string[];
  /** The repository it came from (`repository`); "" for an unnamed one. */
  readonly repo: string;
  /** USE-conditionals evaluated and `:=` bound to SLOT/SUBSLOT at build time (§9.3). */
  readonly depend: string;
  readonly rdepend: string;
  readonly pdepend: string;
  readonly bdepend: string;
  readonly idepend: string;
  readonly license: string;
  readonly restrict: string;
  readonly properties: string;
  readonly definedPhases: string;
  readonly inherited: readonly string[];
  readonly description: string;
  /** Installation order: the highest COUNTER of a slot is its newest instance. */
  readonly counter: number;
  /** Seconds since the epoch at the end of src_install; 0 when unknown. */
  readonly buildTime: number;
  /** The entry's directory. */
  readonly dir: string;
}

/** What a reader could not use, named by directory and file. */
export interface VdbWarning {
  readonly dir: string;
  readonly file?: string;
  readonly message: string;
}

export function vdbDir(root: string): string {
  return path.join(root, "var", "db", "pkg");
}

const CATEGORY_RE = new RegExp(`^${CATEGORY_PATTERN}$`);
const PACKAGE_RE = new RegExp(`^${PACKAGE_PATTERN}$`);
/** PMS 3.1.2: a package name may not end in a hyphen followed by what would be a valid version. */
const ENDS_IN_VERSION_RE = new RegExp(`-${VERSION_PATTERN}$`);
/** Names that are not entries (spec §9.1): hidden files, entries under construction, VCS and fsck leftovers. */
const notEntry = (name: string) => name.startsWith(".") || name.startsWith("-MERGING-") || name === "CVS" || name === "lost+found";

function readValue(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), "utf8").trim().replace(/\s+/g, " ");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * PN and version from a PF directory name. The package name is the longest prefix that leaves a
 * valid version after the hyphen (PMS 3.1.2: a name cannot end in `-<valid version>`, so the first
 * such split from the left is the only one).
 */
export function splitPackageDir(pf: string): { pn: string; version: Version } | undefined {
  for (let i = pf.indexOf("-"); i > 0; i = pf.indexOf("-", i + 1)) {
    const pn = pf.slice(0, i);
    if (!PACKAGE_RE.test(pn) || ENDS_IN_VERSION_RE.test(pn)) continue;
    const v = splitPf(pn, pf);
    if (v) return { pn, version: v };
  }
  return undefined;
}

/** Read one entry directory; throws an OuzoError naming the file when it cannot be used. */
export function readInstalledEntry(dir: string, category: string, pf: string): InstalledPackage {
  const split = splitPackageDir(pf);
  if (!split) throw new OuzoError("BAD_VDB_ENTRY", `'${pf}' is not a package name followed by a version`, { file: dir });
  const value = (file: string) => readValue(dir, file) ?? "";
  const cat = readValue(dir, "CATEGORY");
  if (cat !== undefined && cat !== category) throw new OuzoError("BAD_VDB_ENTRY", `says category '${cat}' but sits in '${category}'`, { file: path.join(dir, "CATEGORY") });
  const recordedPf = readValue(dir, "PF");
  if (recordedPf !== undefined && recordedPf !== pf) throw new OuzoError("BAD_VDB_ENTRY", `says '${recordedPf}' but its directory is '${pf}'`, { file: path.join(dir, "PF") });
  const slotText = readValue(dir, "SLOT");
  if (!slotText) throw new OuzoError("BAD_VDB_ENTRY", "no SLOT: the entry is broken", { file: path.join(dir, "SLOT") });
  const [slot, subslot] = slotText.split("/", 2) as [string, string | undefined];
  const counterText = value("COUNTER");
  const counter = counterText === "" ? 0 : Number(counterText);
  if (!Number.isInteger(counter) || counter < 0) throw new OuzoError("BAD_VDB_ENTRY", `COUNTER is not a whole number: '${counterText}'`, { file: path.join(dir, "COUNTER") });
  const buildTime = Number(value("BUILD_TIME") || "0");
  const words = (file: string) => value(file).split(" ").filter(Boolean);
  return {
    category,
    package: split.pn,
    version: split.version,
    cpv: `${category}/${pf}`,
    slot,
    subslot: subslot || slot,
    eapi: value("EAPI") || "0",
    iuse: words("IUSE"),
    use: words("USE"),
    keywords: words("KEYWORDS"),
    repo: value("repository"),
    depend: value("DEPEND"),
    rdepend: value("RDEPEND"),
    pdepend: value("PDEPEND"),
    bdepend: value("BDEPEND"),
    idepend: value("IDEPEND"),
    license: value("LICENSE"),
    restrict: value("RESTRICT"),
    properties: value("PROPERTIES"),
    definedPhases: value("DEFINED_PHASES"),
    inherited: words("INHERITED"),
    description: value("DESCRIPTION"),
    counter,
    buildTime: Number.isFinite(buildTime) ? buildTime : 0,
    dir,
  };
}

/**
 * Every installed package under ROOT, sorted by category and PF. A malformed entry is reported
 * (directory, file, what is wrong) and skipped; nothing else is lost. Entries under construction
 * (`-MERGING-*`) are reported, not read.
 */
export function readInstalled(root: string, warn: (w: VdbWarning) => void = () => {}): InstalledPackage[] {
  const base = vdbDir(root);
  let cats: string[];
  try {
    cats = fs.readdirSync(base).sort();
  } catch {
    return [];
  }
  const out: InstalledPackage[] = [];
  for (const cat of cats) {
    if (notEntry(cat)) continue;
    const catDir = path.join(base, cat);
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(catDir, { withFileTypes: true });
    } catch {
      continue;
    }
    if (!CATEGORY_RE.test(cat)) {
      warn({ dir: catDir, message: `'${cat}' is not a valid category name; skipped` });
      continue;
    }
    for (const d of names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const dir = path.join(catDir, d.name);
      if (d.name.startsWith("-MERGING-")) {
        warn({ dir, message: "an interrupted merge left this entry under construction; it is not counted as installed" });
        continue;
      }
      if (notEntry(d.name) || !d.isDirectory()) continue;
      try {
        out.push(readInstalledEntry(dir, cat, d.name));
      } catch (e) {
        if (!(e instanceof OuzoError)) throw e;
        const file = e.origin.file && e.origin.file !== dir ? path.basename(e.origin.file) : undefined;
        warn({ dir, ...(file ? { file } : {}), message: `${e.message}; entry skipped` });
      }
    }
  }
  return out;
}
