// What `ouzo emerge` does when no plan exists (emerge spec §9, §11): ask autounmask for the smallest
// change of configuration that makes one — show the plan that would follow and the lines to add,
// write them on request (into the file or directory emerge would, through CONFIG_PROTECT) — or else
// print the failure as a short proof.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Config } from "../config/Config.js";
import { atomicWriteFile, readFileIfExists } from "../core/fsutil.js";
import type { MetadataStore } from "../metadata/MetadataStore.js";
import { type AutounmaskPolicy, type AutounmaskResult, autounmask, type Suggestion } from "../resolve/autounmask.js";
import type { Candidate, CandidateSource } from "../resolve/Candidate.js";
import { buildPlan, combined, totalsOf } from "../resolve/plan.js";
import type { RequestAtom, ResolveFailure, Resolver, ResolveOptions, Selection } from "../resolve/resolve.js";
import type { Output } from "../ui/Output.js";
import type { EmergeArgs } from "./commands/emerge.js";
import { planDocument } from "./emergeJson.js";
import { EmergeFacts, failureDocument, failureText } from "./emergeExplain.js";
import { type LineOptions, mergeLine, numericLocale, uninstallLine } from "./emergeLines.js";

/** The autounmask options of `ouzo emerge` (emerge spec §1.6), as parsed: undefined when not given. */
export interface AutounmaskArgs {
  autounmask?: boolean;
  autounmaskUse?: boolean;
  autounmaskLicense?: boolean;
  autounmaskKeepKeywords?: boolean;
  autounmaskKeepMasks?: boolean;
  autounmaskWrite?: boolean;
  autounmaskContinue?: boolean;
  autounmaskOnly?: boolean;
  autounmaskUnrestrictedAtoms?: boolean;
}

/**
 * What autounmask may change (emerge spec §1.6, MARK's defaults): unset, USE and licences;
 * `--autounmask=y`, keywords and masks too unless kept; `--autounmask=n`, nothing.
 */
export function autounmaskPolicy(a: AutounmaskArgs): AutounmaskPolicy | undefined {
  if (a.autounmask === false) return undefined;
  const all = a.autounmask === true;
  const p: AutounmaskPolicy = {
    use: a.autounmaskUse !== false,
    license: a.autounmaskLicense !== false,
    unstable: all ? a.autounmaskKeepKeywords !== true : a.autounmaskKeepKeywords === false,
    masks: all ? a.autounmaskKeepMasks !== true : a.autounmaskKeepMasks === false,
  };
  return p.use || p.license || p.unstable || p.masks ? p : undefined;
}

const HEADINGS: Record<Suggestion["kind"], string> = {
  keyword: "To go on, these keyword changes are needed:",
  unmask: "To go on, these masks have to be lifted:",
  use: "To go on, these USE changes are needed:",
  license: "To go on, these licences have to be accepted:",
};

/** One entry as shown and as written: its comments, then its line. */
export const entryText = (s: Suggestion) => [...s.comments, s.line].join("\n");

/** The four blocks of emerge spec §9.2 (each only when it has entries): a blank line, the heading, where the file is described, the entries. */
export function suggestionBlocks(suggestions: readonly Suggestion[]): string[] {
  const out: string[] = [];
  for (const kind of ["keyword", "unmask", "use", "license"] as const) {
    const mine = suggestions.filter((s) => s.kind === kind);
    if (!mine.length) continue;
    out.push("", HEADINGS[kind], ` (portage(5) describes "${mine[0]!.file}")`);
    out.push(mine.map(entryText).join("\n\n"));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing (emerge spec §9.3)

/** The file under /etc/portage a block goes to: `package.keywords` when it exists, for keywords. */
function targetBase(configRoot: string, kind: Suggestion["kind"]): string {
  const etc = path.join(configRoot, "etc/portage");
  if (kind === "keyword") return fs.existsSync(path.join(etc, "package.keywords")) ? path.join(etc, "package.keywords") : path.join(etc, "package.accept_keywords");
  return path.join(etc, kind === "unmask" ? "package.unmask" : kind === "use" ? "package.use" : "package.license");
}

/** The regular files of a directory in the order they are read (names sorted, walked down; hidden, backup and VCS names skipped). */
function readOrder(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (n.startsWith(".") || n.endsWith("~") || ["CVS", "RCS", "SCCS"].includes(n)) continue;
    const p = path.join(dir, n);
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...readOrder(p));
    else if (st?.isFile()) out.push(p);
  }
  return out;
}

/** The file an entry is appended to: the path itself, or the last file read in its directory (a new `zz-autounmask` in an empty one). */
export function writeTarget(base: string): { file: string; fresh: boolean } {
  const st = fs.statSync(base, { throwIfNoEntry: false });
  if (!st) return { file: base, fresh: true };
  if (!st.isDirectory()) return { file: base, fresh: false };
  const last = readOrder(base).pop();
  return last ? { file: last, fresh: false } : { file: path.join(base, "zz-autounmask"), fresh: true };
}

/** CONFIG_PROTECT as emerge applies it to a path of the configuration root: inside a protected directory and in no masked one. */
export function isProtected(relative: string, protect: readonly string[], mask: readonly string[]): boolean {
  const p = `/${relative.replace(/^\/+/, "")}`;
  const under = (dir: string) => {
    const d = dir.replace(/\/+$/, "") || "/";
    return d === "/" || p === d || p.startsWith(`${d}/`);
  };
  const hit = protect.filter((d) => d.startsWith("/") && under(d)).reduce((n, d) => Math.max(n, d.length), -1);
  if (hit < 0) return false;
  // the more specific entry wins; a mask as specific as the protection wins the tie
  return !mask.some((d) => d.startsWith("/") && (d.replace(/\/+$/, "") || "/").length >= hit && under(d));
}

/** `._cfgNNNN_name` beside `file`: the next number after the highest one there. */
export function nextCfgName(file: string): string {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let high = -1;
  for (const n of fs.readdirSync(dir, { withFileTypes: false }) as string[]) {
    const m = /^\._cfg(\d{4})_(.*)$/s.exec(n);
    if (m && m[2] === base) high = Math.max(high, Number(m[1]));
  }
  return path.join(dir, `._cfg${String(high + 1).padStart(4, "0")}_${base}`);
}

export interface Written {
  readonly kind: Suggestion["kind"];
  /** The file the configuration reads (appended to, or to be replaced by the `._cfg` file). */
  readonly target: string;
  /** The file actually written. */
  readonly written: string;
  readonly protected: boolean;
}

/**
 * Write the suggestions (emerge spec §9.3): each block appended to its file, atomically; a file
 * CONFIG_PROTECT covers gets its old content and the entries in a new `._cfgNNNN_` file beside it
 * instead, unless `direct` (--autounmask-continue).
 */
export function writeSuggestions(configRoot: string, suggestions: readonly Suggestion[], protect: readonly string[], mask: readonly string[], direct = false): Written[] {
  const out: Written[] = [];
  for (const kind of ["keyword", "unmask", "use", "license"] as const) {
    const mine = suggestions.filter((s) => s.kind === kind);
    if (!mine.length) continue;
    const { file, fresh } = writeTarget(targetBase(configRoot, kind));
    const old = readFileIfExists(file) ?? (fresh && path.basename(file) === "zz-autounmask" ? "# zz-autounmask\n" : "");
    const text = `${old}${old && !old.endsWith("\n") ? "\n" : ""}${old.trim() ? "\n" : ""}${mine.map(entryText).join("\n\n")}\n`;
    const guarded = !direct && isProtected(path.relative(configRoot, file), protect, mask);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const written = guarded ? nextCfgName(file) : file;
    atomicWriteFile(written, text);
    out.push({ kind, target: file, written, protected: guarded });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The failure of `ouzo emerge`

export interface FailureContext {
  readonly config: Config;
  readonly args: EmergeArgs & AutounmaskArgs;
  readonly out: Output;
  readonly failure: ResolveFailure;
  readonly request: readonly RequestAtom[];
  /** The options the failed resolution ran with. */
  readonly opts: ResolveOptions;
  readonly sources: readonly CandidateSource[];
  readonly store: MetadataStore;
  /** Installed packages (for names that exist, when one does not). */
  readonly installed: readonly Candidate[];
  readonly started?: number;
}

/** What the caller does next: exit with this status, or (--autounmask-continue) go on with this selection. */
export type FailureOutcome = { readonly exit: number } | { readonly selection: Selection; readonly resolver: Resolver };

/**
 * A resolution failed. With autounmask allowed and able to help, the plan that would follow and the
 * changes it needs (written with --autounmask-write, applied with --autounmask-continue); exit 1
 * (0 with --autounmask-only). Otherwise the failure as a numbered derivation; exit 1.
 */
export async function resolveFailure(ctx: FailureContext): Promise<FailureOutcome> {
  const { config, args, out, failure } = ctx;
  const facts = new EmergeFacts(config, ctx.store, ctx.installed);
  const policy = autounmaskPolicy(args);
  if (args.autounmaskContinue && args.autounmask === false) out.warn("--autounmask-continue does nothing with --autounmask=n");
  const found = policy ? await autounmask(failure, ctx.sources, ctx.request, ctx.opts, policy, facts, { unrestrictedAtoms: args.autounmaskUnrestrictedAtoms, typed: args.atoms ?? [] }) : undefined;
  if (!found) {
    if (args.json) out.json({ schema: "ouzo-plan/1", ok: false, action: "merge", plan: [], failure: failureDocument(failure, facts), suggestions: [] });
    else out.error(failureText(failure, facts));
    return { exit: 1 };
  }
  const write = !!(args.autounmaskWrite || args.autounmaskContinue) && !args.pretend;
  const protect = (config.vars.get("CONFIG_PROTECT") ?? "").split(/\s+/).filter(Boolean);
  const mask = (config.vars.get("CONFIG_PROTECT_MASK") ?? "").split(/\s+/).filter(Boolean);
  const written = write ? writeSuggestions(config.configRoot, found.suggestions, protect, mask, !!args.autounmaskContinue) : [];
  if (args.json) out.json(autounmaskDocument(ctx, found, written));
  else showAutounmask(ctx, found, written);
  if (args.autounmaskContinue && !args.pretend) return { selection: found.selection, resolver: found.resolver };
  return { exit: args.autounmaskOnly ? 0 : 1 };
}

function lineOptionsOf(config: Config, args: EmergeArgs): LineOptions {
  return {
    verbose: !!args.verbose && !args.quiet,
    quiet: !!args.quiet,
    quietVerbose: !!args.quiet && !!args.verbose,
    root: config.root,
    useExpand: config.useExpand,
    useExpandHidden: new Set((config.vars.get("USE_EXPAND_HIDDEN") ?? "").split(/\s+/).filter(Boolean)),
    locale: numericLocale(process.env),
  };
}

/** The plan that would follow, the suggested lines in emerge's blocks, and what was written. */
function showAutounmask(ctx: FailureContext, found: AutounmaskResult, written: readonly Written[]): void {
  const { out, args, config } = ctx;
  const { entries, unmerges } = buildPlan(found.selection, { nodeps: args.nodeps });
  const o = lineOptionsOf(config, args);
  for (const e of combined(entries, unmerges)) out.result(e.op === "merge" ? mergeLine(e, o) : uninstallLine(e, o));
  for (const l of suggestionBlocks(found.suggestions)) out.result(l);
  out.result("");
  if (found.suggestions.some((s) => s.kind === "unmask" || (s.kind === "keyword" && s.line.endsWith(" **")))) {
    if (!args.quiet) out.result("(--autounmask-keep-masks keeps ouzo from proposing unmasks and '**' keywords)");
  }
  if (written.length) {
    for (const w of written) out.notice(w.protected ? `wrote ${w.written} (${w.target} is under CONFIG_PROTECT)` : `wrote ${w.written}`);
    if (written.some((w) => w.protected)) out.notice("merge the ._cfg files with etc-update or dispatch-conf for the changes to take effect");
  } else if (!args.pretend && !args.autounmaskOnly) {
    out.result("--autounmask-write writes these changes (through CONFIG_PROTECT); read keyword and mask changes closely first.");
  }
  if (!args.autounmaskContinue || args.pretend) out.error("the plan needs the configuration changes above");
}

/** The JSON plan of emerge spec §13 with `failure.code` "autounmask" and the `suggestions` (§13.7). */
function autounmaskDocument(ctx: FailureContext, found: AutounmaskResult, written: readonly Written[]): Record<string, unknown> {
  const { args, config } = ctx;
  const { entries, unmerges, cycle } = buildPlan(found.selection, { nodeps: args.nodeps });
  const ops = combined(entries, unmerges);
  const o = lineOptionsOf(config, args);
  const doc = planDocument({
    args,
    root: config.root,
    configRoot: config.configRoot,
    started: ctx.started ?? Date.now(),
    stats: {},
    ops,
    lines: ops.map((e) => (e.op === "merge" ? mergeLine(e, o) : uninstallLine(e, o))),
    fetches: ops.map(() => ({ bytes: 0, fetch: "none" as const })),
    unmerges,
    missing: [],
    cycle,
    totals: totalsOf(entries, unmerges),
    downloadTotal: 0,
    world: { add: [], addSets: [] },
    changedDeps: [],
    tree: undefined,
    oneshot: true,
    selection: found.selection,
  });
  const targetOf = (s: Suggestion) => {
    const w = written.find((x) => x.kind === s.kind);
    if (w) return { target: w.written, written: true };
    const base = targetBase(config.configRoot, s.kind);
    const { file } = writeTarget(base);
    const protect = (config.vars.get("CONFIG_PROTECT") ?? "").split(/\s+/).filter(Boolean);
    const mask = (config.vars.get("CONFIG_PROTECT_MASK") ?? "").split(/\s+/).filter(Boolean);
    return { target: isProtected(path.relative(config.configRoot, file), protect, mask) && fs.existsSync(path.dirname(file)) ? nextCfgName(file) : file, written: false };
  };
  return {
    ...doc,
    ok: false,
    failure: { code: "autounmask", message: "the plan needs configuration changes", chain: [] },
    suggestions: found.suggestions.map((s) => ({ file: s.file, kind: s.kind, line: s.line, comments: s.comments, required_by: s.requiredBy, cpv: s.pkg.cpv, ...targetOf(s) })),
  };
}
