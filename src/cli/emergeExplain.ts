// Failures of `ouzo emerge` as short proofs (emerge spec §11, §13.6): the facts resolve/ cannot
// know itself — mask files with their comments, ebuild paths, which configuration line switched a
// USE flag on, names that exist when one does not — and the failure as text and as JSON.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Config } from "../config/Config.js";
import { listDir, readFileIfExists } from "../core/fsutil.js";
import type { MetadataStore } from "../metadata/MetadataStore.js";
import type { PackageMetadata } from "../metadata/PackageMetadata.js";
import { categoriesOf } from "../metadata/ebuildTree.js";
import { Atom } from "../pms/atom.js";
import { checkRequiredUse, parseRequiredUse } from "../pms/depspec.js";
import { COMMAND_LINE_EAPI, eapiFeatures, USER_CONFIG_EAPI } from "../pms/eapi.js";
import type { Candidate, MaskDetail } from "../resolve/Candidate.js";
import { refOf } from "../resolve/explain.js";
import { type ChainStep, type ExplainFacts, renderExplanation } from "../resolve/explainText.js";
import { explainCycle } from "../resolve/cycle.js";
import type { ResolveFailure, Selection } from "../resolve/resolve.js";
import type { Output } from "../ui/Output.js";
import { packageInput } from "./commands/metadata.js";
import { closest } from "./suggest.js";

/** The comment block just above a line of a configuration file (each non-empty comment line, `#` removed). */
export function commentsAbove(file: string, line: number): string[] {
  const text = readFileIfExists(file);
  if (text === undefined) return [];
  const lines = text.split("\n");
  const out: string[] = [];
  for (let i = line - 2; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (!l.startsWith("#")) break;
    const body = l.replace(/^#+\s?/, "");
    if (body) out.unshift(body);
  }
  return out;
}

/** Every regular file of a configuration path in the order Portage reads them (a file, or a directory walked by name). */
export function configFiles(p: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return [];
  }
  if (st.isFile()) return [p];
  if (!st.isDirectory()) return [];
  return (listDir(p) ?? [])
    .filter((n) => !n.startsWith(".") && !n.endsWith("~") && !["CVS", ".git", ".svn", ".hg", ".bzr"].includes(n))
    .sort()
    .flatMap((n) => configFiles(path.join(p, n)));
}

/**
 * What resolve/ cannot know about candidates, from the configuration and the metadata cache: why a
 * version is masked (with the mask file, its line and comment, the keywords in force), REQUIRED_USE,
 * where its dependencies are written, where a USE flag's state comes from, and names close to one
 * that no repository has.
 */
export class EmergeFacts implements ExplainFacts {
  constructor(private readonly config: Config, private readonly store: MetadataStore | undefined, private readonly installed: readonly Candidate[] = []) {}

  private readonly entryMemo = new Map<string, PackageMetadata | undefined>();

  /** The metadata of an ebuild candidate. */
  entry(c: Candidate): PackageMetadata | undefined {
    if (c.source !== "ebuild" || !this.store) return undefined;
    const key = `${c.repo}\0${c.cpv}`;
    if (!this.entryMemo.has(key)) {
      for (const m of this.store.entries(c.repo, { category: c.category, package: c.package })) this.entryMemo.set(`${c.repo}\0${m.cpv}`, m);
      if (!this.entryMemo.has(key)) this.entryMemo.set(key, undefined);
    }
    return this.entryMemo.get(key);
  }

  requiredUse(c: Candidate): string {
    return this.entry(c)?.values.REQUIRED_USE ?? "";
  }

  masks(c: Candidate): MaskDetail[] {
    if (!c.masks.length) return [];
    const m = this.entry(c);
    if (!m) return c.masks.map((text) => ({ kind: "other", text }));
    const input = packageInput(m);
    const out: MaskDetail[] = [];
    for (const r of this.config.visibility(input, c.use)) {
      switch (r.kind) {
        case "package.mask":
          out.push({ kind: "package.mask", file: r.file, line: r.line, atom: r.atom, comments: commentsAbove(r.file, r.line) });
          break;
        case "keyword": {
          const accepted = [...this.config.acceptedKeywordsFor(input)];
          const kws = this.config.effectiveKeywords(input);
          const arch = this.config.arch;
          const hint = r.detail.startsWith("denied") ? undefined : arch && kws.includes(`~${arch}`) ? `~${arch}` : "**";
          out.push({ kind: "keyword", keywords: kws, accepted, hint, detail: r.detail });
          break;
        }
        case "license":
          out.push({ kind: "license", licenses: [...r.licenses] });
          break;
        case "eapi":
          out.push({ kind: "other", text: `EAPI ${r.eapi} is not supported by this package manager` });
          break;
        case "profile-packages":
          out.push({ kind: "other", text: `not in the profile's packages (${r.file}:${r.line})` });
          break;
        case "properties":
          out.push({ kind: "other", text: `PROPERTIES ${r.tokens.join(" ")} not accepted (ACCEPT_PROPERTIES)` });
          break;
        case "restrict":
          out.push({ kind: "other", text: `RESTRICT ${r.tokens.join(" ")} not accepted (ACCEPT_RESTRICT)` });
          break;
      }
    }
    const ru = m.values.REQUIRED_USE;
    if (ru) {
      try {
        const nodes = parseRequiredUse(ru, eapiFeatures(input.eapi) ?? COMMAND_LINE_EAPI);
        const broken = checkRequiredUse(nodes, c.use);
        if (broken) out.push({ kind: "required-use", expression: ru.trim().replace(/\s+/g, " "), unsatisfied: broken, use: [...c.useState.enabled] });
      } catch (e) {
        out.push({ kind: "other", text: `REQUIRED_USE cannot be read: ${(e as Error).message}` });
      }
    }
    return out.length ? out : c.masks.map((text) => ({ kind: "other", text }));
  }

  sourceOf(c: Candidate): string | undefined {
    if (c.source === "installed") return path.join(this.config.root, "var/db/pkg", c.cpv);
    const repo = this.config.repos.get(c.repo);
    return repo ? path.join(repo.location, c.category, c.package, `${c.cpv.slice(c.category.length + 1)}.ebuild`) : undefined;
  }

  private packageUseLines?: { atom: Atom; tokens: string[]; file: string; line: number }[];

  useOrigin(c: Candidate, flag: string): string | undefined {
    if (c.source === "installed") return `USE recorded when ${c.cpv} was built`;
    if (c.useState.forced.includes(flag)) return "forced by the profile (use.force)";
    if (c.useState.masked.includes(flag)) return "masked by the profile (use.mask)";
    if (!this.packageUseLines) {
      this.packageUseLines = [];
      for (const file of configFiles(path.join(this.config.configRoot, "etc/portage/package.use"))) {
        (readFileIfExists(file) ?? "").split("\n").forEach((l, i) => {
          const [first, ...tokens] = l.replace(/#.*/, "").trim().split(/\s+/);
          const atom = first ? Atom.tryParse(first, USER_CONFIG_EAPI) : undefined;
          if (atom) this.packageUseLines!.push({ atom, tokens, file, line: i + 1 });
        });
      }
    }
    const hit = this.packageUseLines.filter((l) => l.atom.matchesIgnoringUse(refOf(c)) && l.tokens.some((t) => t.replace(/^-/, "") === flag)).pop();
    if (hit) return `${hit.file}:${hit.line}`;
    const makeConf = [path.join(this.config.configRoot, "etc/portage/make.conf"), ...configFiles(path.join(this.config.configRoot, "etc/portage/make.conf"))].find((f) => {
      const text = readFileIfExists(f);
      return text !== undefined && new RegExp(`^\\s*USE=["']?[^"'\\n]*(^|[\\s"'-])${flag.replace(/[+.]/g, "\\$&")}([\\s"']|$)`, "m").test(text);
    });
    if (makeConf) return `${makeConf}: USE`;
    if (process.env.USE?.split(/\s+/).some((t) => t.replace(/^-/, "") === flag)) return "the USE environment variable";
    const iuse = c.iuse.find((f) => f.replace(/^[+-]/, "") === flag);
    if (iuse && /^[+-]/.test(iuse)) return `the IUSE default of ${c.cpv} (${iuse})`;
    return c.use.has(flag) ? "the profile's USE" : "no setting enables it";
  }

  private names?: string[];

  similar(cp: string): string[] {
    if (!this.names) {
      const all = new Set<string>();
      for (const r of this.config.repos.repos) for (const cat of categoriesOf(r.location)) for (const pn of listDir(path.join(r.location, cat)) ?? []) all.add(`${cat}/${pn}`);
      for (const c of this.installed) all.add(`${c.category}/${c.package}`);
      this.names = [...all].sort();
    }
    const pn = cp.slice(cp.indexOf("/") + 1);
    const near = new Set(closest(pn, this.names.map((n) => n.slice(n.indexOf("/") + 1))));
    const sameCategory = closest(cp, this.names);
    return [...new Set([...sameCategory, ...this.names.filter((n) => near.has(n.slice(n.indexOf("/") + 1)))])].filter((n) => n !== cp).slice(0, 5);
  }

  worldEntry(c: Candidate): string | undefined {
    const file = path.join(this.config.root, "var/lib/portage/world");
    const lines = (readFileIfExists(file) ?? "").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const a = Atom.tryParse(lines[i]!.trim().split(/\s+/)[0] ?? "", USER_CONFIG_EAPI);
      if (a && a.matchesIgnoringUse(refOf(c))) return `${file}:${i + 1}`;
    }
    return undefined;
  }
}

/** The failure as emerge-style text: the one-line reason, then the numbered derivation. */
export function failureText(e: ResolveFailure, facts?: ExplainFacts): string {
  if (!e.explanation) return e.message;
  const r = renderExplanation(e.explanation, facts);
  return `${e.message}\n${r.lines.join("\n")}`;
}

/** Print a resolution failure to stderr (one `ouzo:` line, then the steps). */
export function printFailure(out: Output, e: ResolveFailure, facts?: ExplainFacts): void {
  out.error(failureText(e, facts));
}

/** The JSON `failure` object (emerge spec §13.6): code, message, the derivation as `chain`, and the facts it names. */
export function failureDocument(e: ResolveFailure, facts?: ExplainFacts): Record<string, unknown> {
  if (!e.explanation) return { code: "conflict", message: e.message, chain: e.chain.map((text, i) => ({ n: i + 1, kind: "derived", text, refs: [] })) };
  const x = e.explanation;
  const r = renderExplanation(x, facts);
  const chain: readonly ChainStep[] = r.chain;
  const slot = x.core.find((o) => o.kind === "slot" && !o.keep);
  const request = x.core.find((o) => o.kind === "request");
  return {
    code: x.code,
    message: e.message,
    atom: request?.kind === "request" ? request.request.atom.toString() : null,
    chain,
    text: r.lines.map((l) => l.trim()),
    candidates: chain.filter((s) => s.kind === "masked" || s.kind === "use").map((s) => ({ cpv: s.package, repo: s.repo, masks: s.masks ?? [], missing_use: s.kind === "use" ? s.use : [] })),
    conflict: slot && slot.kind === "slot" ? { slot: `${slot.cp}:${slot.slot}`, packages: slot.members.map((c) => ({ cpv: c.cpv, installed: c.source === "installed" })), minimal: chain.filter((s) => s.kind !== "conclusion").map((s) => s.n) } : null,
    required_use: chain.flatMap((s) => (s.masks ?? []).filter((m) => m.kind === "required-use").map((m) => ({ cpv: s.package, ...m }))).at(0) ?? null,
  };
}

/** A cycle of build-time dependencies the merge order cannot break, as text (emerge spec §11.8). */
export function cycleText(selection: Selection, cycle: readonly string[], facts?: ExplainFacts): string {
  const x = explainCycle(selection, cycle, facts);
  if (!x) return `circular build-time dependencies among: ${cycle.join(", ")}`;
  return `circular build-time dependencies that no merge order breaks: ${x.edges.map((e) => e.from.cpv).join(", ")}\n${x.lines.join("\n")}`;
}

/** The JSON `failure` of such a cycle (emerge spec §13.6, `cycle`). */
export function cycleDocument(selection: Selection, cycle: readonly string[], facts?: ExplainFacts): Record<string, unknown> {
  return explainCycle(selection, cycle, facts)?.document ?? { code: "cycle", message: `circular build-time dependencies among: ${cycle.join(", ")}`, chain: [], cycle: cycle.map((cpv) => ({ cpv })) };
}
