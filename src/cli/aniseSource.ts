// anise packages as a candidate source for ouzo's resolver (anise.md §5, §9): requires become
// runtime dependencies, conflicts strong blockers, versions PMS versions (a build number orders
// equal versions: candidates come best first, and the resolver keeps that order among equals).
// A name that packages provide is answered by those providers only, each as an entry recording
// the name with a dependency on its provider (a virtual, in Portage's words): asking for the
// name installs the provider, and removing the provider removes what needed the name.
import type { AniseCatalog, AniseEntry } from "../anise/AniseCatalog.js";
import type { PackageSpec } from "../anise/AnisePackage.js";
import { pfOf, runtimeDependencies, slotOf } from "../anise/AniseRecord.js";
import type { Candidate, CandidateSource } from "../resolve/Candidate.js";

export type AniseOrigin = { readonly kind: "package"; readonly entry: AniseEntry } | { readonly kind: "provided"; readonly spec: PackageSpec; readonly provider: AniseEntry };

/**
 * An anise package as a candidate. Its `source` is "ebuild" (something to merge) until the
 * Candidate interface has an "anise" source; `anise` says what it really is.
 */
export interface AniseCandidate extends Candidate {
  readonly anise: AniseOrigin;
}

export function aniseOrigin(c: Candidate): AniseOrigin | undefined {
  return (c as Partial<AniseCandidate>).anise;
}

const NO_USE = { enabled: [], disabled: [], forced: [], masked: [] };

function candidate(spec: PackageSpec, e: AniseEntry, origin: AniseOrigin, rdepend: string): AniseCandidate {
  const v = e.version;
  const pf = pfOf(spec);
  const slot = slotOf(spec);
  return {
    source: "ebuild",
    category: spec.category,
    package: spec.name,
    version: v.pms,
    cpv: `${spec.category}/${pf}`,
    slot,
    subslot: slot,
    repo: e.repo.name,
    eapi: "8",
    iuse: [],
    use: new Set(),
    useState: NO_USE,
    masks: e.masks,
    maskMarker: " ",
    deps: { DEPEND: "", RDEPEND: rdepend, PDEPEND: "", BDEPEND: "", IDEPEND: "" },
    properties: "",
    anise: origin,
  };
}

export class AniseSource implements CandidateSource {
  private readonly memo = new Map<string, AniseCandidate[]>();

  constructor(private readonly catalog: AniseCatalog, private readonly warn: (m: string) => void = () => {}) {}

  async candidates(cp: string): Promise<AniseCandidate[]> {
    return this.candidatesSync(cp);
  }

  candidatesSync(cp: string): AniseCandidate[] {
    let out = this.memo.get(cp);
    if (out) return out;
    out = [];
    const providers = this.catalog.providersOf(cp).filter((p) => `${p.ref.category}/${p.ref.name}` !== cp);
    if (providers.length) {
      const [category, name] = cp.split("/") as [string, string];
      const seen = new Set<string>();
      for (const p of providers) {
        for (const e of this.catalog.packages(`${p.ref.category}/${p.ref.name}`)) {
          // provides.yaml points at providers; the package's own `provides` is the authority
          const own = e.spec.provides.find((x) => `${x.category}/${x.name}` === cp);
          if (!own) continue;
          const key = `${e.repo.name}\0${e.spec.category}/${e.spec.name}\0${e.version.text}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const spec: PackageSpec = {
            category,
            name,
            version: e.spec.version,
            requires: [{ category: e.spec.category, name: e.spec.name, version: `=${e.spec.version}` }],
            conflicts: [],
            provides: [],
            useFlags: [],
            hidden: false,
            annotations: {},
            labels: {},
            description: `${cp}, provided by ${e.spec.category}/${e.spec.name}`,
            license: "",
            uri: [],
          };
          out.push(candidate(spec, e, { kind: "provided", spec, provider: e }, `=${e.spec.category}/${pfOf(e.spec)}`));
        }
      }
    } else {
      for (const e of this.catalog.packages(cp)) out.push(candidate(e.spec, e, { kind: "package", entry: e }, runtimeDependencies(e.spec, this.warn)));
    }
    this.memo.set(cp, out);
    return out;
  }
}

/** Whether an installed anise package's recorded spec differs from a candidate's in what the resolver sees. */
export function depsChanged(recorded: PackageSpec | undefined, now: PackageSpec): boolean {
  if (!recorded) return false;
  const key = (s: PackageSpec) => `${runtimeDependencies(s)}|${s.provides.map((p) => `${p.category}/${p.name}${p.version}`).sort().join(",")}`;
  return key(recorded) !== key(now);
}

export { InstalledListSource } from "./installedSource.js";
