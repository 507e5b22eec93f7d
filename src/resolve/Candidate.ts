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
  /**
   * Set by autounmask only: the configuration changes that let this candidate in (a keyword, an
   * unmask, a licence, or a USE change).
   */
  readonly autounmask?: readonly ConfigChange[];
}

/**
 * Why a candidate is masked, as data (emerge spec §3.1, §3.5): what an explanation prints and what
 * autounmask may lift. Sources that know only a sentence leave `other`.
 */
export type MaskDetail =
  | { readonly kind: "package.mask"; readonly file: string; readonly line: number; readonly atom: string; readonly comments: readonly string[] }
  /** `hint`: the keyword that would accept it (`~amd64`, `**`); undefined when none can (DENY_KEYWORDS). */
  | { readonly kind: "keyword"; readonly keywords: readonly string[]; readonly accepted: readonly string[]; readonly hint: string | undefined; readonly detail: string }
  | { readonly kind: "license"; readonly licenses: readonly string[] }
  | { readonly kind: "required-use"; readonly expression: string; readonly unsatisfied: string; readonly use: readonly string[] }
  | { readonly kind: "other"; readonly text: string };

/** A change to /etc/portage that autounmask proposes (emerge spec §9.2). */
export type ConfigChange =
  | { readonly kind: "use"; readonly flags: Readonly<Record<string, boolean>> }
  | { readonly kind: "keyword"; readonly keyword: string }
  | { readonly kind: "unmask"; readonly file: string; readonly line: number; readonly comments: readonly string[] }
  | { readonly kind: "license"; readonly licenses: readonly string[] };

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
