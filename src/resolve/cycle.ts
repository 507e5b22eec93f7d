// A cycle of build-time dependencies no merge order can break (emerge spec §11.8): the shortest
// such cycle as numbered steps, and the USE flags whose change removes one of its edges.
import type { Candidate, DepClass } from "./Candidate.js";
import type { ExplainFacts } from "./explainText.js";
import { conditionsOfAtom } from "./explainText.js";
import type { Edge, Selection } from "./resolve.js";

export interface CycleEdge {
  readonly from: Candidate;
  readonly to: Candidate;
  readonly cls: DepClass;
  readonly atom: string;
  /** The USE conditionals of `from` that switch the edge on (`flag`, `-flag`). */
  readonly use: readonly string[];
}

export interface CycleExplanation {
  /** The cycle, each edge from a package to the next; the last edge returns to the first package. */
  readonly edges: readonly CycleEdge[];
  /** Flag changes that remove an edge of the cycle, one package each (not forced or masked flags). */
  readonly fixes: readonly { readonly pkg: Candidate; readonly flags: Readonly<Record<string, boolean>> }[];
  readonly lines: readonly string[];
  /** The JSON `failure` object (emerge spec §13.6, `cycle`). */
  readonly document: Record<string, unknown>;
}

const BUILD = new Set(["DEPEND", "BDEPEND"]);

/** The shortest cycle of build-time edges among the packages merged, through one of `among` (cpvs). */
export function shortestBuildCycle(sel: Selection, among: readonly string[]): Edge[] | undefined {
  const merged = new Set(sel.chosen.filter((c) => c.source === "ebuild" && !sel.nomerge?.has(c)));
  const out = new Map<Candidate, Edge[]>();
  for (const e of sel.edges) if (BUILD.has(e.cls) && e.from !== e.to && merged.has(e.from) && merged.has(e.to)) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  let best: Edge[] | undefined;
  for (const start of [...merged].filter((c) => among.includes(c.cpv))) {
    // breadth first from `start` back to it
    const back = new Map<Candidate, Edge>();
    const queue = [start];
    let found: Edge | undefined;
    for (let i = 0; i < queue.length && !found; i++) {
      for (const e of out.get(queue[i]!) ?? []) {
        if (e.to === start) {
          found = e;
          break;
        }
        if (back.has(e.to)) continue;
        back.set(e.to, e);
        queue.push(e.to);
      }
    }
    if (!found) continue;
    const path: Edge[] = [found];
    for (let c = found.from; c !== start; c = back.get(c)!.from) path.unshift(back.get(c)!);
    if (!best || path.length < best.length) best = path;
  }
  return best;
}

const label = (c: Candidate) => `${c.cpv}::${c.repo}`;

/** The cycle explained, with the USE changes that would break it (at most 10 flags looked at). */
export function explainCycle(sel: Selection, among: readonly string[], facts: ExplainFacts = {}): CycleExplanation | undefined {
  const path = shortestBuildCycle(sel, among);
  if (!path) return undefined;
  const edges: CycleEdge[] = path.map((e) => ({ from: e.from, to: e.to, cls: e.cls as DepClass, atom: e.atom, use: conditionsOfAtom(e.from, e.cls as DepClass, e.atom) }));
  const fixes: { pkg: Candidate; flags: Record<string, boolean> }[] = [];
  let looked = 0;
  for (const e of edges) {
    for (const f of e.use) {
      if (++looked > 10) break;
      const flag = f.replace(/^-/, "");
      if (e.from.useState.forced.includes(flag) || e.from.useState.masked.includes(flag)) continue;
      fixes.push({ pkg: e.from, flags: { [flag]: f.startsWith("-") } });
    }
  }
  const lines: string[] = [];
  edges.forEach((e, i) => {
    const origins = e.use.map((f) => facts.useOrigin?.(e.from, f.replace(/^-/, ""))).filter(Boolean);
    lines.push(`  ${i + 1}. ${label(e.from)} needs ${e.atom} (${e.cls}${e.use.length ? `, USE="${e.use.join(" ")}"${origins.length ? ` from ${origins.join("; ")}` : ""}` : ""}): ${label(e.to)} must be merged before it`);
  });
  lines.push(`  ${edges.length + 1}. so none of ${edges.map((e) => e.from.cpv).join(", ")} can be built first (${edges.map((_, i) => i + 1).join(", ")})`);
  if (fixes.length) {
    lines.push("", "Changing USE would break the cycle (the flags can be set back once the packages are built):");
    for (const f of fixes) lines.push(`- ${f.pkg.cpv} (Change USE: ${Object.entries(f.flags).map(([k, on]) => `${on ? "+" : "-"}${k}`).join(" ")})`);
  } else lines.push("", "Disabling USE flags that pull in optional build-time dependencies often breaks such a cycle.");
  const element = (e: CycleEdge) => ({ cpv: e.from.cpv, edge: e.cls === "BDEPEND" || e.cls === "DEPEND" ? "buildtime" : "runtime", class: e.cls, atom: e.atom, use: e.use });
  const document = {
    code: "cycle",
    message: `circular build-time dependencies: ${edges.map((e) => e.from.cpv).join(", ")}`,
    chain: lines.filter((l) => /^ {2}\d+\. /.test(l)).map((l, i) => ({ n: i + 1, kind: i < edges.length ? "dependency" : "conclusion", text: l.replace(/^ {2}\d+\. /, ""), refs: i < edges.length ? [] : edges.map((_, j) => j + 1) })),
    cycle: [...edges.map(element), { cpv: edges[0]!.from.cpv }],
    suggestions: fixes.map((f) => ({ cpv: f.pkg.cpv, use: f.flags })),
  };
  return { edges, fixes, lines, document };
}
