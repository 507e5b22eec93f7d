import type { Candidate } from "../resolve/Candidate.js";
import type { PlanEntry, UnmergeEntry } from "../resolve/plan.js";
import { blockerLine, mergeBracket, mergeExtra, mergeLine, newSlotPart, noRevision, nomergeLine, oldPart, uninstallLine, type LineOptions } from "./emergeLines.js";

/**
 * A merge line of `--columns` (emerge spec §8.9): `BRACKET ␠ INDENT CP` padded to W−60,
 * ` [VERSION] ` padded to W−30, then OLD, ROOTSUFFIX and ` EXTRA` (EXTRA as on the normal line:
 * USE groups, size with `-v`); W is COLUMNWIDTH. Under `-q`: `ATTRS ␠ INDENT CP ␠ VERSION ␠ OLD`
 * (+ ROOTSUFFIX), never padded and without EXTRA, as emerge drops it there even with `-q -v`.
 * Uninstall lines and resolved blocker lines are not printed under `--columns`: the caller skips them.
 */
export function columnsLine(e: PlanEntry, o: LineOptions, downloadBytes = 0, width = 130, depth = 0): string {
  const c = e.pkg;
  const cp = `${c.category}/${c.package}`;
  const version = o.verbose ? `${noRevision(c)}${newSlotPart(e)}::${c.repo}` : noRevision(c);
  const indent = " ".repeat(depth);
  if (o.quiet) return `${e.attrs.slice(0, 6)} ${indent}${cp} ${version} ${oldPart(e, o)}`;
  // padEnd leaves a longer text as it is: emerge pads only when there is room
  const line = `${`${mergeBracket(e, o)} ${indent}${cp}`.padEnd(width - 60)} [${version}] `.padEnd(width - 30) + oldPart(e, o);
  const extra = mergeExtra(e, o, downloadBytes);
  return extra ? `${line} ${extra}` : line;
}

export interface TreeGraph {
  /** The plan operations in merge order: combined(entries, unmerges) from plan.ts (merges and uninstalls, renumbered). */
  readonly ops: readonly (PlanEntry | UnmergeEntry)[];
  /** Every dependency edge among the chosen packages (packages to merge AND installed packages kept), parent → child, in the order the resolver added them (graph insertion order). */
  readonly edges: readonly { readonly from: Candidate; readonly to: Candidate }[];
  /** Packages chosen for an argument or a direct set member: never printed as a context parent (spec §8.9). Iterated in request order: the roots of `--unordered-display`. */
  readonly requested: ReadonlySet<Candidate>;
}

/**
 * One line of `--tree` (§8.9, §13.10). `ref`: the ops index of a merge or uninstall line, null for
 * context lines (`nomerge`, `blocker`). `cpv`: the package, or for a blocker line its atom as in
 * the plan (`!app-misc/old`), which names its entry in the JSON `blockers`.
 */
export interface TreeRow {
  kind: "merge" | "nomerge" | "uninstall" | "blocker";
  ref: number | null;
  cpv: string;
  depth: number;
  line: string;
}

/** A resolved blocker in the display graph: below the packages carrying it, above the uninstall it causes. */
interface BlockerNode {
  readonly blocker: UnmergeEntry;
}
type Node = Candidate | BlockerNode;
const isBlocker = (n: Node): n is BlockerNode => "blocker" in n;

/** A line before pruning: `ordered` lines are the plan's own, the others context (emerge's display_list). */
interface Placed {
  readonly node: Node;
  readonly depth: number;
  readonly ordered: boolean;
}

function append(map: Map<Node, Node[]>, key: Node, value: Node): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Parents and children of each node in edge insertion order, each edge once. */
class DisplayGraph {
  private readonly up = new Map<Node, Node[]>();
  private readonly down = new Map<Node, Node[]>();

  add(from: Node, to: Node): void {
    if (from === to || this.children(from).includes(to)) return;
    append(this.down, from, to);
    append(this.up, to, from);
  }

  parents(n: Node): readonly Node[] {
    return this.up.get(n) ?? [];
  }

  children(n: Node): readonly Node[] {
    return this.down.get(n) ?? [];
  }
}

/**
 * The `--tree` lines (§8.9): the plan in reverse merge order with context parents, pruned; or with
 * `unordered` (`--unordered-display`) the graph depth-first from its roots, each node once.
 * A resolved blocker hangs below the packages carrying it and above the uninstall it causes; one
 * blocker line per uninstall, as the flat display prints one per uninstall.
 */
export function treeRows(g: TreeGraph, o: LineOptions, downloads?: ReadonlyMap<PlanEntry, number>, unordered = false): TreeRow[] {
  const opOf = new Map<Candidate, [PlanEntry | UnmergeEntry, number]>(g.ops.map((op, i) => [op.pkg, [op, i]]));
  const blockers = new Map<UnmergeEntry, BlockerNode>();
  const graph = new DisplayGraph();
  // emerge drops the installed package an uninstall removes and hangs the uninstall below its blocker
  const removed = new Set(g.ops.filter((op) => op.op === "unmerge").map((u) => u.pkg));
  for (const e of g.edges) if (!removed.has(e.from) && !removed.has(e.to)) graph.add(e.from, e.to);
  for (const op of g.ops) {
    if (op.op !== "unmerge") continue;
    const b: BlockerNode = { blocker: op };
    blockers.set(op, b);
    graph.add(b, op.pkg);
    for (const p of op.by) if (!removed.has(p)) graph.add(p, b);
  }
  const requested: ReadonlySet<Node> = g.requested;
  let lines: Placed[];
  if (unordered) {
    // roots: the arguments in request order, then whatever no edge reaches
    const roots = [...g.requested, ...g.ops.map((op) => op.pkg), ...g.edges.map((e) => e.from)].filter((n) => requested.has(n) || !graph.parents(n).length);
    lines = unorderedTree(graph, roots);
  } else {
    // the flat display's sequence, reversed: each resolved blocker follows its uninstall (§8.6)
    const sequence = g.ops.flatMap((op): Node[] => (op.op === "merge" ? [op.pkg] : [op.pkg, blockers.get(op)!])).reverse();
    const isTask = (n: Node) => !isBlocker(n) && opOf.has(n);
    lines = prune(orderedTree(graph, sequence, requested), isTask);
  }
  return lines.map(({ node, depth, ordered }): TreeRow => {
    if (isBlocker(node)) return { kind: "blocker", ref: null, cpv: node.blocker.atom, depth, line: blockerLine(node.blocker, true, o, depth) };
    const [op, index] = opOf.get(node) ?? [undefined, null];
    if (op?.op === "unmerge") return { kind: "uninstall", ref: index, cpv: node.cpv, depth, line: uninstallLine(op, o, depth) };
    if (op && ordered) return { kind: "merge", ref: index, cpv: node.cpv, depth, line: mergeLine(op, o, downloads?.get(op) ?? 0, depth) };
    return { kind: "nomerge", ref: null, cpv: node.cpv, depth, line: nomergeLine(op ?? node, o, depth) };
  });
}

/**
 * emerge's ordered tree (§8.9): each entry goes one level below the innermost package of the
 * current path that is its parent; otherwise below a chain of context parents, climbed from the
 * entry and printed from the top.
 */
function orderedTree(graph: DisplayGraph, sequence: readonly Node[], requested: ReadonlySet<Node>): Placed[] {
  const out: Placed[] = [];
  // edges already shown, child → parents
  const shown = new Map<Node, Set<Node>>();
  const show = (child: Node, parent: Node) => shown.set(child, (shown.get(child) ?? new Set()).add(parent));
  let path: Node[] = [];
  for (const x of sequence) {
    let depth = path.length;
    while (depth && !graph.children(path[depth - 1]!).includes(x)) depth--;
    if (depth) {
      show(x, path[depth - 1]!);
      path = [...path.slice(0, depth), x];
      out.push({ node: x, depth, ordered: true });
      continue;
    }
    const chain = [x];
    // arguments and direct set members are where a chain stops (emerge's set_nodes)
    for (let node = x; !requested.has(node); ) {
      const children = graph.children(node);
      const open = (p: Node) => !chain.includes(p) && !shown.get(node)?.has(p);
      // a parent that is not also a child first: a direct cycle only when unavoidable
      const parent = graph.parents(node).find((p) => open(p) && !children.includes(p)) ?? graph.parents(node).find(open);
      if (!parent) break;
      show(node, parent);
      chain.push(parent);
      node = parent;
    }
    path = chain.reverse();
    path.forEach((node, depth) => out.push({ node, depth, ordered: node === x }));
  }
  return out;
}

/**
 * emerge's pruning of redundant context lines (§8.9), walking backwards: a context line repeating
 * the line before it at depth 0 goes, and so does one not shallower than the next kept line or
 * than the last merge or uninstall line seen.
 */
function prune(lines: readonly Placed[], isTask: (n: Node) => boolean): Placed[] {
  const kept: Placed[] = [];
  let lastTaskDepth = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    const before = lines[i - 1];
    if (!line.ordered && line.depth === 0 && before && before.node === line.node && before.depth === 0) continue;
    if (line.ordered && isTask(line.node)) {
      lastTaskDepth = line.depth;
      kept.push(line);
      continue;
    }
    const next = kept[kept.length - 1];
    if (line.depth >= lastTaskDepth || (next && line.depth >= next.depth)) continue;
    kept.push(line);
  }
  return kept.reverse();
}

/** `--unordered-display`: depth-first from the roots, children in graph order, each node once, no pruning (§8.9). */
function unorderedTree(graph: DisplayGraph, roots: readonly Node[]): Placed[] {
  const out: Placed[] = [];
  const seen = new Set<Node>();
  const visit = (node: Node, depth: number): void => {
    if (seen.has(node)) return;
    seen.add(node);
    out.push({ node, depth, ordered: true });
    for (const child of graph.children(node)) visit(child, depth + 1);
  };
  for (const root of roots) visit(root, 0);
  return out;
}
