// `ouzo depends ATOM` (the installed packages that depend on an installed package, by class) and
// `ouzo why ATOM` (the chain from @world or @system that keeps it installed).
import * as fs from "node:fs";
import type { Config } from "../../config/Config.js";
import { OuzoError } from "../../core/errors.js";
import type { Candidate } from "../../resolve/Candidate.js";
import { InstalledGraph } from "../../resolve/depclean.js";
import { reverseDependencies, type WhyLink, whyKept } from "../../resolve/reverse.js";
import type { Output } from "../../ui/Output.js";
import { readWorld, worldFile } from "../../vdb/world.js";
import { type GlobalArgs, rootOf } from "../context.js";
import { removalAtom } from "../emergeDepclean.js";
import { InstalledSource } from "../emergeSources.js";

export interface DependsArgs extends GlobalArgs {
  atom: string;
  /** `n`: build-time dependencies do not keep a package (why). */
  withBdeps?: string;
}

/** The installed packages an argument names; none is an error naming it. */
function installedMatches(args: DependsArgs, out: Output): { installed: Candidate[]; matches: Candidate[] } {
  const installed = new InstalledSource(rootOf(args), out).all;
  const atom = removalAtom(args.atom, installed);
  const matches = installed.filter((c) => atom.matchesIgnoringUse({ category: c.category, package: c.package, version: c.version, slot: c.slot, subslot: c.subslot, repo: c.repo })).sort((a, b) => (a.cpv < b.cpv ? -1 : 1));
  if (!matches.length) throw new OuzoError("NOT_INSTALLED", `no installed package matches "${args.atom}"`);
  return { installed, matches };
}

/** `ouzo depends ATOM`: for each installed match, the installed packages whose dependencies it satisfies, by class. */
export function dependsCommand(_config: Config, args: DependsArgs, out: Output): number {
  const { installed, matches } = installedMatches(args, out);
  const g = new InstalledGraph(installed);
  const found = matches.map((c) => ({ c, deps: reverseDependencies(g, c) }));
  if (args.json) {
    out.json({
      packages: found.map(({ c, deps }) => ({ cpv: c.cpv, repo: c.repo, slot: c.slot, dependents: deps.map((d) => ({ by: d.by.cpv, class: d.cls, atom: d.atom, any_of: d.anyOf })) })),
    });
    return 0;
  }
  for (const { c, deps } of found) {
    out.result(`${c.cpv}::${c.repo}${deps.length ? "" : ": no installed package depends on it"}`);
    for (const cls of ["DEPEND", "BDEPEND", "RDEPEND", "PDEPEND", "IDEPEND"] as const) {
      const mine = deps.filter((d) => d.cls === cls);
      if (!mine.length) continue;
      out.result(`  ${cls}`);
      for (const d of mine) out.result(`    ${d.by.cpv} (${d.atom}${d.anyOf ? ", one of an || group" : ""})`);
    }
  }
  return 0;
}

const linkText = (l: WhyLink, world: string) =>
  l.kind === "set" ? `@${l.set} has ${l.atom}${l.set === "selected" ? ` (${world})` : ""}: ${l.pkg.cpv}` : `${l.by.cpv} needs ${l.atom} (${l.cls}): ${l.pkg.cpv}`;

/** `ouzo why ATOM`: the chain from @world (or @system) that keeps each installed match. */
export function whyCommand(config: Config, args: DependsArgs, out: Output): number {
  const root = rootOf(args);
  const { installed, matches } = installedMatches(args, out);
  const g = new InstalledGraph(installed);
  const world = readWorld(root);
  const roots = [...world.atoms.map((atom) => ({ set: "selected", atom })), ...config.system.map((atom) => ({ set: "system", atom }))];
  const file = worldFile(root);
  const lineOf = (atom: string) => {
    const n = (readWorldLines(file).findIndex((l) => l === atom) + 1) || undefined;
    return n ? `${file}:${n}` : file;
  };
  const answers = matches.map((c) => ({ c, chain: whyKept(g, roots, c, args.withBdeps !== "n") }));
  if (args.json) {
    out.json({
      packages: answers.map(({ c, chain }) => ({
        cpv: c.cpv,
        repo: c.repo,
        kept: !!chain,
        chain: (chain ?? []).map((l) => (l.kind === "set" ? { set: `@${l.set}`, atom: l.atom, cpv: l.pkg.cpv, ...(l.set === "selected" ? { decided_by: lineOf(l.atom) } : {}) } : { by: l.by.cpv, class: l.cls, atom: l.atom, cpv: l.pkg.cpv })),
      })),
    });
    return 0;
  }
  for (const { c, chain } of answers) {
    if (!chain) {
      out.result(`${c.cpv}: nothing in @world or @system needs it (ouzo emerge --depclean would remove it)`);
      continue;
    }
    out.result(`${c.cpv} is kept by:`);
    chain.forEach((l, i) => out.result(`${"  ".repeat(i + 1)}${linkText(l, l.kind === "set" ? lineOf(l.atom) : "")}`));
  }
  return 0;
}

/** The first token of each line of the world file (to name the line of an entry). */
function readWorldLines(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n").map((l) => l.trim().split(/\s+/)[0] ?? "");
  } catch {
    return [];
  }
}
