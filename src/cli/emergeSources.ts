// The candidate sources `ouzo emerge` hands the resolver: the ebuilds of the repositories,
// through the metadata cache, and the installed packages of ROOT.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Config } from "../config/Config.js";
import type { Repository } from "../config/repositories.js";
import { listDir } from "../core/fsutil.js";
import type { MetadataStore } from "../metadata/MetadataStore.js";
import { checkRequiredUse, parseRequiredUse } from "../pms/depspec.js";
import { COMMAND_LINE_EAPI, eapiFeatures } from "../pms/eapi.js";
import type { Candidate, CandidateSource } from "../resolve/Candidate.js";
import type { Output } from "../ui/Output.js";
import { failureLine, packageInput } from "./commands/metadata.js";

/** Ebuilds of every repository, through the metadata cache (stale entries regenerated for the packages reached only). */
export class EbuildSource implements CandidateSource {
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

export { InstalledSource } from "./installedSource.js";

