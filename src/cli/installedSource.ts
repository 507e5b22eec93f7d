// The installed packages as candidates of the resolver: from ROOT's /var/db/pkg (InstalledSource,
// for emerge), or from a list a command has already read (the anise commands, which read it with
// the anise records).
import { Atom } from "../pms/atom.js";
import { COMMAND_LINE_EAPI } from "../pms/eapi.js";
import type { Candidate, CandidateSource } from "../resolve/Candidate.js";
import type { Output } from "../ui/Output.js";
import { readInstalled, type InstalledPackage } from "../vdb/installed.js";

/** Installed packages with the USE they were built with. */
export class InstalledListSource implements CandidateSource {
  private readonly byCp = new Map<string, Candidate[]>();
  /** category/PN named by a runtime blocker → the installed packages carrying it. */
  private blockerIndex?: Map<string, Set<string>>;

  constructor(list: readonly InstalledPackage[]) {
    for (const p of list) {
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

  /** The installed packages whose runtime dependencies block `cp` (as emerge collects them). */
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

/** The installed packages of ROOT (/var/db/pkg), what the vdb reader could not use said as warnings. */
export class InstalledSource extends InstalledListSource {
  constructor(root: string, out: Output) {
    super(readInstalled(root, (w) => out.warn(`${w.dir}${w.file ? `/${w.file}` : ""}: ${w.message}`)));
  }
}
