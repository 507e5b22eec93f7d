// `anise database create/remove/reindex` (anise.md §14) on ouzo's installed view, /var/db/pkg.
// create registers packages from their artifact metadata (or a definition) without unpacking
// anything: the VDB entry ouzo's installer generates for an anise package, with its anise record
// (ANISE_*), CONTENTS made from the metadata's file list as the files are on disk now, and a
// COUNTER; remove drops entries and leaves the files; reindex rebuilds the owner index. Every
// change is made under the VDB lock; create stages every entry before it commits the first, so
// that a failure leaves none of them.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";
import type { ContentsEntry } from "../vdb/contents.js";
import { nextCounter } from "../vdb/counter.js";
import { readInstalled, type InstalledPackage } from "../vdb/installed.js";
import { OwnerIndex } from "../vdb/ownerIndex.js";
import { withVdbLock } from "../vdb/vdbLock.js";
import { commitVdbEntry, discardStagedEntry, removeVdbEntry, stageVdbEntry, stagingDir } from "../vdb/vdbWrite.js";
import { packageDocument, parseArtifactMetadata, parsePackageSpec, type PackageSpec } from "./AnisePackage.js";
import { generatedEntryFiles, pfOf, recordFiles, slotOf } from "./AniseRecord.js";
import { finalizerRecord, parseFinalizer, type Finalizer } from "./finalizer.js";
import { parseAniseVersion } from "./version.js";

type Doc = Record<string, unknown>;
const isMap = (x: unknown): x is Doc => typeof x === "object" && x !== null && !Array.isArray(x);
const oneLine = (e: unknown) => (e as Error).message.split("\n")[0]!;

/** A package to register, as its file describes it. */
export interface PackageRegistration {
  /** The file it was read from (the metadata file when a definition.yaml had one beside it). */
  readonly file: string;
  readonly spec: PackageSpec;
  /** Relative, without a leading `/` or `./`. */
  readonly files: readonly string[];
  /** The repository the metadata names; "" when it names none. */
  readonly repository: string;
  readonly configProtect: string | undefined;
  readonly finalizer: Finalizer | undefined;
}

function readDoc(file: string): Doc {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new OuzoError("ANISE_DB_CREATE", `cannot read it: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : oneLine(e)}`, { file });
  }
  let doc: unknown;
  try {
    // JSON is YAML: metadata.json and *.metadata.yaml alike
    doc = YAML.parse(text);
  } catch (e) {
    throw new OuzoError("ANISE_DB_CREATE", `not valid YAML or JSON: ${oneLine(e)}`, { file });
  }
  if (!isMap(doc)) throw new OuzoError("ANISE_DB_CREATE", "not a YAML map", { file });
  return doc;
}

const TREE_FILES = new Set(["metadata.json", "metadata.yaml", "definition.yaml"]);

/**
 * A package from artifact metadata (`<fingerprint>.metadata.yaml`, a tree's metadata.json: its
 * `runtime`, or `compilespec.package`, and `files`), or from a package definition
 * (definition.yaml: name, category, version; `files` if it has them). A tree directory's
 * definition.yaml is read with the metadata beside it, and its finalize.yaml is recorded too.
 */
export function readPackageRegistration(file: string): PackageRegistration {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const inTree = TREE_FILES.has(path.basename(abs));
  if (path.basename(abs) === "definition.yaml") {
    for (const m of ["metadata.json", "metadata.yaml"]) if (fs.existsSync(path.join(dir, m))) return readPackageRegistration(path.join(dir, m));
  }
  const doc = readDoc(abs);
  let spec: PackageSpec;
  let files: string[];
  let configProtect: string | undefined;
  let repository = "";
  const str = (x: unknown) => (typeof x === "string" ? x : "");
  try {
    if (isMap(doc.runtime) || isMap(doc.compilespec)) {
      const meta = parseArtifactMetadata(doc, abs);
      spec = meta.runtime;
      files = [...meta.files];
      configProtect = meta.configProtect;
      const cpkg = isMap(doc.compilespec) && isMap(doc.compilespec.package) ? doc.compilespec.package : {};
      repository = str(isMap(doc.runtime) ? doc.runtime.repository : "") || str(cpkg.repository) || str(doc.repository);
    } else if (doc.name !== undefined && doc.category !== undefined) {
      spec = parsePackageSpec(doc, abs);
      files = Array.isArray(doc.files) ? doc.files.map((f) => String(f).replace(/^(\.\/|\/)+/, "")) : [];
      repository = str(doc.repository);
    } else {
      throw new OuzoError("ANISE_DB_CREATE", `${abs}: neither artifact metadata (runtime, files) nor a package definition (name, category, version)`);
    }
  } catch (e) {
    // the parsers name the file at the start of their messages
    throw new OuzoError("ANISE_DB_CREATE", (e as Error).message.replace(`${abs}: `, ""), { file: abs });
  }
  if (!parseAniseVersion(spec.version)) throw new OuzoError("ANISE_DB_CREATE", `'${spec.version}' is not a version ouzo can order (PMS, optionally +BUILD)`, { file: abs });
  for (const f of files) {
    if (f.includes("\n") || !f) throw new OuzoError("ANISE_DB_CREATE", `the file list holds ${f ? `a name with a newline ('${f.split("\n")[0]}…')` : "an empty name"}, which CONTENTS cannot record`, { file: abs });
  }
  let finalizer: Finalizer | undefined;
  const fin = path.join(dir, "finalize.yaml");
  if (inTree && fs.existsSync(fin)) {
    let values: Doc = packageDocument(spec);
    const def = path.join(dir, "definition.yaml");
    if (fs.existsSync(def)) values = readDoc(def);
    finalizer = parseFinalizer(fs.readFileSync(fin, "utf8"), values, fin);
  }
  return { file: abs, spec, files, repository, configProtect, finalizer };
}

const ZERO_MD5 = "0".repeat(32);
const md5 = (file: string) => createHash("md5").update(fs.readFileSync(file)).digest("hex");

/**
 * CONTENTS for a file list, as the files are in ROOT now: a regular file with its md5 and mtime,
 * a symlink with its target, the directories above each; a file that is not there is recorded
 * all the same (anise records the list as it is), with an md5 no file has and mtime 0, so that an
 * uninstall leaves whatever is later found at its path. Returns the paths that were missing.
 */
export function contentsOfList(root: string, files: readonly string[]): { contents: ContentsEntry[]; missing: string[] } {
  const contents: ContentsEntry[] = [];
  const missing: string[] = [];
  const dirs = new Set<string>();
  const paths = [...new Set(files.map((f) => path.posix.normalize(`/${f}`)).filter((p) => p !== "/"))].sort();
  const addDir = (d: string) => {
    if (dirs.has(d)) return;
    dirs.add(d);
    contents.push({ type: "dir", path: d });
  };
  for (const p of paths) {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) addDir(`/${parts.slice(0, i).join("/")}`);
    const host = path.join(root, p);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    const mtime = st ? Math.floor(st.mtimeMs / 1000) : 0;
    if (!st) {
      missing.push(p);
      contents.push({ type: "obj", path: p, md5: ZERO_MD5, mtime: 0 });
    } else if (st.isDirectory()) addDir(p);
    else if (st.isSymbolicLink()) contents.push({ type: "sym", path: p, target: fs.readlinkSync(host), mtime });
    else if (st.isFile()) contents.push({ type: "obj", path: p, md5: md5(host), mtime });
    else if (st.isFIFO()) contents.push({ type: "fif", path: p });
    else contents.push({ type: "dev", path: p });
  }
  return { contents, missing };
}

export interface CreatedRecord {
  /** `category/name-version` as anise writes it. */
  readonly package: string;
  /** The VDB entry, `category/PF`. */
  readonly vdb: string;
  readonly file: string;
  readonly files: number;
  readonly missing: readonly string[];
}

const labelOf = (s: PackageSpec) => `${s.category}/${s.name}-${s.version}`;

/**
 * Record packages in ROOT's /var/db/pkg. Refused, before anything is written, for a package whose
 * name is already recorded in the same slot (anise: "already present"), twice in the request, or
 * whose entry an interrupted merge left staged.
 */
export async function createRecords(root: string, pkgs: readonly PackageRegistration[], o: { ownerIndex?: OwnerIndex; reporter?: Reporter } = {}): Promise<CreatedRecord[]> {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-anise-dbcreate-"));
  try {
    return await withVdbLock(
      root,
      () => {
        const installed = readInstalled(root);
        const planned: { p: PackageRegistration; pf: string; slot: string }[] = [];
        for (const p of pkgs) {
          const s = p.spec;
          const pf = pfOf(s);
          const slot = slotOf(s);
          const there = installed.find((i) => i.category === s.category && i.package === s.name && (i.slot === slot || i.cpv === `${s.category}/${pf}`));
          if (there) throw new OuzoError("ANISE_PRESENT", `${labelOf(s)} is already recorded as ${there.cpv}; 'anise database remove ${there.cpv}' first`, { file: p.file, pkg: labelOf(s) });
          const twice = planned.find((x) => x.p.spec.category === s.category && x.p.spec.name === s.name && (x.slot === slot || x.pf === pf));
          if (twice) throw new OuzoError("ANISE_PRESENT", `${labelOf(s)} is asked for twice (${twice.p.file} and ${p.file}); one entry per slot`, { pkg: labelOf(s) });
          if (fs.existsSync(stagingDir(root, s.category, pf))) {
            throw new OuzoError("ANISE_PENDING", `an interrupted merge of ${s.category}/${pf} left its entry staged; let 'ouzo anise install' or 'ouzo emerge' recover it first`, { pkg: labelOf(s) });
          }
          planned.push({ p, pf, slot });
        }
        const staged: { p: PackageRegistration; pf: string; contents: ContentsEntry[]; missing: string[] }[] = [];
        try {
          for (const { p, pf } of planned) {
            const s = p.spec;
            const { contents, missing } = contentsOfList(root, p.files);
            const extra = {
              ...generatedEntryFiles({ spec: s, repository: p.repository }),
              ...recordFiles({ repository: p.repository || "anise", spec: s, finalizer: p.finalizer ? finalizerRecord(p.finalizer) : undefined, configProtect: p.configProtect }),
            };
            stageVdbEntry(root, { category: s.category, pf, buildInfoDir: empty, contents, counter: nextCounter(root), extra });
            staged.push({ p, pf, contents, missing });
          }
        } catch (e) {
          for (const s of staged) discardStagedEntry(root, s.p.spec.category, s.pf);
          throw e;
        }
        const out: CreatedRecord[] = [];
        for (const { p, pf, contents, missing } of staged) {
          const cpv = `${p.spec.category}/${pf}`;
          commitVdbEntry(root, p.spec.category, pf);
          o.ownerIndex?.update(cpv, contents);
          o.reporter?.report({ kind: "info", message: `recorded ${labelOf(p.spec)} as ${cpv} (${contents.filter((c) => c.type !== "dir").length} files)` });
          out.push({ package: labelOf(p.spec), vdb: cpv, file: p.file, files: contents.filter((c) => c.type !== "dir").length, missing });
        }
        return out;
      },
      { reporter: o.reporter, what: "ouzo anise database create" },
    );
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
}

/** Drop installed entries (their files stay); returns the entries removed (one gone meanwhile is left out). */
export async function removeRecords(root: string, pkgs: readonly InstalledPackage[], o: { ownerIndex?: OwnerIndex; reporter?: Reporter } = {}): Promise<string[]> {
  return withVdbLock(
    root,
    () => {
      const removed: string[] = [];
      for (const p of pkgs) {
        if (!fs.existsSync(p.dir)) {
          o.reporter?.report({ kind: "warning", code: "ANISE_GONE", message: `${p.cpv} was removed meanwhile` });
          continue;
        }
        removeVdbEntry(root, p.category, p.cpv.slice(p.category.length + 1));
        o.ownerIndex?.update(p.cpv, undefined);
        removed.push(p.cpv);
      }
      return removed;
    },
    { reporter: o.reporter, what: "ouzo anise database remove" },
  );
}

export interface Reindexed {
  /** The index file, or ":memory:" when the cache directory cannot be written (nothing is kept). */
  readonly file: string;
  readonly packages: number;
  readonly files: number;
}

/**
 * Rebuild the owner index of ROOT (a cache of every CONTENTS, vdb/ownerIndex.ts) from the VDB,
 * under the VDB lock so that no merge changes it meanwhile: every entry is read again, even one
 * edited in place that kept its stamps (OwnerIndex.rebuild).
 */
export async function reindexOwners(root: string, cacheDir: string, reporter?: Reporter): Promise<Reindexed> {
  return withVdbLock(
    root,
    () => {
      const idx = OwnerIndex.open(root, cacheDir, { reporter });
      try {
        idx.rebuild();
        return { file: idx.file, ...idx.size() };
      } finally {
        idx.close();
      }
    },
    { reporter, what: "ouzo anise database reindex" },
  );
}
