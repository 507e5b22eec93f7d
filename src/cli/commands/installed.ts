// Queries of the installed-package database: `ouzo owner PATH...` (like `equery belongs` and
// `qfile`), `ouzo files ATOM` (like `equery files`), `ouzo installed [ATOM]` (like `qlist -IRS`).
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError, UsageError } from "../../core/errors.js";
import { Atom } from "../../pms/atom.js";
import { COMMAND_LINE_EAPI } from "../../pms/eapi.js";
import { compareVersions } from "../../pms/version.js";
import type { Output } from "../../ui/Output.js";
import { parseContents, type ContentsEntry } from "../../vdb/contents.js";
import { readInstalled, type InstalledPackage } from "../../vdb/installed.js";
import { OwnerIndex } from "../../vdb/ownerIndex.js";
import { cacheDirOf, rootOf, type GlobalArgs } from "../context.js";

/** One hit of `ouzo owner`: the package and the recorded path that matched. */
interface OwnerHit {
  readonly cpv: string;
  readonly path: string;
}

/**
 * A path argument as the index knows it: absolute paths are taken relative to ROOT; a path with a
 * slash but not absolute is resolved from the working directory (and made relative to ROOT when it
 * lies under it); a bare file name is matched against the last component of every owned path.
 */
function queryOf(arg: string, root: string): { kind: "path" | "name"; text: string } {
  if (!arg.includes("/")) return { kind: "name", text: arg };
  if (arg.startsWith("/")) return { kind: "path", text: arg };
  const abs = path.resolve(arg);
  if (root !== "/" && (abs === root || abs.startsWith(`${root}/`))) return { kind: "path", text: abs.slice(root.length) || "/" };
  return { kind: "path", text: abs };
}

/** `ouzo owner PATH...`: which installed packages own each path; exit 1 when none is owned. */
export async function ownerCommand(args: { paths: string[] } & GlobalArgs, out: Output): Promise<number> {
  if (!args.paths?.length) throw new UsageError("owner needs at least one path");
  const root = rootOf(args);
  const index = OwnerIndex.open(root, cacheDirOf(args), { reporter: out });
  const results: { query: string; owners: OwnerHit[] }[] = [];
  try {
    for (const arg of args.paths) {
      const q = queryOf(arg, root);
      const hits: OwnerHit[] = [];
      if (q.kind === "name") {
        for (const [p, cpvs] of index.ownersByName(q.text)) for (const cpv of cpvs) hits.push({ cpv, path: p });
      } else {
        for (const cpv of index.owners([q.text]).get(q.text) ?? []) hits.push({ cpv, path: q.text });
      }
      results.push({ query: arg, owners: hits });
    }
  } finally {
    index.close();
  }
  const any = results.some((r) => r.owners.length);
  if (out.opts.json) out.json({ root, results });
  else for (const r of results) for (const h of r.owners) out.result(`${h.cpv} (${h.path})`);
  if (!any && !out.opts.json) out.warn(`no installed package owns ${args.paths.length === 1 ? args.paths[0] : "any of these paths"}`);
  return any ? 0 : 1;
}

/**
 * Installed packages matching an argument: an atom, or a bare package name (any category; an
 * operator and version may precede and follow it: `=zlib-1.3*`).
 */
function matchInstalled(arg: string, installed: readonly InstalledPackage[]): InstalledPackage[] {
  let text = arg;
  if (!arg.includes("/")) {
    const m = /^([<>=~]*)([A-Za-z0-9+_][A-Za-z0-9+_-]*?)(-\d.*)?$/.exec(arg);
    if (!m) throw new UsageError(`'${arg}' is not an atom or a package name`);
    const cats = [...new Set(installed.filter((p) => p.package === m[2]).map((p) => p.category))];
    if (!cats.length) return [];
    if (cats.length > 1) throw new OuzoError("AMBIGUOUS_NAME", `'${m[2]}' is installed in several categories: ${cats.map((c) => `${c}/${m[2]}`).join(", ")}; name one`, {}, 2);
    text = `${m[1]}${cats[0]}/${m[2]}${m[3] ?? ""}`;
  }
  let atom: Atom;
  try {
    atom = Atom.parse(text, COMMAND_LINE_EAPI);
  } catch (e) {
    throw new UsageError((e as OuzoError).message);
  }
  if (atom.blocker) throw new UsageError(`'${arg}' is a blocker, not a package`);
  return installed.filter((p) =>
    atom.matches({ category: p.category, package: p.package, version: p.version, slot: p.slot, subslot: p.subslot, repo: p.repo, use: new Set(p.use), iuse: new Set(p.iuse.map((f) => f.replace(/^[+-]/, ""))) }),
  );
}

function readAll(root: string, out: Output): InstalledPackage[] {
  return readInstalled(root, (w) => out.warn(`${w.dir}${w.file ? `/${w.file}` : ""}: ${w.message}`));
}

function entryJson(e: ContentsEntry) {
  switch (e.type) {
    case "obj":
      return { type: e.type, path: e.path, md5: e.md5, mtime: e.mtime };
    case "sym":
      return { type: e.type, path: e.path, target: e.target, mtime: e.mtime };
    default:
      return { type: e.type, path: e.path };
  }
}

/** `ouzo files ATOM`: the CONTENTS of the best (highest) installed version matching ATOM. */
export async function filesCommand(args: { atom: string } & GlobalArgs, out: Output): Promise<number> {
  if (!args.atom) throw new UsageError("files needs a package");
  const root = rootOf(args);
  const hits = matchInstalled(args.atom, readAll(root, out));
  if (!hits.length) {
    if (out.opts.json) out.json({ root, atom: args.atom, cpv: null, files: [] });
    else out.warn(`no installed package matches '${args.atom}'`);
    return 1;
  }
  const best = hits.reduce((a, b) => (compareVersions(b.version, a.version) > 0 || (compareVersions(b.version, a.version) === 0 && b.counter > a.counter) ? b : a));
  let text = "";
  try {
    text = fs.readFileSync(path.join(best.dir, "CONTENTS"), "utf8");
  } catch {
    // an entry without CONTENTS owns nothing
  }
  const entries = parseContents(text, []);
  if (out.opts.json) out.json({ root, atom: args.atom, cpv: best.cpv, files: entries.map(entryJson) });
  else for (const e of entries) out.result(e.type === "sym" ? `${e.path} -> ${e.target}` : e.path);
  return 0;
}

/** `cat/pf:SLOT[/SUBSLOT]::repo` as qlist -IRS prints it (the sub-slot only when it differs). */
function installedLine(p: InstalledPackage): string {
  return `${p.cpv}:${p.slot}${p.subslot !== p.slot ? `/${p.subslot}` : ""}${p.repo ? `::${p.repo}` : ""}`;
}

/** `ouzo installed [ATOM]`: installed packages (all, or those matching ATOM) with slot and repository. */
export async function installedCommand(args: { atom?: string } & GlobalArgs, out: Output): Promise<number> {
  const root = rootOf(args);
  const all = readAll(root, out);
  const list = args.atom ? matchInstalled(args.atom, all) : all;
  if (out.opts.json) {
    out.json({
      root,
      packages: list.map((p) => ({ cpv: p.cpv, category: p.category, package: p.package, version: p.version.text, slot: p.slot, subslot: p.subslot, repo: p.repo, counter: p.counter, buildTime: p.buildTime })),
    });
  } else for (const p of list) out.result(installedLine(p));
  if (args.atom && !list.length) {
    if (!out.opts.json) out.warn(`no installed package matches '${args.atom}'`);
    return 1;
  }
  return 0;
}
