import * as fs from "node:fs";
import * as path from "node:path";
import { DownloadCounter, distfileNames, fetchedByHand, fetchRestricted, selectedUris } from "../../build/distfiles.js";
import type { Config } from "../../config/Config.js";
import type { Repository } from "../../config/repositories.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { listDir } from "../../core/fsutil.js";
import { categoriesOf } from "../../metadata/ebuildTree.js";
import type { MetadataStore } from "../../metadata/MetadataStore.js";
import { Atom } from "../../pms/atom.js";
import { checkRequiredUse, parseRequiredUse } from "../../pms/depspec.js";
import { COMMAND_LINE_EAPI, eapiFeatures, USER_CONFIG_EAPI } from "../../pms/eapi.js";

import type { Candidate, CandidateSource } from "../../resolve/Candidate.js";
import { buildPlan, combined, totalsOf, type PlanEntry, type UnmergeEntry } from "../../resolve/plan.js";
import { type RequestAtom, ResolveFailure, Resolver } from "../../resolve/resolve.js";
import type { Output } from "../../ui/Output.js";
import { readInstalled } from "../../vdb/installed.js";
import { readWorld } from "../../vdb/world.js";
import { rootOf, type GlobalArgs } from "../context.js";
import { blockerLine, mergeLine, numericLocale, totalLine, uninstallLine, type LineOptions } from "../emergeLines.js";
import { closest } from "../suggest.js";
import { failureLine, openStore, packageInput } from "./metadata.js";

export interface EmergeArgs extends GlobalArgs {
  atoms?: string[];
  pretend?: boolean;
  ask?: boolean;
  update?: boolean;
  deep?: boolean;
  newuse?: boolean;
  noreplace?: boolean;
  emptytree?: boolean;
  changedUse?: boolean;
  changedDeps?: boolean;
  exclude?: string[];
  withBdeps?: string;
  oneshot?: boolean;
  nospinner?: boolean;
  jobs?: number;
}

/** Ebuilds of every repository, through the metadata cache (stale entries regenerated for the packages reached only). */
class EbuildSource implements CandidateSource {
  constructor(private readonly config: Config, private readonly store: MetadataStore, private readonly out: Output) {}

  private readonly byCategory = new Map<string, Repository[]>();

  /** The repositories that have a category's directory: of 30 kits, few have any one category. */
  private reposWith(category: string): Repository[] {
    let rs = this.byCategory.get(category);
    if (!rs) this.byCategory.set(category, (rs = this.config.repos.repos.filter((r) => this.topNames(r).has(category))));
    return rs;
  }

  /** The names at the top of each repository, read once (not a stat per category and repository). */
  private readonly tops = new Map<string, ReadonlySet<string>>();

  private topNames(r: Repository): ReadonlySet<string> {
    let names = this.tops.get(r.location);
    if (!names) this.tops.set(r.location, (names = new Set(listDir(r.location) ?? [])));
    return names;
  }

  /** Packages already brought up to date in this run, with the repositories that have them. */
  private readonly fresh = new Map<string, string[]>();

  async prefetch(cps: readonly string[]): Promise<void> {
    const todo: { repo: string; category: string; pn: string }[] = [];
    for (const cp of cps) {
      if (this.fresh.has(cp)) continue;
      const [category, pn] = cp.split("/") as [string, string];
      const repos = this.reposWith(category).filter((r) => fs.existsSync(path.join(r.location, category, pn))).map((r) => r.name);
      this.fresh.set(cp, repos);
      for (const repo of repos) todo.push({ repo, category, pn });
    }
    for (const f of await this.store.ensurePackages(todo)) this.out.warn(failureLine(f));
  }

  async candidates(cp: string): Promise<Candidate[]> {
    const [category, pn] = cp.split("/") as [string, string];
    const out: Candidate[] = [];
    await this.prefetch([cp]);
    for (const r of this.config.repos.repos) {
      if (!this.fresh.get(cp)!.includes(r.name)) continue;
      for (const m of this.store.entries(r.name, { category, package: pn })) {
        if (m.failure) continue;
        const input = packageInput(m);
        const use = this.config.useFor(input);
        const masks = this.config.visibility(input, use.all).map((x) => x.kind === "package.mask" ? `package.mask (${x.file}:${x.line})` : x.kind === "keyword" ? `missing keyword (${x.detail})` : x.kind);
        // REQUIRED_USE against the effective USE: a version whose USE breaks it cannot be built
        if (m.values.REQUIRED_USE) {
          try {
            const broken = checkRequiredUse(parseRequiredUse(m.values.REQUIRED_USE, eapiFeatures(input.eapi) ?? COMMAND_LINE_EAPI), use.all);
            if (broken) masks.push(`REQUIRED_USE "${broken}" does not hold with USE="${use.enabled.join(" ")}"`);
          } catch (e) {
            masks.push(`REQUIRED_USE cannot be read: ${(e as Error).message}`);
          }
        }
        out.push({
          source: "ebuild",
          category,
          package: pn,
          version: input.version,
          cpv: m.cpv,
          slot: input.slot,
          subslot: input.subslot ?? input.slot,
          repo: r.name,
          eapi: input.eapi,
          iuse: input.iuse,
          use: use.all,
          useState: use,
          masks,
          maskMarker: masks.length ? " " : this.config.maskMarker(input),
          deps: { DEPEND: m.values.DEPEND, RDEPEND: m.values.RDEPEND, PDEPEND: m.values.PDEPEND, BDEPEND: m.values.BDEPEND, IDEPEND: m.values.IDEPEND },
          properties: m.values.PROPERTIES,
          srcUri: m.values.SRC_URI,
          restrict: m.values.RESTRICT,
        });
      }
    }
    return out;
  }
}

/** The installed packages of ROOT (/var/db/pkg), with the USE they were built with. */
class InstalledSource implements CandidateSource {
  private readonly byCp = new Map<string, Candidate[]>();

  constructor(root: string, out: Output) {
    for (const p of readInstalled(root, (w) => out.warn(`${w.dir}${w.file ? `/${w.file}` : ""}: ${w.message}`))) {
      const names = p.iuse.map((f) => f.replace(/^[+-]/, ""));
      const use = new Set(p.use);
      const c: Candidate = {
        source: "installed",
        category: p.category,
        package: p.package,
        version: p.version,
        cpv: p.cpv,
        slot: p.slot,
        subslot: p.subslot,
        repo: p.repo,
        eapi: p.eapi,
        iuse: p.iuse,
        use,
        useState: { enabled: names.filter((f) => use.has(f)).sort(), disabled: names.filter((f) => !use.has(f)).sort(), forced: [], masked: [] },
        masks: [],
        maskMarker: " ",
        deps: { DEPEND: p.depend, RDEPEND: p.rdepend, PDEPEND: p.pdepend, BDEPEND: p.bdepend, IDEPEND: p.idepend },
        properties: p.properties,
      };
      const cp = `${p.category}/${p.package}`;
      this.byCp.set(cp, [...(this.byCp.get(cp) ?? []), c]);
    }
  }

  get all(): Candidate[] {
    return [...this.byCp.values()].flat();
  }

  /** category/PN named by a runtime blocker → the installed packages carrying it. */
  private blockerIndex?: Map<string, Set<string>>;

  blockersOf(cp: string): readonly string[] {
    if (!this.blockerIndex) {
      this.blockerIndex = new Map();
      for (const c of this.all) {
        for (const text of [c.deps.RDEPEND, c.deps.PDEPEND, c.deps.IDEPEND]) {
          if (!text.includes("!")) continue;
          for (const tok of text.split(" ")) {
            if (!tok.startsWith("!")) continue;
            const a = Atom.tryParse(tok, COMMAND_LINE_EAPI);
            if (!a) continue;
            const owners = this.blockerIndex.get(a.cp) ?? new Set<string>();
            owners.add(`${c.category}/${c.package}`);
            this.blockerIndex.set(a.cp, owners);
          }
        }
      }
    }
    return [...(this.blockerIndex.get(cp) ?? [])];
  }

  async candidates(cp: string): Promise<Candidate[]> {
    return this.byCp.get(cp) ?? [];
  }
}

/** `gnome` → `gnome-base/gnome` when exactly one category has it (emerge's short names). */
function expandShortName(config: Config, name: string, installed: InstalledSource): string {
  const cats = new Set<string>();
  const all = new Set<string>();
  for (const r of config.repos.repos) {
    for (const c of categoriesOf(r.location)) {
      for (const pn of listDir(path.join(r.location, c)) ?? []) {
        all.add(`${c}/${pn}`);
        if (pn === name) cats.add(c);
      }
    }
  }
  for (const c of installed.all) if (c.package === name) cats.add(c.category);
  if (cats.size === 1) return `${[...cats][0]}/${name}`;
  if (cats.size > 1) throw new OuzoError("AMBIGUOUS", `the short ebuild name "${name}" is ambiguous; please specify one of: ${[...cats].sort().map((c) => `${c}/${name}`).join(", ")}`);
  const near = closest(name, [...all].map((cp) => cp.slice(cp.indexOf("/") + 1)));
  throw new OuzoError("NO_MATCH", `there are no ebuilds to satisfy "${name}"${near.length ? `; did you mean ${[...all].filter((cp) => near.includes(cp.slice(cp.indexOf("/") + 1))).slice(0, 5).join(", ")}?` : ""}`);
}

/** The request: atoms and sets (emerge spec §2.4), in the order emerge adds them. */
function requestOf(config: Config, args: EmergeArgs, installed: InstalledSource): RequestAtom[] {
  const root = rootOf(args);
  const out: RequestAtom[] = [];
  const world = () => readWorld(root, (w) => {
    throw new OuzoError("BAD_WORLD", w.message, { file: w.file, line: w.line });
  });
  const sorted = (as: readonly Atom[]) => [...as].sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
  const addSet = (name: string, seen: Set<string>) => {
    if (seen.has(name)) return;
    seen.add(name);
    switch (name) {
      case "world":
        addSet("system", seen);
        addSet("selected", seen);
        return;
      case "selected": {
        const w = world();
        for (const a of sorted(w.atoms)) out.push({ arg: "@selected", atom: a, set: "selected" });
        for (const s of [...w.sets].sort().reverse()) addSet(s, seen);
        return;
      }
      case "system":
        for (const a of sorted(config.system)) out.push({ arg: "@system", atom: a, set: "system" });
        return;
      case "installed":
        for (const c of installed.all) out.push({ arg: "@installed", atom: Atom.parse(`${c.category}/${c.package}:${c.slot}`, COMMAND_LINE_EAPI), set: "installed" });
        return;
      default: {
        const s = config.userSets.get(name);
        if (!s) throw new OuzoError("UNKNOWN_SET", `there is no set named @${name} (sets: @world @selected @system @installed${[...config.userSets.keys()].map((k) => ` @${k}`).join("")})`);
        for (const a of sorted(s)) out.push({ arg: `@${name}`, atom: a, set: name });
      }
    }
  };
  for (const arg of args.atoms ?? []) {
    if (arg.startsWith("@") || arg === "world" || arg === "system") {
      addSet(arg.replace(/^@/, ""), new Set());
      continue;
    }
    let text = arg;
    if (!arg.includes("/")) {
      // a bare name, possibly with an operator and version: expand its category
      const m = /^([<>=~!]*)([A-Za-z0-9+_][A-Za-z0-9+_-]*?)(-\d.*)?$/.exec(arg);
      if (!m) throw new UsageError(`'${arg}' is not an atom, a set or a package name`);
      text = `${m[1]}${expandShortName(config, m[2]!, installed)}${m[3] ?? ""}`;
    }
    try {
      out.push({ arg, atom: Atom.parse(text, COMMAND_LINE_EAPI) });
    } catch (e) {
      throw new UsageError((e as OuzoError).message);
    }
  }
  return out;
}

/**
 * --exclude values: names or slot atoms, wildcards allowed, a bare name for any category; several
 * per value, space-separated (emerge spec §1.4). Operators, USE and blockers are usage errors.
 */
function excludeAtoms(values: readonly string[]): Atom[] {
  return values.flatMap((v) => v.split(/\s+/).filter(Boolean)).map((t) => {
    if (/^[<>=~!]/.test(t) || t.includes("[")) throw new UsageError(`--exclude takes package names or slot atoms, not '${t}'`);
    try {
      return Atom.parse(t.includes("/") ? t : `*/${t}`, USER_CONFIG_EAPI);
    } catch (e) {
      throw new UsageError(`--exclude: ${(e as OuzoError).message}`);
    }
  });
}

/** One line answered on the terminal. */
type FetchState = "none" | "restricted" | "restricted-present";

/**
 * What each line of the plan still downloads (emerge spec §8.5), in the plan's order (a file
 * counts at its first package), and whether the package is fetch-restricted with its files in
 * place or missing (§8.2 column 12). DISTDIR is the configuration's, a host path as Portage reads it.
 */
function fetchPlan(ops: readonly (PlanEntry | UnmergeEntry)[], config: Config): { bytes: number; fetch: FetchState }[] {
  const counter = new DownloadCounter(config.vars.get("DISTDIR") || "/var/cache/portage/distfiles");
  return ops.map((e) => {
    const c = e.pkg;
    const repo = config.repos.get(c.repo);
    if (e.op !== "merge" || c.source !== "ebuild" || !repo) return { bytes: 0, fetch: "none" };
    const pkgDir = path.join(repo.location, c.category, c.package);
    try {
      const uris = selectedUris(c.srcUri ?? "", c.eapi, c.use);
      const bytes = counter.bytes(pkgDir, distfileNames(uris));
      if (!fetchRestricted(c.restrict ?? "", c.use)) return { bytes, fetch: "none" };
      return { bytes, fetch: counter.allPresent(pkgDir, distfileNames(fetchedByHand(uris))) ? "restricted-present" : "restricted" };
    } catch {
      return { bytes: 0, fetch: "none" }; // an unreadable SRC_URI or RESTRICT fails at fetch time, with its message
    }
  });
}

async function ask(question: string): Promise<string> {
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** `ouzo emerge`: the plan emerge would make, in emerge's words (building and merging come later). */
export async function emergeCommand(config: Config, args: EmergeArgs, out: Output): Promise<number> {
  const started = Date.now();
  const root = rootOf(args);
  if (!args.atoms?.length) throw new UsageError("emerge needs atoms or sets (e.g. 'ouzo emerge -pv app-misc/hello' or 'ouzo emerge -puDN @world')");
  if (args.ask && !process.stdin.isTTY) throw new OuzoError("NO_TTY", "--ask needs a terminal to answer on");
  const installed = new InstalledSource(root, out);
  const request = requestOf(config, args, installed);
  const store = openStore(config.repos, args, out);
  let entries: PlanEntry[];
  let unmerges: UnmergeEntry[];
  let cycle: string[] | undefined;
  let stats: Record<string, unknown> = {};
  let missing: readonly { atom: string; set: string }[] = [];
  const verbose = !!args.verbose && !args.quiet;
  const header = !args.quiet && !args.json && (args.pretend || args.ask || verbose);
  if (header) out.result("\nThese are the packages that would be merged, in order:\n");
  if (header) out.result("Calculating dependencies... done!");
  try {
    const resolver = new Resolver([new EbuildSource(config, store, out), installed], {
      update: args.update,
      deep: args.deep,
      newuse: args.newuse,
      changedUse: args.changedUse,
      changedDeps: args.changedDeps,
      noreplace: args.noreplace,
      emptytree: args.emptytree,
      exclude: excludeAtoms(args.exclude ?? []),
      withBdeps: args.withBdeps !== "n",
      selected: readWorld(root).atoms,
    });
    const selection = await resolver.resolve(request);
    missing = selection.missing ?? [];
    const t = performance.now();
    ({ entries, unmerges, cycle } = buildPlan(selection));
    stats = { ...selection.stats, orderMs: Math.round(performance.now() - t) };
    out.report({ kind: "info", message: `resolved: ${stats.candidates} candidates read in ${stats.exploreMs} ms, chosen in ${stats.selectMs} ms${stats.solver ? " (with the solver)" : ""}, ordered in ${stats.orderMs} ms` });
  } catch (e) {
    if (!(e instanceof ResolveFailure)) throw e;
    if (args.json) {
      out.json({ schema: "ouzo-plan/1", ok: false, action: "merge", plan: [], failure: { code: e.code, message: e.message, chain: e.chain } });
      return 1;
    }
    out.error(e.message);
    return 1;
  } finally {
    store.close();
  }
  const expandHidden = new Set((config.vars.get("USE_EXPAND_HIDDEN") ?? "").split(/\s+/).filter(Boolean));
  const lineOpts: LineOptions = { verbose, quiet: !!args.quiet, quietVerbose: !!args.quiet && !!args.verbose, root, useExpand: config.useExpand, useExpandHidden: expandHidden, locale: numericLocale(process.env) };
  const planned = combined(entries, unmerges);
  const fetches = fetchPlan(planned, config);
  // the fetch column (12) of a fetch-restricted package: `f` its files are in place, `F` missing
  const ops = planned.map((e, i) => {
    const f = fetches[i]!.fetch;
    return e.op === "merge" && f !== "none" ? { ...e, attrs: `${e.attrs.slice(0, 3)}${f === "restricted" ? "F" : "f"}${e.attrs.slice(4)}` } : e;
  });
  const downloads = fetches.map((f) => f.bytes);
  const lines = ops.map((e, i) => (e.op === "merge" ? mergeLine(e, lineOpts, downloads[i]) : uninstallLine(e, lineOpts)));
  const totals = totalsOf(entries, unmerges);
  const downloadTotal = downloads.reduce((a, b) => a + b, 0);
  const restricted = fetches.filter((f) => f.fetch !== "none").length;
  const unsatisfied = fetches.filter((f) => f.fetch === "restricted").length;
  if (args.json) {
    out.json({
      schema: "ouzo-plan/1",
      ok: !cycle,
      action: "merge",
      request: { atoms: (args.atoms ?? []).filter((a) => !a.startsWith("@")), sets: (args.atoms ?? []).filter((a) => a.startsWith("@")), options: { pretend: !!args.pretend, update: !!args.update, deep: args.deep ? "unlimited" : 0, newuse: !!args.newuse, changed_use: !!args.changedUse, changed_deps: !!args.changedDeps, with_bdeps: args.withBdeps === "n" ? "n" : "y", noreplace: !!args.noreplace, emptytree: !!args.emptytree, oneshot: !!args.oneshot, exclude: args.exclude ?? [] } },
      roots: { target: root, config: config.configRoot, build: "/" },
      stats: { elapsed_ms: Date.now() - started, ...stats },
      plan: ops.map((e, i) => e.op === "unmerge" ? {
        index: e.index,
        op: "unmerge",
        cpv: e.pkg.cpv,
        repo: e.pkg.repo,
        slot: e.pkg.slot,
        subslot: e.pkg.subslot,
        root,
        reason: { kind: "blocker", blocker: unmerges.indexOf(unmerges.find((u) => u.pkg === e.pkg)!) },
        line: lines[i],
      } : ({
        index: e.index,
        op: e.op,
        cpv: e.pkg.cpv,
        repo: e.pkg.repo,
        source: "ebuild",
        slot: e.pkg.slot,
        subslot: e.pkg.subslot,
        root,
        status: e.status,
        forced: e.forced,
        replaces: e.replaces ? { cpv: e.replaces.cpv, slot: e.replaces.slot, subslot: e.replaces.subslot, repo: e.replaces.repo } : null,
        shown_old: e.shownOld.map((o) => ({ cpv: o.cpv, slot: o.slot, subslot: o.subslot, repo: o.repo })),
        attrs: e.attrs,
        mask_marker: e.attrs[6],
        fetch: fetches[i]!.fetch,
        interactive: e.attrs[0] === "I",
        download_bytes: downloads[i],
        use: {
          iuse: e.pkg.iuse.map((f) => f.replace(/^[+-]/, "")).sort(),
          enabled: [...e.pkg.useState.enabled],
          disabled: [...e.pkg.useState.disabled],
          forced: [...e.pkg.useState.forced],
          masked: [...e.pkg.useState.masked],
          previous: e.previous ? { cpv: e.previous.cpv, iuse: e.previous.iuse.map((f) => f.replace(/^[+-]/, "")).sort(), enabled: [...e.previous.use].sort() } : null,
        },
        reasons: e.reasons,
        deps: e.deps,
        line: lines[i],
      })),
      warnings: missing.map((m) => ({ code: "world-missing", atom: m.atom, set: `@${m.set}`, detail: "no ebuild and nothing installed matches it" })),
      blockers: unmerges.map((u) => ({ atom: u.atom, strong: u.atom.startsWith("!!"), by: u.by.map((b) => b.cpv), blocks: [u.pkg.cpv], resolved: true, resolution: "uninstall", display_after: ops.findIndex((x) => x.op === "unmerge" && x.pkg === u.pkg) })),
      failure: cycle ? { code: "CYCLE", message: `circular build-time dependencies: ${cycle.join(", ")}`, chain: cycle } : null,
      totals: { packages: totals.packages, uninstalls: totals.uninstalls, upgrades: totals.upgrades, downgrades: totals.downgrades, new: totals.new, new_slots: totals.newSlots, reinstalls: totals.reinstalls, interactive: totals.interactive, download_bytes: downloadTotal },
    });
  } else {
    ops.forEach((e, i) => {
      out.result(lines[i]!);
      if (e.op === "unmerge") out.result(blockerLine(e, true, lineOpts));
    });
    if (verbose) {
      out.result(`\n${totalLine(totals, downloadTotal, lineOpts.locale)}`);
      if (restricted) out.result(`Fetch Restriction: ${restricted} package${restricted === 1 ? "" : "s"}${unsatisfied ? ` (${unsatisfied} unsatisfied)` : ""}`);
      if (unmerges.length) out.result(`Conflict: ${unmerges.length} block${unmerges.length === 1 ? "" : "s"}`);
    }
    if (cycle) out.error(`circular build-time dependencies among: ${cycle.join(", ")}`);
    if (missing.length) {
      out.warn(`ebuilds for the following packages are either all masked or don't exist: ${missing.map((m) => m.atom).join(" ")}`);
      if (missing.some((m) => m.set === "selected" || m.set === "world")) out.warn(`check ${path.join(root, "var/lib/portage/world")}: an entry there names a package no repository has`);
    }
  }
  if (cycle) return 1;
  if (args.ask && !args.pretend && entries.length + unmerges.length > 0) {
    // emerge's question; "No" ends the run with 130, as emerge's does
    const answer = await ask("\nWould you like to merge these packages? [Yes/No] ");
    if (!/^(y|yes|)$/i.test(answer.trim())) {
      out.result("\nQuitting.\n");
      return 130;
    }
  }
  if (!args.pretend) {
    if (!args.json) out.error(entries.length ? "building and merging are not available yet: this is the plan ouzo would carry out (use --pretend to only show it)" : "nothing to merge");
    return entries.length ? 1 : 0;
  }
  return 0;
}


