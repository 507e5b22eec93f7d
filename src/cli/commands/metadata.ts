import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Config, PackageInput } from "../../config/Config.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { atomicWriteFile, listDir } from "../../core/fsutil.js";
import { closest } from "../suggest.js";
import { MetadataStore, type RegenFailure, type RegenSummary } from "../../metadata/MetadataStore.js";
import { slotOf, type PackageMetadata } from "../../metadata/PackageMetadata.js";
import { writeMd5Cache } from "../../metadata/md5Cache.js";
import { goJson, reposcanDocument } from "../../metadata/reposcan.js";
import { categoriesOf } from "../../metadata/ebuildTree.js";
import { Atom } from "../../pms/atom.js";
import { COMMAND_LINE_EAPI } from "../../pms/eapi.js";
import { Version, compareVersions } from "../../pms/version.js";
import type { Output } from "../../ui/Output.js";
import { cacheDirOf, configRootOf, type GlobalArgs } from "../context.js";
import { loadRepositories, type RepositorySet } from "../../config/repositories.js";
import { readMakeConf } from "../../config/shellVars.js";
import { DEFAULT_DEPEND_TIMEOUT_SECONDS } from "../../ebuild/DependPool.js";

export function openStore(repos: RepositorySet, args: GlobalArgs & { jobs?: number; timeout?: number }, out: Output): MetadataStore {
  return new MetadataStore(repos, path.join(cacheDirOf(args), "metadata.db"), { jobs: args.jobs !== undefined && args.jobs > 0 ? args.jobs : undefined, timeoutSeconds: dependTimeout(args), reporter: out });
}

/**
 * Seconds one ebuild may take in the depend phase: --timeout, else OUZO_REGEN_TIMEOUT from the
 * environment, else from make.conf, else the default (10 minutes: the limit stops endless loops; a
 * loaded machine must not turn slow ebuilds into failures).
 */
export function dependTimeout(args: GlobalArgs & { timeout?: number }): number {
  const check = (v: unknown, name: string, origin?: { file: string; line: number }): number => {
    const n = typeof v === "number" ? v : Number(String(v).trim());
    if (!Number.isFinite(n) || n <= 0) {
      const msg = `${name} takes a number of seconds greater than 0, not '${String(v)}'`;
      throw name === "--timeout" ? new UsageError(msg) : new OuzoError("BAD_TIMEOUT", msg, origin);
    }
    return n;
  };
  if (args.timeout !== undefined) return check(args.timeout, "--timeout");
  const env = process.env.OUZO_REGEN_TIMEOUT;
  if (env !== undefined && env !== "") return check(env, "OUZO_REGEN_TIMEOUT (in the environment)");
  const portageDir = path.join(configRootOf(args), "etc", "portage");
  const a = readMakeConf(portageDir).filter((x) => x.name === "OUZO_REGEN_TIMEOUT").pop();
  if (a) return check(a.value, "OUZO_REGEN_TIMEOUT", { file: a.file, line: a.line });
  return DEFAULT_DEPEND_TIMEOUT_SECONDS;
}

/** Repositories from repos.conf alone: regen and search need no profile, as egencache needs none. */
export function repositoriesOf(args: GlobalArgs): RepositorySet {
  const configRoot = configRootOf(args);
  return loadRepositories(path.join(configRoot, "etc", "portage", "repos.conf"), configRoot);
}

export interface RegenArgs extends GlobalArgs {
  repo?: string[];
  jobs?: number;
  timeout?: number;
  writeMd5Cache?: boolean;
  reposcan?: string;
  kit?: string;
  branch?: string;
}

function gitBranch(location: string): string {
  try {
    return execFileSync("git", ["-C", location, "rev-parse", "--abbrev-ref", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

/** What a regen did, added up over repositories. */
export function regenTotals(summary: RegenSummary): { imported: number; generated: number; unchanged: number; removed: number; failed: number } {
  const t = { imported: 0, generated: 0, unchanged: 0, removed: 0, failed: 0 };
  for (const s of summary.repos) for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += s[k];
  return t;
}

/** One line per failure: the ebuild, what happened, and whether an earlier entry was kept. */
export function failureLine(f: RegenFailure): string {
  return `${f.file}: ${f.message}${f.kept ? " (the previous metadata is kept, marked stale)" : ""}`;
}

/** `ouzo regen`: the egencache equivalent. */
export async function regenCommand(repos: RepositorySet, args: RegenArgs, out: Output): Promise<number> {
  if (args.reposcan && (args.repo?.length ?? 0) !== 1) throw new UsageError("--reposcan writes one repository: name it with --repo");
  if (args.jobs !== undefined && (!Number.isInteger(args.jobs) || args.jobs < 1)) throw new UsageError("--jobs takes a whole number of at least 1");
  for (const r of args.repo ?? []) if (!repos.get(r)) throw new OuzoError("UNKNOWN_REPO", `repository '${r}' is not configured (configured: ${repos.repos.map((x) => x.name).join(", ") || "none"})`);
  dependTimeout(args);
  await out.live();
  if (!repos.repos.length) throw new OuzoError("NO_REPOS", `no repositories are configured in ${path.join(configRootOf(args), "etc", "portage", "repos.conf")}`);
  const store = openStore(repos, args, out);
  try {
    // reposcan records PYTHON_COMPAT and the raw depend lines, which an md5-cache file does not hold
    const summary = await store.regen(args.repo, { sourceOnly: args.reposcan ? args.repo : [] });
    const md5: Record<string, { written: number; unchanged: number; removed: number }> = {};
    if (args.writeMd5Cache) {
      for (const s of summary.repos) md5[s.repo] = writeMd5Cache(repos.get(s.repo)!.location, store.entries(s.repo));
    }
    if (args.reposcan) {
      const repo = repos.get(args.repo![0]!)!;
      const doc = reposcanDocument(store.entries(repo.name).filter((m) => !m.failure), summary.failures.filter((f) => f.repo === repo.name), {
        kit: args.kit ?? repo.name,
        branch: args.branch ?? gitBranch(repo.location),
        location: repo.location,
      });
      atomicWriteFile(path.resolve(args.reposcan), goJson(doc));
    }
    const totals = regenTotals(summary);
    if (out.opts.json) {
      out.json({
        ...totals,
        seconds: Number(summary.seconds.toFixed(3)),
        repos: summary.repos,
        failures: summary.failures.map(({ output: _o, ...f }) => f),
        warnings: summary.warnings,
        md5_cache: args.writeMd5Cache ? md5 : undefined,
      });
    } else {
      for (const w of summary.warnings) out.warn(`${w.file}: ${w.message}; skipped`);
      for (const f of summary.failures) out.error(failureLine(f));
      for (const s of summary.repos) {
        out.line(`${s.repo}: ${s.imported} imported, ${s.generated} generated, ${s.unchanged} unchanged, ${s.removed} removed, ${s.failed} failed${md5[s.repo] ? `; md5-cache: ${md5[s.repo]!.written} written, ${md5[s.repo]!.removed} removed` : ""}`);
      }
      out.result(`regen: ${totals.imported} imported, ${totals.generated} generated, ${totals.unchanged} unchanged, ${totals.removed} removed, ${totals.failed} failed in ${summary.seconds.toFixed(2)} s`);
    }
    return totals.failed ? 1 : 0;
  } finally {
    store.close();
  }
}

/** Turn cached metadata into what configuration needs for USE and visibility. */
export function packageInput(m: PackageMetadata): PackageInput {
  const { slot, subslot } = slotOf(m);
  return {
    category: m.category,
    package: m.package,
    version: Version.parse(m.version),
    slot,
    subslot,
    repo: m.repo,
    eapi: m.values.EAPI || "0",
    iuse: m.values.IUSE.split(" ").filter(Boolean),
    keywords: m.values.KEYWORDS.split(" ").filter(Boolean),
    license: m.values.LICENSE,
    properties: m.values.PROPERTIES,
    restrict: m.values.RESTRICT,
  };
}

function describeMask(r: ReturnType<Config["visibility"]>[number]): string {
  switch (r.kind) {
    case "package.mask":
      return `masked by ${r.file}:${r.line} (${r.atom})`;
    case "profile-packages":
      return `not in the profile's packages (${r.file}:${r.line})`;
    case "keyword":
      return r.detail + (r.keywords.length ? `; KEYWORDS="${r.keywords.join(" ")}"` : "");
    case "license":
      return `license not accepted: ${r.licenses.join(" ")}`;
    case "eapi":
      return `unsupported EAPI ${r.eapi}`;
    default:
      return `${r.kind} not accepted: ${r.tokens.join(" ")}`;
  }
}

/** Packages named by a request: `cat/pkg` (atom) or a bare `pkg` looked up in every category. */
function packagesNamed(config: Config, request: string): { atom: Atom | undefined; pkgs: { repo: string; category: string; pn: string }[] } {
  let atom: Atom | undefined;
  let name: string | undefined;
  if (request.includes("/")) {
    try {
      // the rules of `ouzo atom` and of emerge's arguments: one verdict on what an atom is
      atom = Atom.parse(request, COMMAND_LINE_EAPI);
    } catch (e) {
      const message = (e as OuzoError).message;
      const versioned = /^[A-Za-z0-9+_.-]+\/[A-Za-z0-9+_-]+-\d[^:[]*$/.test(request);
      const hint = !versioned ? "" : message.includes("needs an operator") ? ` (did you mean '=${request}'?)` : ` (a version needs an operator: did you mean '=${request}'?)`;
      throw new UsageError(message + hint);
    }
  } else name = request;
  const pkgs: { repo: string; category: string; pn: string }[] = [];
  for (const r of config.repos.repos) {
    if (atom) {
      if (fs.existsSync(path.join(r.location, atom.category, atom.package_))) pkgs.push({ repo: r.name, category: atom.category, pn: atom.package_ });
    } else {
      for (const c of categoriesOf(r.location)) if (fs.existsSync(path.join(r.location, c, name!))) pkgs.push({ repo: r.name, category: c, pn: name! });
    }
  }
  return { atom, pkgs };
}

/** "No package matches", with the nearest names the repositories have (a typo, another case). */
function noPackage(config: Config, request: string, atom: Atom | undefined): OuzoError {
  // compared by category/PN for an atom, by PN for a bare name; named by category/PN either way
  const full = new Map<string, Set<string>>();
  for (const r of config.repos.repos) {
    for (const c of categoriesOf(r.location)) {
      for (const pn of listDir(path.join(r.location, c)) ?? []) {
        const key = atom ? `${c}/${pn}` : pn;
        full.set(key, (full.get(key) ?? new Set()).add(`${c}/${pn}`));
      }
    }
  }
  const near = [...new Set(closest(atom ? atom.cp : request, full.keys()).flatMap((k) => [...full.get(k)!]))].slice(0, 5);
  const n = config.repos.repos.length;
  const where = `in the ${n} configured repositor${n === 1 ? "y" : "ies"}`;
  return new OuzoError("NO_MATCH", `no package matches '${request}' ${where}${near.length ? `; did you mean ${near.join(", ")}?` : ""}`);
}

/** `ouzo info ATOM`: every matching version in every repository, with visibility and USE. */
export async function infoCommand(config: Config, args: GlobalArgs & { atom: string }, out: Output): Promise<number> {
  const { atom, pkgs } = packagesNamed(config, args.atom);
  if (!pkgs.length) throw noPackage(config, args.atom, atom);
  const store = openStore(config.repos, args, out);
  const results: unknown[] = [];
  const failures: RegenFailure[] = [];
  try {
    for (const p of pkgs) {
      failures.push(...(await store.ensurePackage(p.repo, p.category, p.pn)));
      const entries = store.entries(p.repo, { category: p.category, package: p.pn }).sort((a, b) => compareVersions(Version.parse(a.version), Version.parse(b.version)));
      for (const m of entries) {
        const input = packageInput(m);
        if (atom && !atom.matchesIgnoringUse({ category: input.category, package: input.package, version: input.version, slot: input.slot, subslot: input.subslot, repo: input.repo })) continue;
        const use = config.useFor(input);
        const reasons = config.visibility(input, use.all);
        results.push({
          cpv: m.cpv,
          repo: m.repo,
          eapi: input.eapi,
          slot: m.values.SLOT || "0",
          keywords: input.keywords,
          iuse: input.iuse,
          description: m.values.DESCRIPTION,
          homepage: m.values.HOMEPAGE,
          license: m.values.LICENSE,
          inherited: m.values.INHERITED.split(" ").filter(Boolean),
          visible: reasons.length === 0,
          masked_by: reasons.map(describeMask),
          use: { enabled: use.enabled, disabled: use.disabled, masked: use.masked, forced: use.forced },
        });
      }
    }
  } finally {
    store.close();
  }
  for (const f of failures) out.warn(failureLine(f));
  if (out.opts.json) {
    out.json(results);
    return results.length ? 0 : 1;
  }
  if (!results.length) throw new OuzoError("NO_MATCH", `no version matches '${args.atom}'`);
  for (const r of results as Array<Record<string, any>>) {
    const flag = (f: string) => (r.use.masked.includes(f) ? `(${r.use.enabled.includes(f) ? "" : "-"}${f})` : r.use.forced.includes(f) ? `(${f})` : r.use.enabled.includes(f) ? out.color("red", f) : out.color("blue", "-" + f));
    const names = r.iuse.map((f: string) => f.replace(/^[+-]/, ""));
    out.result(`${out.color("bold", r.cpv)}::${r.repo}  ${r.visible ? out.color("green", "visible") : out.color("yellow", "masked")}`);
    out.result(`    ${r.description}`);
    out.result(`    SLOT=${r.slot}  EAPI=${r.eapi}  KEYWORDS="${r.keywords.join(" ")}"  LICENSE="${r.license}"`);
    if (names.length) out.result(`    USE="${names.map(flag).join(" ")}"`);
    for (const why of r.masked_by) out.result(`    ${out.color("yellow", "masked:")} ${why}`);
  }
  return 0;
}

/** `ouzo search TERM` over package names and descriptions, in every repository. */
export async function searchCommand(repos: RepositorySet, args: GlobalArgs & { term: string; jobs?: number }, out: Output): Promise<number> {
  const store = openStore(repos, args, out);
  let hits: PackageMetadata[];
  try {
    const summary = await store.regen();
    for (const f of summary.failures) out.warn(failureLine(f));
    hits = store.cache.search(args.term);
  } finally {
    store.close();
  }
  const byPackage = new Map<string, PackageMetadata[]>();
  for (const h of hits) {
    const key = `${h.category}/${h.package}::${h.repo}`;
    byPackage.set(key, [...(byPackage.get(key) ?? []), h]);
  }
  // the best matches first: the exact name, names that start with the term, names that contain
  // it, then packages found by their description; alphabetical within each rank
  const term = args.term.toLowerCase();
  const rank = (category: string, pn: string) => {
    const name = pn.toLowerCase();
    const full = `${category}/${pn}`.toLowerCase();
    return name === term || full === term ? 0 : name.startsWith(term) || full.startsWith(term) ? 1 : full.includes(term) ? 2 : 3;
  };
  const results = [...byPackage.values()].sort((a, b) => rank(a[0]!.category, a[0]!.package) - rank(b[0]!.category, b[0]!.package)).map((ms) => {
    const sorted = ms.sort((a, b) => compareVersions(Version.parse(a.version), Version.parse(b.version)));
    const latest = sorted[sorted.length - 1]!;
    return { package: `${latest.category}/${latest.package}`, repo: latest.repo, versions: sorted.map((m) => m.version), description: latest.values.DESCRIPTION, homepage: latest.values.HOMEPAGE };
  });
  if (out.opts.json) out.json(results);
  else for (const r of results) out.result(`${out.color("bold", r.package)}::${r.repo}  [${r.versions.join(" ")}]\n    ${r.description}`);
  return results.length ? 0 : 1;
}
