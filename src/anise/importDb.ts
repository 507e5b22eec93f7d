// Importing an existing anise system (anise.md §13): its bbolt database (`/var/cache/anise/
// anise.db`, or luet's `luet.db`) read-only, and each package it records given a /var/db/pkg
// entry — CONTENTS made from the files it lists as they are on disk now — with its anise record
// (repository, package object, finalizer). Files are not touched; anise's database is never
// written. A package already in /var/db/pkg (any version) is left as it is.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Reporter } from "../core/reporter.js";
import type { ContentsEntry } from "../vdb/contents.js";
import { nextCounter } from "../vdb/counter.js";
import { readInstalled } from "../vdb/installed.js";
import type { OwnerIndex } from "../vdb/ownerIndex.js";
import { withVdbLock } from "../vdb/vdbLock.js";
import { commitVdbEntry, stageVdbEntry } from "../vdb/vdbWrite.js";
import { fingerprint, parsePackageSpec, type PackageSpec } from "./AnisePackage.js";
import { generatedEntryFiles, pfOf, recordFiles } from "./AniseRecord.js";
import { allValues, BoltFile } from "./BoltFile.js";
import { finalizerRecord, type Finalizer } from "./finalizer.js";

export interface AniseDbPackage {
  readonly spec: PackageSpec;
  readonly repository: string;
  readonly files: readonly string[];
  readonly finalizer: Finalizer | undefined;
}

/** The packages an anise database records, with their files and finalizers. */
export function readAniseDb(file: string): AniseDbPackage[] {
  const db = new BoltFile(file);
  const packages: { spec: PackageSpec; repository: string }[] = [];
  const files = new Map<string, string[]>();
  const finalizers = new Map<string, Finalizer>();
  for (const { value } of allValues(db.root())) {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(value.toString("utf8")) as Record<string, unknown>;
    } catch {
      continue; // storm's own values, not records
    }
    if (typeof doc !== "object" || doc === null) continue;
    const fp = typeof doc.PackageFingerprint === "string" ? doc.PackageFingerprint : undefined;
    if (fp && Array.isArray(doc.Files)) files.set(fp, doc.Files.map(String));
    else if (fp && ("Install" in doc || "Uninstall" in doc || "Shell" in doc)) {
      const list = (x: unknown) => (Array.isArray(x) ? x.map(String) : []);
      finalizers.set(fp, { shell: list(doc.Shell).length ? list(doc.Shell) : ["sh", "-c"], install: list(doc.Install), uninstall: list(doc.Uninstall) });
    } else if (typeof doc.name === "string" && typeof doc.category === "string" && doc.version !== undefined) {
      try {
        packages.push({ spec: parsePackageSpec(doc, file), repository: typeof doc.repository === "string" ? doc.repository : "" });
      } catch {
        // not a package after all
      }
    }
  }
  return packages.map((p) => ({ ...p, files: files.get(fingerprint(p.spec)) ?? [], finalizer: finalizers.get(fingerprint(p.spec)) }));
}

const md5 = (file: string) => createHash("md5").update(fs.readFileSync(file)).digest("hex");

/** CONTENTS of files as they are in ROOT now (missing ones left out), with their directories. */
export function contentsOnDisk(root: string, files: readonly string[]): ContentsEntry[] {
  const out: ContentsEntry[] = [];
  const dirs = new Set<string>();
  for (const rel of [...files].sort()) {
    const p = `/${rel.replace(/^\/+/, "")}`;
    const host = path.join(root, p);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (!st || st.isDirectory()) continue;
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = `/${parts.slice(0, i).join("/")}`;
      if (!dirs.has(d)) {
        dirs.add(d);
        out.push({ type: "dir", path: d });
      }
    }
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isSymbolicLink()) out.push({ type: "sym", path: p, target: fs.readlinkSync(host), mtime });
    else if (st.isFile()) out.push({ type: "obj", path: p, md5: md5(host), mtime });
    else if (st.isFIFO()) out.push({ type: "fif", path: p });
    else out.push({ type: "dev", path: p });
  }
  return out;
}

export interface ImportResult {
  readonly imported: string[];
  /** Already in /var/db/pkg, with the entry found. */
  readonly skipped: { package: string; because: string }[];
}

/** Record every package of an anise database in /var/db/pkg. */
export async function importAniseDb(root: string, file: string, o: { ownerIndex?: OwnerIndex; reporter?: Reporter; dryRun?: boolean } = {}): Promise<ImportResult> {
  const pkgs = readAniseDb(file);
  const result: ImportResult = { imported: [], skipped: [] };
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-anise-import-"));
  try {
    await withVdbLock(root, () => {
      const installed = readInstalled(root);
      for (const p of pkgs) {
        const s = p.spec;
        const label = `${s.category}/${s.name}-${s.version}`;
        const there = installed.find((i) => i.category === s.category && i.package === s.name);
        if (there) {
          result.skipped.push({ package: label, because: there.cpv });
          continue;
        }
        if (o.dryRun) {
          result.imported.push(`${s.category}/${pfOf(s)}`);
          continue;
        }
        const contents = contentsOnDisk(root, p.files);
        const pf = pfOf(s);
        const extra = { ...generatedEntryFiles({ spec: s, repository: p.repository }), ...recordFiles({ repository: p.repository || "anise", spec: s, finalizer: p.finalizer ? finalizerRecord(p.finalizer) : undefined }) };
        stageVdbEntry(root, { category: s.category, pf, buildInfoDir: empty, contents, counter: nextCounter(root), extra });
        commitVdbEntry(root, s.category, pf);
        o.ownerIndex?.update(`${s.category}/${pf}`, contents);
        o.reporter?.report({ kind: "info", message: `recorded ${label} (${contents.filter((c) => c.type !== "dir").length} files)` });
        result.imported.push(`${s.category}/${pf}`);
      }
    });
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
  return result;
}
