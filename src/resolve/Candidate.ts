import type { Version } from "../pms/version.js";

/** The dependency classes of PMS 8.1, by their variable names. */
export type DepClass = "DEPEND" | "RDEPEND" | "PDEPEND" | "BDEPEND" | "IDEPEND";

/**
 * A package that could end up installed: an ebuild of a repository, or the installed instance
 * (later Portage binary packages and anise packages). Every source produces the same value, so
 * the resolver knows none of them; the CLI hands it the sources.
 */
export interface Candidate {
  readonly source: "ebuild" | "installed";
  readonly category: string;
  readonly package: string;
  readonly version: Version;
  /** `category/PF` */
  readonly cpv: string;
  readonly slot: string;
  readonly subslot: string;
  readonly repo: string;
  readonly eapi: string;
  /** IUSE as written, with `+`/`-` defaults. */
  readonly iuse: readonly string[];
  /** Effective USE: the configuration's for an ebuild, the recorded one for an installed package. */
  readonly use: ReadonlySet<string>;
  /** For the display: enabled, disabled, forced and masked flags of IUSE. */
  readonly useState: { readonly enabled: readonly string[]; readonly disabled: readonly string[]; readonly forced: readonly string[]; readonly masked: readonly string[] };
  /** Empty when visible; otherwise why not (mask file and line, keyword, licence…). */
  readonly masks: readonly string[];
  /** `#`, `*`, `~` or space: the emerge mask column (a package.mask line or keyword accepted only per package). */
  readonly maskMarker: string;
  readonly deps: Readonly<Record<DepClass, string>>;
  readonly properties: string;
  /** SRC_URI as written (ebuilds; what a plan downloads). */
  readonly srcUri?: string;
  /** RESTRICT as written (ebuilds). */
  readonly restrict?: string;
}

/** Where candidates come from. `cp` is `category/PN`; the answer lists every version the source has. */
export interface CandidateSource {
  candidates(cp: string): Promise<readonly Candidate[]>;
  /** Optional: told the packages about to be asked for, so that a source can read them in one go. */
  prefetch?(cps: readonly string[]): Promise<void>;
  /**
   * Optional, for installed packages: the `category/PN` of every installed package whose runtime
   * dependencies carry a blocker naming `cp` (emerge collects those blockers of every installed
   * package, in the graph or not).
   */
  blockersOf?(cp: string): readonly string[];
}
