// The file-conflict rule of an anise transaction (anise.md §9.1), checked over the whole plan
// before anything is downloaded or changed: no two packages of the plan may ship one path, and
// no path may be in the way that another installed package owns (one the plan removes or
// replaces does not count); an existing file no package owns is overwritten.
//
// It runs on one core before the first download, over every file of the plan (40,000 in the
// bench's install), so it works a directory at a time: the metadata lists a package's files
// directory by directory, and only a directory two packages both put files in needs its files
// compared one by one; only a directory ROOT has needs its files looked for.
import { isDirectoryIn, lstatIfExists, RootPaths } from "../merge/rootPath.js";
import type { SubsetDefinition } from "./AniseConfig.js";
import type { AniseRunContext, AniseStep } from "./AniseInstaller.js";
import { subsetRules, type PackageSpec } from "./AnisePackage.js";
import { subsetOf } from "./ImageBuilder.js";

/** The rules of the subsets that apply to a package: its own annotation and subsets.def.d's. */
export function subsetsFor(spec: PackageSpec, defs: readonly SubsetDefinition[]): Map<string, RegExp[]> {
  const rules = subsetRules(spec);
  const cp = `${spec.category}/${spec.name}`;
  for (const d of defs) {
    const applies = (!d.packages.length && !d.categories.length) || d.packages.includes(cp) || d.categories.includes(spec.category);
    if (applies) rules.set(d.name, [...(rules.get(d.name) ?? []), ...d.rules]);
  }
  return rules;
}

/** Files of one package that follow each other in one directory (`dir`: "usr/bin/", "" for ROOT's top). */
interface Run {
  readonly dir: string;
  readonly by: string;
  readonly files: string[];
}

const label = (s: PackageSpec) => `${s.category}/${s.name}-${s.version}`;

/** The problems, each a sentence; none when the plan may go on. */
export function checkFileConflicts(steps: readonly AniseStep[], ctx: Pick<AniseRunContext, "root" | "subsetsEnabled" | "subsetDefinitions" | "skipCheckSystem" | "ownerIndex">): string[] {
  const problems: string[] = [];
  const leaving = new Set<string>();
  for (const s of steps) {
    if (s.kind === "remove") leaving.add(s.pkg.cpv);
    else for (const r of s.replacing) leaving.add(r.cpv);
  }
  // the installed files of each package, in runs (a name is sliced once per run, not per file)
  const runs: Run[] = [];
  for (const s of steps) {
    if (s.kind !== "install") continue;
    const rules = subsetsFor(s.entry.spec, ctx.subsetDefinitions);
    const by = label(s.entry.spec);
    let run: Run | undefined;
    for (const f of s.entry.meta.files) {
      if (f.startsWith("var/db/pkg/") || (rules.size && subsetOf(f, rules, ctx.subsetsEnabled))) continue;
      const slash = f.lastIndexOf("/");
      if (!run || slash + 1 !== run.dir.length || !f.startsWith(run.dir)) runs.push((run = { dir: f.slice(0, slash + 1), by, files: [] }));
      run.files.push(f);
    }
  }
  // directories two packages put files in: those files compared one by one, in the plan's order
  const firstIn = new Map<string, string>();
  const shared = new Set<string>();
  for (const r of runs) {
    const first = firstIn.get(r.dir);
    if (first === undefined) firstIn.set(r.dir, r.by);
    else if (first !== r.by) shared.add(r.dir);
  }
  if (shared.size) {
    const shippedBy = new Map<string, string>();
    for (const r of runs) {
      if (!shared.has(r.dir)) continue;
      for (const f of r.files) {
        const other = shippedBy.get(f);
        if (other !== undefined && other !== r.by) problems.push(`/${f} is shipped by both ${other} and ${r.by}`);
        shippedBy.set(f, r.by);
      }
    }
  }
  if (ctx.skipCheckSystem || !ctx.ownerIndex) return problems;
  // only paths that exist can collide. Parents are resolved inside ROOT, once per directory, and
  // a directory found missing answers for all it would hold
  const paths = new RootPaths(ctx.root);
  const physDirs = new Map<string, string | undefined>();
  /** Each path in the way, with the (last) package of the plan that ships it. */
  const present = new Map<string, string>();
  for (const r of runs) {
    let physDir = physDirs.get(r.dir);
    if (!physDirs.has(r.dir)) {
      const phys = paths.physDir(r.dir ? `/${r.dir.slice(0, -1)}` : "/");
      physDir = paths.isAbsent(phys) ? undefined : phys;
      physDirs.set(r.dir, physDir);
    }
    if (physDir === undefined) continue;
    for (const f of r.files) {
      const base = f.slice(r.dir.length);
      const st = lstatIfExists(paths.abs(physDir === "/" ? `/${base}` : `${physDir}/${base}`));
      if (!st || st.isDirectory() || (st.isSymbolicLink() && isDirectoryIn(paths, `/${f}`))) continue;
      present.set(`/${f}`, r.by);
    }
  }
  if (!present.size) return problems;
  for (const [p, owners] of ctx.ownerIndex.owners([...present.keys()])) {
    const others = owners.filter((o) => !leaving.has(o));
    if (others.length) problems.push(`${p} of ${present.get(p)} belongs to the installed ${others.join(", ")}`);
  }
  return problems;
}
