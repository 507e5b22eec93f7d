// ouzo's JSON plan (emerge spec §13): the document `ouzo emerge --json` prints.
import type { Candidate } from "../resolve/Candidate.js";
import type { PlanEntry, Totals, UnmergeEntry } from "../resolve/plan.js";
import type { Selection } from "../resolve/resolve.js";
import type { WorldChange } from "../resolve/worldAtoms.js";
import type { EmergeArgs, FetchState } from "./commands/emerge.js";
import type { TreeRow } from "./emergeLayouts.js";

export interface PlanFacts {
  readonly args: EmergeArgs;
  readonly root: string;
  readonly configRoot: string;
  /** The build host's root, when it is not ROOT (its packages' entries say `host: true`). */
  readonly hostRoot?: string;
  readonly started: number;
  readonly stats: Record<string, unknown>;
  /** Merges and uninstalls in plan order, with their rendered lines and fetch states. */
  readonly ops: readonly (PlanEntry | UnmergeEntry)[];
  readonly lines: readonly string[];
  readonly fetches: readonly { readonly bytes: number; readonly fetch: FetchState }[];
  readonly unmerges: readonly UnmergeEntry[];
  readonly missing: readonly { readonly atom: string; readonly set: string }[];
  readonly cycle: readonly string[] | undefined;
  readonly totals: Totals;
  readonly downloadTotal: number;
  readonly world: WorldChange;
  readonly changedDeps: readonly Candidate[];
  readonly tree: readonly TreeRow[] | undefined;
  readonly oneshot: boolean;
  readonly selection: Selection;
}

const yn = (v: boolean | undefined) => (v ? "y" : "n");

/** `request.options` (§13.1): every option given or derived, long names with `_`. */
function optionsOf(a: EmergeArgs, oneshot: boolean): Record<string, unknown> {
  return {
    pretend: !!a.pretend,
    ask: !!a.ask,
    update: !!(a.update || a.updateIfInstalled),
    update_if_installed: !!a.updateIfInstalled,
    deep: a.deepLevel !== undefined ? a.deepLevel : a.deep ? "unlimited" : 0,
    newuse: !!a.newuse,
    changed_use: !!a.changedUse,
    changed_deps: !!a.changedDeps,
    changed_slot: !!a.changedSlot,
    newrepo: !!a.newrepo,
    with_bdeps: a.withBdeps === "n" ? "n" : "y",
    noreplace: !!a.noreplace,
    ...(a.selective !== undefined ? { selective: yn(a.selective) } : {}),
    emptytree: !!a.emptytree,
    oneshot,
    nodeps: !!a.nodeps,
    onlydeps: !!a.onlydeps,
    onlydeps_with_rdeps: a.onlydepsWithRdeps === "n" ? "n" : "y",
    with_test_deps: !!a.withTestDeps,
    complete_graph: !!a.completeGraph,
    rebuild_if_new_slot: a.rebuildIfNewSlot === "n" ? "n" : "y",
    rebuild_if_new_rev: !!a.rebuildIfNewRev,
    rebuild_if_new_ver: !!a.rebuildIfNewVer,
    rebuild_if_unbuilt: !!a.rebuildIfUnbuilt,
    ignore_built_slot_operator_deps: a.ignoreBuiltSlotOperatorDeps === "y" ? "y" : "n",
    ...(a.rootDeps ? { root_deps: a.rootDeps === "rdeps" ? "rdeps" : true } : {}),
    exclude: a.exclude ?? [],
    rebuild_exclude: a.rebuildExclude ?? [],
    rebuild_ignore: a.rebuildIgnore ?? [],
    reinstall_atoms: a.reinstallAtoms ?? [],
    ...(a.backtrack !== undefined ? { backtrack: a.backtrack } : {}),
    tree: !!a.tree,
    columns: !!a.columns,
  };
}

const pkgRef = (c: Candidate) => ({ cpv: c.cpv, slot: c.slot, subslot: c.subslot, repo: c.repo });

export function planDocument(f: PlanFacts): Record<string, unknown> {
  const { args, ops, lines, fetches, unmerges, selection } = f;
  const causes = new Map<string, string[]>();
  for (const e of ops) {
    if (e.op !== "merge") continue;
    for (const r of e.reasons) if (r.kind === "rebuild" && r.by) causes.set(r.by, [...(causes.get(r.by) ?? []), e.pkg.cpv]);
  }
  return {
    schema: "ouzo-plan/1",
    ok: !f.cycle,
    action: "merge",
    request: { atoms: (args.atoms ?? []).filter((a) => !a.startsWith("@")), sets: (args.atoms ?? []).filter((a) => a.startsWith("@")), options: optionsOf(args, f.oneshot) },
    roots: { target: f.root, config: f.configRoot, build: f.hostRoot ?? "/" },
    stats: { elapsed_ms: Date.now() - f.started, ...f.stats },
    plan: ops.map((e, i) =>
      e.op === "unmerge"
        ? { index: e.index, op: "unmerge", ...pkgRef(e.pkg), root: e.root ?? f.root, ...(e.host ? { host: true } : {}), reason: { kind: "blocker", blocker: unmerges.findIndex((u) => u.pkg === e.pkg) }, line: lines[i] }
        : {
            index: e.index,
            op: e.op,
            cpv: e.pkg.cpv,
            repo: e.pkg.repo,
            source: e.binary !== undefined ? "binary" : "ebuild",
            slot: e.pkg.slot,
            subslot: e.pkg.subslot,
            root: e.root ?? f.root,
            ...(e.host ? { host: true } : {}),
            status: e.status,
            forced: e.forced,
            replaces: e.replaces ? pkgRef(e.replaces) : null,
            shown_old: e.shownOld.map(pkgRef),
            attrs: e.attrs,
            mask_marker: e.attrs[6],
            fetch: fetches[i]!.fetch,
            interactive: e.attrs[0] === "I",
            download_bytes: fetches[i]!.bytes,
            use: {
              iuse: e.pkg.iuse.map((x) => x.replace(/^[+-]/, "")).sort(),
              enabled: [...e.pkg.useState.enabled],
              disabled: [...e.pkg.useState.disabled],
              forced: [...e.pkg.useState.forced],
              masked: [...e.pkg.useState.masked],
              previous: e.previous ? { cpv: e.previous.cpv, iuse: e.previous.iuse.map((x) => x.replace(/^[+-]/, "")).sort(), enabled: [...e.previous.use].sort() } : null,
            },
            reasons: e.reasons,
            deps: e.deps,
            line: lines[i],
          },
    ),
    blockers: unmerges.map((u) => ({ atom: u.atom, strong: u.atom.startsWith("!!"), by: u.by.map((b) => b.cpv), blocks: [u.pkg.cpv], resolved: true, resolution: "uninstall", display_after: ops.findIndex((x) => x.op === "unmerge" && x.pkg === u.pkg) })),
    world: { add: f.world.add, add_sets: f.world.addSets, remove: [], remove_sets: [], applied: false },
    rebuild_causes: [...causes].map(([cause, rebuilds]) => ({ cause, rebuilds })),
    nomerge: [...(selection.nomerge ?? [])].map((c) => c.cpv),
    warnings: [
      ...f.missing.map((m) => ({ code: "world-missing", atom: m.atom, set: `@${m.set}`, detail: "no ebuild and nothing installed matches it" })),
      ...f.changedDeps.map((c) => ({ code: "changed-deps", cpv: c.cpv, detail: "the ebuild's dependencies changed without a revision bump" })),
    ],
    failure: f.cycle ? { code: "CYCLE", message: `circular build-time dependencies: ${f.cycle.join(", ")}`, chain: f.cycle } : null,
    totals: { packages: f.totals.packages, uninstalls: f.totals.uninstalls, upgrades: f.totals.upgrades, downgrades: f.totals.downgrades, new: f.totals.new, new_slots: f.totals.newSlots, reinstalls: f.totals.reinstalls, interactive: f.totals.interactive, download_bytes: f.downloadTotal },
    tree: f.tree ? f.tree.map((r) => ({ kind: r.kind, ref: r.ref, cpv: r.cpv, depth: r.depth })) : null,
  };
}
