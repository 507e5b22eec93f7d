/**
 * The one table of what each EAPI allows (PMS, "EAPI-dependent features").
 * Code asks this table; it never compares EAPI numbers itself.
 */
export interface EapiFeatures {
  readonly name: string;
  /** `:slot` in atoms (PMS 8.3.3). */
  readonly slotDeps: boolean;
  /** `[use]` dependencies (PMS 8.3.4). */
  readonly useDeps: boolean;
  /** `(+)`/`(-)` defaults in USE deps. */
  readonly useDepDefaults: boolean;
  /** `!!` strong blockers. */
  readonly strongBlockers: boolean;
  /** sub-slots and the slot operators `:=`, `:*`. */
  readonly slotOperators: boolean;
  /** `::repo` in dependency atoms: no official EAPI allows it in ebuilds. */
  readonly repoDeps: boolean;
  // Extended atoms with `*` in the category or package name ("*/*", "dev-*/foo"): user configuration only.
  readonly extendedAtoms: boolean;
  /** IUSE `+flag`/`-flag` defaults. */
  readonly iuseDefaults: boolean;
  /** REQUIRED_USE exists. */
  readonly requiredUse: boolean;
  /** `?? ( )` in REQUIRED_USE. */
  readonly atMostOneOf: boolean;
  /** `->` renames in SRC_URI. */
  readonly srcUriArrows: boolean;
  /** `fetch+`/`mirror+` prefixes in SRC_URI. */
  readonly selectiveUriRestrictions: boolean;
  /** BDEPEND exists. */
  readonly bdepend: boolean;
  /** IDEPEND exists. */
  readonly idepend: boolean;
  /** RDEPEND defaults to DEPEND when unset (EAPI 0-3). */
  readonly rdependDefaultsToDepend: boolean;
  /** PROPERTIES and RESTRICT accumulate across eclasses (EAPI 8). */
  readonly accumulateRestrictProperties: boolean;
  /** Phase functions valid in this EAPI (full names). */
  readonly phases: readonly string[];
  /** Profile files may be directories of files (EAPI 7+ profile directories). */
  readonly profileFileDirectories: boolean;
  /** use.stable.mask and friends. */
  readonly stableMaskFiles: boolean;
  /** IUSE_EFFECTIVE is IUSE plus the implicit flags only (EAPI 5+); before, every USE_EXPAND flag and arch counts. */
  readonly iuseEffectiveStrict: boolean;
  /** ROOT, EROOT, D, ED end in "/" (EAPI ≤6); from EAPI 7 they never do (PMS 11.1, build spec §2.2). */
  readonly pathsEndInSlash: boolean;
  /** EPREFIX, ED, EROOT exist (EAPI 3+). */
  readonly prefixVariables: boolean;
  /** AA and KV exist (EAPI ≤3). */
  readonly aaVariable: boolean;
  /** PORTDIR and ECLASSDIR exist (EAPI ≤6). */
  readonly portdirVariables: boolean;
  /** SYSROOT, ESYSROOT, BROOT exist (EAPI 7+). */
  readonly sysrootVariables: boolean;
}

const PHASES_0 = ["pkg_config", "pkg_info", "pkg_nofetch", "pkg_postinst", "pkg_postrm", "pkg_preinst", "pkg_prerm", "pkg_setup", "src_compile", "src_install", "src_test", "src_unpack"];
const PHASES_2 = [...PHASES_0, "src_configure", "src_prepare"];
const PHASES_4 = [...PHASES_2, "pkg_pretend"];

const base: EapiFeatures = {
  name: "0",
  slotDeps: false,
  useDeps: false,
  useDepDefaults: false,
  strongBlockers: false,
  slotOperators: false,
  repoDeps: false,
  extendedAtoms: false,
  iuseDefaults: false,
  requiredUse: false,
  atMostOneOf: false,
  srcUriArrows: false,
  selectiveUriRestrictions: false,
  bdepend: false,
  idepend: false,
  rdependDefaultsToDepend: true,
  accumulateRestrictProperties: false,
  phases: PHASES_0,
  profileFileDirectories: false,
  stableMaskFiles: false,
  iuseEffectiveStrict: false,
  pathsEndInSlash: true,
  prefixVariables: false,
  aaVariable: true,
  portdirVariables: true,
  sysrootVariables: false,
};

function derive(prev: EapiFeatures, name: string, changes: Partial<EapiFeatures>): EapiFeatures {
  return Object.freeze({ ...prev, ...changes, name });
}

const e0 = Object.freeze(base);
const e1 = derive(e0, "1", { slotDeps: true, iuseDefaults: true });
const e2 = derive(e1, "2", { useDeps: true, strongBlockers: true, srcUriArrows: true, phases: PHASES_2 });
const e3 = derive(e2, "3", { prefixVariables: true });
const e4 = derive(e3, "4", { useDepDefaults: true, requiredUse: true, rdependDefaultsToDepend: false, phases: PHASES_4, aaVariable: false });
const e5 = derive(e4, "5", { slotOperators: true, atMostOneOf: true, stableMaskFiles: true, iuseEffectiveStrict: true });
const e6 = derive(e5, "6", {});
const e7 = derive(e6, "7", { bdepend: true, profileFileDirectories: true, pathsEndInSlash: false, portdirVariables: false, sysrootVariables: true });
const e8 = derive(e7, "8", { idepend: true, selectiveUriRestrictions: true, accumulateRestrictProperties: true });

const TABLE = new Map<string, EapiFeatures>([e0, e1, e2, e3, e4, e5, e6, e7, e8].map((e) => [e.name, e]));

/** Features for user configuration files (/etc/portage): the newest EAPI plus `::repo` and extended atoms. */
export const USER_CONFIG_EAPI: EapiFeatures = derive(e8, "user", { repoDeps: true, extendedAtoms: true });

/** Features for atoms typed on the command line (emerge's arguments): the newest EAPI plus `::repo`. */
export const COMMAND_LINE_EAPI: EapiFeatures = derive(e8, "command-line", { repoDeps: true });

export const LATEST_EAPI = "8";

export function eapiFeatures(eapi: string): EapiFeatures | undefined {
  return TABLE.get(eapi);
}

export function isSupportedEapi(eapi: string): boolean {
  return TABLE.has(eapi);
}
