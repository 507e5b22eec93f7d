// `ouzo emerge --depclean`, `--prune` and `--unmerge` as plans (emerge spec §10, §13.9): what would
// be removed, in what order, what stays and who needs it, and the refusal when something installed
// still needs what was named. Removing is the merge stage's (this prints and returns the plan).
import type { Config } from "../config/Config.js";
import { UsageError } from "../core/errors.js";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";
import type { Candidate } from "../resolve/Candidate.js";
import { type KeptBy, type Need, type RemovalAction, type RemovalPlan, removalPlan } from "../resolve/depclean.js";
import type { Output } from "../ui/Output.js";
import { readInstalled } from "../vdb/installed.js";
import { readWorld } from "../vdb/world.js";
import { readWorldEntries, removeWorldAtoms, removeWorldSets } from "../vdb/worldWrite.js";
import { rootOf } from "./context.js";
import type { EmergeArgs } from "./commands/emerge.js";
import { optionAtoms } from "./emergeRequest.js";
import { InstalledSource } from "./emergeSources.js";

/**
 * An argument of a removal action as emerge reads it (emerge spec §10.3): an atom, a wildcard, a
 * bare name (its category from what is installed), `name-1.0` for `=name-1.0`.
 */
export function removalAtom(arg: string, installed: readonly Candidate[] = []): Atom {
  let text = arg;
  if (!text.includes("/")) {
    const [, op = "", rest = ""] = /^([<>=~]*)(.*)$/.exec(text) ?? [];
    // the category of an installed package of that name (with or without a version after it)
    const owner = installed.find((c) => c.package === rest) ?? installed.find((c) => rest.startsWith(`${c.package}-`) && /^\d/.test(rest.slice(c.package.length + 1)));
    text = `${op}${owner ? owner.category : "*"}/${rest}`;
  }
  if (!/^[<>=~!]/.test(text) && /-\d[^/]*$/.test(text) && !Atom.tryParse(text, USER_CONFIG_EAPI)) text = `=${text}`;
  const a = Atom.tryParse(text, USER_CONFIG_EAPI);
  if (!a) throw new UsageError(`'${arg}' is not an atom or a package name`);
  return a;
}

const needText = (n: Need) => `${n.by.cpv} needs ${n.atom} (${n.cls})`;
const keptText = (w: KeptBy) => ("by" in w ? needText(w) : w.set === "argument-other" ? "not named" : w.set === "highest" ? "the highest installed version" : `in @${w.set}${w.atom ? ` (${w.atom})` : ""}`);

/** The unmerge display (emerge spec §10.4), in ouzo's words around emerge's layout. */
export function displayLines(plan: RemovalPlan, quiet = false): string[] {
  const out: string[] = [];
  const list = (vs: readonly string[]) => (vs.length ? vs.map((v) => `${v} `).join("") : "none ");
  if (!quiet) out.push("", ">>> Packages that would be unmerged:", "");
  for (const b of plan.display) {
    if (quiet) {
      out.push(`${b.cp}: ${list(b.selected)}${list(b.protected)}${list(b.omitted)}`);
      continue;
    }
    out.push(` ${b.cp}`, `${"selected:".padStart(13)} ${list(b.selected)}`, `${"protected:".padStart(13)} ${list(b.protected)}`, `${"omitted:".padStart(13)} ${list(b.omitted)}`, "");
  }
  if (plan.remove.length) out.push(`All selected packages: ${plan.remove.map((c) => `=${c.cpv}`).join(" ")}`, "");
  if (!quiet) out.push(">>> 'selected' packages are removed; 'protected' and 'omitted' ones stay.");
  return out;
}

/** The JSON document of a removal plan (emerge spec §13.1, §13.9). */
export function removalDocument(plan: RemovalPlan, root: string, verbose: boolean): Record<string, unknown> {
  const reason = (c: Candidate, i: number) =>
    plan.action === "prune" || plan.action === "clean" ? { kind: plan.action, kept: plan.keptFor.get(c)?.cpv ?? null } : plan.action === "unmerge" ? { kind: "requested" } : { kind: "depclean", index: i };
  const failure = plan.unresolved.length
    ? { code: "depclean-unresolved", message: "installed packages have dependencies nothing installed satisfies", chain: plan.unresolved.map((n, i) => ({ n: i + 1, kind: "dependency", text: needText(n), package: n.by.cpv, class: n.cls, atom: n.atom, refs: [] })) }
    : plan.nomatch.length && !plan.remove.length && !plan.refused.length
      ? { code: "nothing-matched", message: `no installed package matches ${plan.nomatch.join(", ")}`, chain: [] }
      : null;
  return {
    schema: "ouzo-plan/1",
    ok: !failure,
    action: plan.action,
    plan: plan.remove.map((c, i) => ({ index: i, op: "unmerge", cpv: c.cpv, repo: c.repo, slot: c.slot, subslot: c.subslot, root, reason: reason(c, i), ...(plan.action === "unmerge" ? { needed_by: (plan.neededBy.get(c) ?? []).map((n) => ({ by: n.by.cpv, class: n.cls, atom: n.atom })) } : {}) })),
    unmerge_display: plan.display,
    counts: plan.counts,
    refused: plan.refused.map((r) => ({ cpv: r.pkg.cpv, needed_by: r.neededBy.map((n) => ({ by: n.by.cpv, class: n.cls, atom: n.atom })) })),
    nomatch: plan.nomatch,
    kept: verbose ? [...plan.required].map(([c, whys]) => ({ cpv: c.cpv, pulled_in_by: whys.map((w) => ("by" in w ? { by: w.by.cpv, class: w.cls, atoms: [w.atom] } : { set: w.set, atom: w.atom ?? null })) })).sort((a, b) => (a.cpv < b.cpv ? -1 : 1)) : [],
    failure,
  };
}

/** The removal action of the arguments: --depclean, --prune or --unmerge (exactly one is set). */
export function removalActionOf(a: EmergeArgs & { depclean?: boolean; prune?: boolean }): RemovalAction | undefined {
  return a.depclean ? "depclean" : a.prune ? "prune" : a.clean ? "clean" : a.unmerge || a.rageClean ? "unmerge" : undefined;
}

/**
 * Show the plan of a removal action. Returns the exit status and the packages the plan removes
 * (the caller removes them when not pretending): 1 when depclean stops on unresolved dependencies,
 * when no argument matches anything, or when arguments were given, nothing is removed and it is not
 * a pretend run.
 */
export function removalCommand(config: Config, args: EmergeArgs, out: Output, action: RemovalAction): { exit: number; plan: RemovalPlan } {
  const root = rootOf(args);
  const installed = new InstalledSource(root, out).all;
  const world = readWorld(root, (w) => out.warn(`${w.file}:${w.line}: ${w.message}`));
  const atoms = (args.atoms ?? []).map((arg) => ({ arg, atom: removalAtom(arg, installed) }));
  if (action === "unmerge" && !atoms.length) throw new UsageError("--unmerge needs atoms");
  // --clean keeps the latest installed of each slot: the vdb's COUNTER says which
  const counters = action === "clean" ? new Map(readInstalled(root).map((p) => [p.cpv, p.counter])) : undefined;
  const plan = removalPlan({ action, installed, world: world.atoms, system: config.system, exclude: optionAtoms("exclude", args.exclude ?? []), withBdeps: args.withBdeps !== "n", atoms, ...(counters ? { counterOf: (c) => counters.get(c.cpv) ?? 0 } : {}) });
  const verbose = !!args.verbose && !args.quiet;
  for (const a of plan.nomatch) if (!args.json) out.warn(`no installed package matches "${a}"`);
  if (args.json) {
    out.json(removalDocument(plan, root, verbose));
    return { exit: plan.unresolved.length || (plan.nomatch.length && plan.nomatch.length === atoms.length) ? 1 : 0, plan };
  }
  if (atoms.length && plan.nomatch.length === atoms.length) {
    out.error("nothing installed matches the arguments");
    return { exit: 1, plan };
  }
  if (plan.unresolved.length) {
    out.error(
      [
        `${action} stops: installed packages need what nothing installed provides, so nothing is removed:`,
        ...plan.unresolved.map((n) => `  ${n.atom} (${n.cls} of ${n.by.cpv}::${n.by.repo})`),
        "update the system first (ouzo emerge -uDN --with-bdeps=y @world), and remove by hand the packages that left the repositories",
      ].join("\n"),
    );
    return { exit: 1, plan };
  }
  if (action === "depclean" && !atoms.length && !args.quiet) {
    out.notice("depclean removes what nothing in @world or @system needs: read the list first; add a package to the world file (ouzo emerge --noreplace PKG) to keep it.");
  }
  if (action === "unmerge") {
    for (const c of plan.remove) {
      const need = plan.neededBy.get(c) ?? [];
      if (need.length) out.warn(`${c.cpv} is still needed: ${need.map(needText).join("; ")}`);
    }
  }
  for (const r of plan.refused) out.error(`${r.pkg.cpv} is not removed: ${r.neededBy.length ? r.neededBy.map(needText).join("; ") : "it is required"}`);
  if (plan.remove.length || plan.refused.length) for (const l of displayLines(plan, !!args.quiet)) out.result(l);
  if (verbose) {
    // why each package named (or, without arguments, each package kept) stays
    const shown = atoms.length ? plan.refused.map((r) => r.pkg) : [...plan.required.keys()];
    for (const c of shown.sort((a, b) => (a.cpv < b.cpv ? -1 : 1))) {
      const whys = plan.required.get(c) ?? [];
      out.result(`  ${c.cpv} pulled in by:`);
      for (const w of whys.map(keptText).sort()) out.result(`    ${w}`);
    }
  }
  if (action === "depclean") {
    const c = plan.counts;
    out.result("");
    out.result(` installed packages:  ${c.installed}`);
    out.result(` in @world:           ${c.world}`);
    out.result(` in @system:          ${c.system}`);
    if (c.profile) out.result(` in @profile:         ${c.profile}`);
    out.result(` required:            ${c.required}`);
    out.result(` ${args.pretend ? "to remove:          " : "removed:            "} ${c.remove}`);
  }
  if (!plan.remove.length) {
    if (!args.quiet) out.notice(`nothing to remove${verbose ? "" : " (-v shows what keeps each package)"}`);
    return { exit: atoms.length && !args.pretend ? 1 : 0, plan };
  }
  return { exit: 0, plan };
}

/** Whether `--deselect`'s argument takes the world entry `w` away (emerge spec §2.6). */
function deselects(arg: Atom, w: Atom): boolean {
  if (arg.package_ !== w.package_ || (arg.category !== "*" && arg.category !== w.category)) return false;
  // a slotted or repository-qualified argument leaves an entry without them
  if (arg.slot !== undefined && w.slot !== arg.slot) return false;
  if (arg.repo !== undefined && w.repo !== arg.repo) return false;
  return true;
}

/**
 * `--deselect ATOMS/@SETS` (emerge spec §2.6): the world entries the arguments name leave the
 * world files; nothing is unmerged. Returns the entries it would remove (none removed with -p;
 * `confirm` asks first when given).
 */
export async function deselectCommand(root: string, args: EmergeArgs, out: Output, confirm?: () => Promise<boolean>): Promise<number> {
  const given = args.atoms ?? [];
  if (!given.length) throw new UsageError("--deselect needs atoms or @sets");
  const sets = given.filter((a) => a.startsWith("@")).map((a) => `@${a.slice(1)}`);
  const atoms = given.filter((a) => !a.startsWith("@")).map((a) => {
    try {
      return Atom.parse(a.includes("/") ? a : `*/${a}`, USER_CONFIG_EAPI);
    } catch (e) {
      throw new UsageError(`--deselect: '${a}' is not an atom: ${(e as Error).message}`);
    }
  });
  const drop = readWorldEntries(root, "world").filter((e) => {
    let w: Atom;
    try {
      w = Atom.parse(e, USER_CONFIG_EAPI);
    } catch {
      return false; // an entry ouzo cannot read stays as it is
    }
    return atoms.some((a) => deselects(a, w));
  });
  const dropSets = readWorldEntries(root, "world_sets").filter((e) => sets.includes(e));
  if (!drop.length && !dropSets.length) {
    out.result('>>> No matching atoms found in "world" favorites file...');
    return 0;
  }
  for (const e of drop) out.result(`>>> Removing ${e} from "world" favorites file...`);
  for (const e of dropSets) out.result(`>>> Removing ${e} from "world_sets" favorites file...`);
  if (args.pretend) return 0;
  if (confirm && !(await confirm())) return 130;
  if (drop.length) await removeWorldAtoms(root, drop);
  if (dropSets.length) await removeWorldSets(root, dropSets);
  return 0;
}
