// The environment a phase's bash starts with (build spec §2.1–2.4): the package manager's
// variables, the configuration (make.globals, make.defaults, make.conf) in phases that source the
// ebuild afresh, and the caller's variables that Portage lets through.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { packagePath } from "../core/paths.js";
import { eapiFeatures, type EapiFeatures } from "../pms/eapi.js";
import type { BuildDir } from "./BuildDir.js";

/** One package to build: the ebuild, its metadata, and what configuration decided for it. */
export interface BuildPackage {
  readonly ebuild: string;
  readonly category: string;
  readonly pf: string;
  readonly pn: string;
  /** Version without revision. */
  readonly pv: string;
  /** "r0" when there is none. */
  readonly pr: string;
  readonly repo: { readonly name: string; readonly location: string; readonly eclassLocations: readonly string[] };
  /** Metadata as the depend phase made it (EAPI, SLOT, IUSE, SRC_URI, RESTRICT, DEFINED_PHASES, …). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Enabled USE flags within IUSE_EFFECTIVE. */
  readonly use: readonly string[];
  readonly iuseEffective: readonly string[];
  /** RESTRICT and PROPERTIES as USE evaluates them. */
  readonly restrict: readonly string[];
  readonly properties: readonly string[];
  /** A: the distfiles USE selects; AA (EAPI ≤3): all of them. */
  readonly distfiles: readonly string[];
  readonly allDistfiles: readonly string[];
}

/** What the build reads from the configuration. */
export interface BuildSettings {
  /** make.globals + profiles' make.defaults + make.conf, incrementals stacked (config.vars). */
  readonly vars: ReadonlyMap<string, string>;
  readonly root: string;
  readonly configRoot: string;
  readonly features: ReadonlySet<string>;
  /** The real distfile directory. */
  readonly distdir: string;
  /** profile.bashrc files of the stack, then /etc/portage/bashrc and env/ files (spec §1.6). */
  readonly bashrcs: readonly string[];
  /** The caller's environment; Portage's filters pick what passes. */
  readonly callerEnv: Readonly<Record<string, string | undefined>>;
}

/** Never handed to bash (spec §2.1). */
const NEVER_PASSED = /^(ACCEPT_KEYWORDS|ACCEPT_PROPERTIES|ACCEPT_RESTRICT|CONFIG_PROTECT|CONFIG_PROTECT_MASK|COLLISION_IGNORE|UNINSTALL_IGNORE|FETCHCOMMAND.*|RESUMECOMMAND.*|GENTOO_MIRRORS|PORTAGE_ELOG_.*|PORTAGE_LOGDIR.*|PORTAGE_BINHOST|PORTAGE_GPG_.*|PORTAGE_RSYNC_.*|USE_ORDER|USE_EXPAND_HIDDEN|EMERGE_DEFAULT_OPTS|BINPKG_COMPRESS.*|CLEAN_DELAY|AUTOCLEAN|NOCONFMEM|INFOPATH|MANPATH|DEPEND|RDEPEND|PDEPEND|BDEPEND|IDEPEND|SRC_URI)$/;

/** Caller variables that still pass once a saved environment exists (spec §2.1). */
const WHITELIST = /^(LANG|LC_.*|TERM|COLORTERM|DISPLAY|XAUTHORITY|EDITOR|PAGER|LESS.*|LS_COLORS|LOGNAME|USER|.*_proxy|SSH_AGENT_PID|SSH_AUTH_SOCK|GPG_AGENT_INFO|STY|WINDOW|CVS_RSH|ECHANGELOG_USER|MAKEOPTS|MAKEFLAGS|NINJAOPTS|PYTHONDONTWRITEBYTECODE|INSTALL_MASK|PKG_INSTALL_MASK|DOC_SYMLINKS_DIR|CCACHE_.*|DISTCC_.*|QEMU_.*|NOCOLOR|NO_COLOR)$/;

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The EAPI's row of the table; an EAPI ouzo does not know cannot be built. */
export function eapiRow(eapi: string): EapiFeatures {
  const f = eapiFeatures(eapi);
  if (!f) throw new OuzoError("BAD_EAPI", `EAPI ${eapi} is not supported`);
  return f;
}

/** A value quoted as one bash word (for PORTAGE_ECLASS_LOCATIONS, which phase.sh evals). */
function shellWord(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Where a compiler wrapper's masquerade links live, if it is installed. */
export function masqueradeDir(tool: "ccache" | "distcc"): string | undefined {
  return [`/usr/lib/${tool}/bin`, `/usr/lib/${tool}`, `/usr/lib64/${tool}/bin`].find((d) => fs.existsSync(path.join(d, "cc")) || fs.existsSync(path.join(d, "gcc")));
}

/** CCACHE_DIR's default (spec §5.1): ${PORTAGE_TMPDIR}/ccache. */
export function ccacheDir(tmpdir: string): string {
  return path.join(tmpdir, "ccache");
}

export function eapiOf(pkg: BuildPackage): string {
  return pkg.metadata.EAPI || "0";
}

/** The job count of MAKEOPTS (spec §5.4): -jN, -j N, --jobs N, --jobs=N, grouped short options. */
export function makeoptsJobs(makeopts: string | undefined): number | undefined {
  const words = (makeopts ?? "").trim().split(/\s+/);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let m = /^--jobs(?:=(\d+))?$/.exec(w);
    if (m) return Number(m[1] ?? words[i + 1]) || undefined;
    m = /^-[a-zA-Z]*j(\d*)$/.exec(w);
    if (m) return Number(m[1] || words[i + 1]) || undefined;
  }
  return undefined;
}

export interface PhaseEnvOptions {
  readonly phase: string;
  /** No saved environment is used: the configuration is exported and the ebuild sourced. */
  readonly fresh: boolean;
  readonly mergeType?: "source" | "binary" | "buildonly";
  readonly replacingVersions?: readonly string[];
  readonly replacedByVersion?: string;
  /** The fd number of the control channel in the child. */
  readonly ctlFd?: number;
}

export function phaseEnvironment(pkg: BuildPackage, settings: BuildSettings, dir: BuildDir, opts: PhaseEnvOptions): Record<string, string> {
  const eapi = eapiOf(pkg);
  const row = eapiRow(eapi);
  const slash = row.pathsEndInSlash;
  const env: Record<string, string> = {};
  // the configuration and the caller's shell: all of it when the ebuild is sourced afresh
  if (opts.fresh) {
    for (const [k, v] of Object.entries(settings.callerEnv)) if (v !== undefined && !NEVER_PASSED.test(k)) env[k] = v;
    for (const [k, v] of settings.vars) if (!NEVER_PASSED.test(k)) env[k] = v;
  } else {
    for (const [k, v] of Object.entries(settings.callerEnv)) if (v !== undefined && WHITELIST.test(k)) env[k] = v;
    for (const k of ["MAKEOPTS", "MAKEFLAGS", "NINJAOPTS", "INSTALL_MASK", "PKG_INSTALL_MASK"]) {
      const v = settings.vars.get(k);
      if (v !== undefined && env[k] === undefined) env[k] = v;
    }
  }
  if (!env.MAKEOPTS && !env.MAKEFLAGS) env.MAKEOPTS = `-j${os.availableParallelism()}`;
  delete env.MAKEFLAGS;

  const features = [...settings.features].sort().join(" ");
  const root = settings.root.replace(/\/+$/, "");
  const withSlash = (p: string) => (slash ? `${p.replace(/\/+$/, "")}/` : p.replace(/\/+$/, ""));
  const pvr = pkg.pr === "r0" && !pkg.pf.endsWith("-r0") ? pkg.pv : `${pkg.pv}-${pkg.pr}`;
  const p = `${pkg.pn}-${pkg.pv}`;
  let pathVar = settings.callerEnv.PATH || DEFAULT_PATH;
  // the compilers' masquerade directories (Gentoo's …/bin, Debian's plain directory)
  const distcc = settings.features.has("distcc") ? masqueradeDir("distcc") : undefined;
  const ccache = settings.features.has("ccache") ? masqueradeDir("ccache") : undefined;
  if (distcc) pathVar = `${distcc}:${pathVar}`;
  if (ccache) pathVar = `${ccache}:${pathVar}`;

  Object.assign(env, {
    PATH: pathVar,
    EAPI: eapi,
    CATEGORY: pkg.category,
    P: p,
    PN: pkg.pn,
    PV: pkg.pv,
    PR: pkg.pr,
    PVR: pvr,
    PF: pkg.pf,
    SLOT: pkg.metadata.SLOT || "0",
    EBUILD: pkg.ebuild,
    PORTAGE_BUILDDIR: dir.dir,
    PORTAGE_TMPDIR: dir.tmpdir,
    PORTAGE_BIN_PATH: packagePath("src", "ebuild"),
    PORTAGE_ECLASS_LOCATIONS: pkg.repo.eclassLocations.map(shellWord).join(" "),
    PORTAGE_REPO_NAME: pkg.repo.name,
    PORTAGE_CONFIGROOT: settings.configRoot,
    PORTAGE_ACTUAL_DISTDIR: settings.distdir,
    PORTAGE_LOG_FILE: dir.log,
    PORTAGE_RESTRICT: pkg.restrict.join(" "),
    PORTAGE_PROPERTIES: pkg.properties.join(" "),
    PORTAGE_INST_UID: "0",
    PORTAGE_INST_GID: "0",
    REPODIR: dir.repo,
    WORKDIR: dir.work,
    S: path.join(dir.work, p),
    T: dir.temp,
    TMPDIR: dir.temp,
    TMP: dir.temp,
    TEMP: dir.temp,
    HOME: dir.home,
    D: withSlash(dir.image),
    DISTDIR: dir.distdir,
    FILESDIR: dir.files,
    ROOT: slash ? `${root}/` : root,
    USE: [...pkg.use].sort().join(" "),
    IUSE_EFFECTIVE: [...pkg.iuseEffective].sort().join(" "),
    A: pkg.distfiles.join(" "),
    EBUILD_PHASE: opts.phase,
    MERGE_TYPE: opts.mergeType ?? "source",
    REPLACING_VERSIONS: (opts.replacingVersions ?? []).join(" "),
    REPLACED_BY_VERSION: opts.replacedByVersion ?? "",
    FEATURES: features,
    PORTAGE_FEATURES: features,
    EMERGE_FROM: opts.mergeType === "binary" ? "binary" : "ebuild",
    DEFINED_PHASES: pkg.metadata.DEFINED_PHASES ?? "",
    __OUZO_BASHRCS: settings.bashrcs.join(" "),
  });
  if (opts.fresh) env.__OUZO_FRESH = "1";
  if (opts.ctlFd !== undefined) env.__OUZO_CTL = String(opts.ctlFd);
  // EAPI 3+: the prefix variables; MARK is not a prefix installation
  if (row.prefixVariables) {
    env.EPREFIX = "";
    env.ED = env.D!;
    env.EROOT = env.ROOT!;
  }
  if (row.aaVariable) env.AA = pkg.allDistfiles.join(" ");
  if (row.sysrootVariables) {
    // EAPI 7+: SYSROOT where DEPEND is satisfied (the build host here), BROOT for BDEPEND
    env.SYSROOT = "";
    env.ESYSROOT = "";
    env.BROOT = "";
  }
  if (row.portdirVariables) {
    env.PORTDIR = pkg.repo.eclassLocations[0] ?? pkg.repo.location;
    env.ECLASSDIR = path.join(env.PORTDIR, "eclass");
  }
  if (ccache) {
    env.CCACHE_DIR = settings.vars.get("CCACHE_DIR") || ccacheDir(dir.tmpdir);
    const size = settings.vars.get("CCACHE_SIZE");
    if (size) env.CCACHE_MAXSIZE = size;
  } else env.CCACHE_DISABLE = "1";
  if (distcc) env.DISTCC_DIR = settings.vars.get("DISTCC_DIR") || path.join(dir.tmpdir, "portage", ".distcc");
  // EAPI 6+: LC_CTYPE and LC_COLLATE behave like POSIX for ASCII (spec §2.1)
  if (env.LC_ALL) {
    const all = env.LC_ALL;
    delete env.LC_ALL;
    for (const c of ["LC_MESSAGES", "LC_NUMERIC", "LC_TIME", "LC_MONETARY"]) env[c] ??= all;
  }
  env.LC_COLLATE = "C";
  env.LC_CTYPE = env.LC_CTYPE && /utf-?8/i.test(env.LC_CTYPE) ? env.LC_CTYPE : "C.UTF-8";
  return env;
}
