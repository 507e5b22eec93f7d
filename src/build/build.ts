// Building one package from its ebuild (build spec §1.2, §1.8): the phases in order, each in a
// fresh bash, skipping those whose marker says they are done, so that `ouzo ebuild x.ebuild
// compile` then `… install` resumes where the first stopped.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { readFileIfExists } from "../core/fsutil.js";
import { Atom } from "../pms/atom.js";
import { compareVersions } from "../pms/version.js";
import { readInstalled, type InstalledPackage } from "../vdb/installed.js";
import { BuildDir, MARKED_PHASES, type MarkedPhase } from "./BuildDir.js";
import { silentReporter, type Reporter } from "../core/reporter.js";
import { linkDistdir } from "./fetch.js";
import { writeBinpkg, type BinpkgWritten } from "./binpkg.js";
import { unpackBinpkg, type BinpkgMatch } from "./binpkgInstall.js";
import { BOUND_KEYS, boundValue } from "./boundDeps.js";
import { installEnvironment, writeEnvironmentBz2 } from "./savedEnvironment.js";
import { buildUser, handOver, runsAsBuildUser, unreachable, type BuildUser } from "./buildUser.js";
import { packageRoot } from "../core/paths.js";
import { assertSandboxUsable, collectViolations, describeViolation, failsBuild, needsHelper, parseSandboxD, prepareSandbox, probeSandbox, rulesFor, wrapCommand, type SandboxRules, type SandboxSupport } from "./sandbox.js";
import { processImage, readPathLists } from "./image.js";
import { fetchPackage, mirrorConfig } from "./packageFetch.js";
import { readLayoutConf } from "../config/repositories.js";
import { allLeaves, parseSrcUri } from "../pms/depspec.js";
import { distfileNames } from "./distfiles.js";
import { distfileRequests, fetchDistfiles } from "./fetch.js";
import { writeManifestDist } from "./manifestWrite.js";
import { manifestHashes } from "./verify.js";
import { ccacheDir, eapiOf, eapiRow, makeoptsJobs, masqueradeDir, phaseEnvironment, type BuildPackage, type BuildSettings } from "./phaseEnv.js";
import { CTL_FD, runPhase, type QueryAnswer, type QueryKind, type QueryRoot } from "./PhaseRunner.js";

/** What `ouzo ebuild` accepts, in the order a build runs them. */
export const EBUILD_COMMANDS = ["clean", "manifest", "digest", "fetch", "pretend", "setup", "unpack", "prepare", "configure", "compile", "test", "install", "instprep", "package"] as const;
export type EbuildCommand = (typeof EBUILD_COMMANDS)[number];

const SOURCE_PHASES = ["setup", "unpack", "prepare", "configure", "compile", "test", "install"] as const;
type SourcePhase = (typeof SOURCE_PHASES)[number];

export interface PhaseTiming {
  readonly phase: string;
  readonly ms: number;
  /** Skipped because its marker existed. */
  readonly skipped?: boolean;
}

export interface BuildHooks {
  /** Warnings (QA notices, fetch problems) and progress. */
  reporter?: Reporter;
  /** A line the build prints between phases (">>> Unpacking source..."). */
  onMessage?(line: string): void;
  /** The phase output is not shown (--quiet-build): a failure shows the end of the log. */
  quietBuild?: boolean;
  /** Phase output as it comes. */
  onOutput?(chunk: Buffer): void;
}

export interface BuildResult {
  readonly dir: BuildDir;
  readonly timings: readonly PhaseTiming[];
}

/** Whether src_test runs (spec §5.2). */
export function testsEnabled(pkg: BuildPackage, settings: BuildSettings): boolean {
  if (!settings.features.has("test") && settings.callerEnv.EBUILD_FORCE_TEST !== "1") return false;
  if (!pkg.restrict.includes("test")) return true;
  const allow = (settings.vars.get("ALLOW_TEST") ?? "").split(/\s+/);
  return allow.includes("all") || (allow.includes("network") && pkg.properties.includes("test_network")) || (allow.includes("privileged") && pkg.properties.includes("test_privileged"));
}

/**
 * The source phases a build of this package runs, in order (spec §1.2): no prepare/configure
 * before EAPI 2, test only when enabled, and the virtual shortcut of §1.8 (only setup and
 * install when nothing is unpacked and no src phase is defined).
 */
export function sourcePhases(pkg: BuildPackage, settings: BuildSettings): SourcePhase[] {
  const valid = new Set(eapiRow(eapiOf(pkg)).phases);
  const defined = new Set((pkg.metadata.DEFINED_PHASES ?? "").split(/\s+/));
  const phases = SOURCE_PHASES.filter((p) => valid.has(phaseFunction(p))).filter((p) => p !== "test" || testsEnabled(pkg, settings));
  const srcDefined = ["unpack", "prepare", "configure", "compile", "test", "install"].some((p) => defined.has(p));
  if (!pkg.distfiles.length && !srcDefined) return ["setup", "install"];
  return phases;
}

const HEADERS: Record<string, [string, string] | undefined> = {
  unpack: [">>> Unpacking source...", ">>> Source unpacked in {WORKDIR}"],
  prepare: [">>> Preparing source in {S} ...", ">>> Source prepared."],
  configure: [">>> Configuring source in {S} ...", ">>> Source configured."],
  compile: [">>> Compiling source in {S} ...", ">>> Source compiled."],
  test: [">>> Test phase: {CPV}", ">>> Completed testing {CPV}"],
  install: [">>> Install {CPV} into {D}", ">>> Completed installing {CPV} into {D}"],
};

export class PackageBuild {
  readonly dir: BuildDir;
  private installedCache = new Map<string, InstalledPackage[]>();
  readonly timings: PhaseTiming[] = [];
  /** The binary package the package step wrote. */
  binpkg: BinpkgWritten | undefined;
  /** The phase running now, for progress lines. */
  phaseNow: string | undefined;

  private readonly sandbox: SandboxSupport | undefined;
  /** FEATURES=userpriv: who runs unpack … test. */
  user: BuildUser | undefined;

  /** `dir`: another build directory than PORTAGE_TMPDIR/portage/<cat>/<pf> (an installed package's ._unmerge_ one). */
  constructor(readonly pkg: BuildPackage, readonly settings: BuildSettings, tmpdir: string, readonly hooks: BuildHooks = {}, dir?: BuildDir) {
    this.dir = dir ?? new BuildDir(tmpdir, pkg.category, pkg.pf);
    this.user = buildUser(pkg, settings);
    for (const tool of ["ccache", "distcc"] as const) {
      if (settings.features.has(tool) && !masqueradeDir(tool)) hooks.reporter?.report({ kind: "warning", code: tool, message: `FEATURES=${tool}, but ${tool} is not installed (no /usr/lib/${tool}): building without it` });
    }
    if (settings.features.has("ccache")) fs.mkdirSync(settings.vars.get("CCACHE_DIR") || ccacheDir(tmpdir), { recursive: true });
    if (this.user) {
      const closed = unreachable(this.dir.dir, this.user) ?? unreachable(path.dirname(pkg.ebuild), this.user);
      if (closed) {
        hooks.reporter?.report({ kind: "warning", code: "userpriv", message: `${this.cpv}: FEATURES=userpriv: ${closed} is not searchable by ${this.user.name}; the build runs as root` });
        this.user = undefined;
      }
    }
    // without Landlock or namespaces, say so before anything runs, and refuse unless FEATURES=-sandbox
    if (settings.features.has("sandbox") || settings.features.has("network-sandbox")) {
      this.sandbox = probeSandbox();
      assertSandboxUsable(this.sandbox, settings.features);
    }
  }

  /** The sandbox rules of a phase (spec §8), or undefined when FEATURES turns every part off. */
  private rules(phase: string, as: BuildUser | undefined): SandboxRules | undefined {
    if (!this.sandbox) return undefined;
    const rules = rulesFor(phase, {
      builddir: this.dir.dir,
      temp: this.dir.temp,
      features: this.settings.features,
      restrict: this.pkg.restrict,
      properties: this.pkg.properties,
      // what a phase reads that may lie under a private /tmp: ouzo, the repositories, the configuration
      expose: [packageRoot(), this.pkg.repo.location, ...this.pkg.repo.eclassLocations, path.dirname(this.pkg.ebuild), this.settings.configRoot, this.settings.root],
      sandboxD: parseSandboxD(path.join(this.settings.configRoot, "etc", "sandbox.d")),
      distdir: this.settings.distdir,
      ccacheDir: this.settings.features.has("ccache") ? this.settings.vars.get("CCACHE_DIR") || ccacheDir(this.dir.tmpdir) : undefined,
      distccDir: this.settings.features.has("distcc") ? this.settings.vars.get("DISTCC_DIR") || path.join(this.dir.tmpdir, "portage", ".distcc") : undefined,
      root: this.settings.root,
      eroot: this.settings.root,
      auditEnable: this.sandbox.root,
      uid: as?.uid,
      gid: as?.gid,
    });
    if (!needsHelper(rules)) return undefined;
    prepareSandbox(rules);
    return rules;
  }

  get cpv(): string {
    return `${this.pkg.category}/${this.pkg.pf}`;
  }

  /** Run `command` and what it needs before it (Portage's `ebuild` command). */
  async run(command: EbuildCommand): Promise<BuildResult> {
    if (command === "clean") {
      this.dir.clean();
      return { dir: this.dir, timings: this.timings };
    }
    if (command === "manifest" || command === "digest") {
      await this.timed("manifest", () => this.manifest());
      return { dir: this.dir, timings: this.timings };
    }
    if (command === "fetch") {
      await this.timed("fetch", () => this.fetch());
      return { dir: this.dir, timings: this.timings };
    }
    this.dir.prepare(path.dirname(this.pkg.ebuild), this.pkg.repo.location);
    if (command === "pretend") {
      await this.phase("pretend", true);
      return { dir: this.dir, timings: this.timings };
    }
    const phases = sourcePhases(this.pkg, this.settings);
    const target: SourcePhase = command === "instprep" || command === "package" ? "install" : (command as SourcePhase);
    const upto = phases.indexOf(target);
    const all = upto >= 0 ? phases.slice(0, upto + 1) : phases.filter((p) => SOURCE_PHASES.indexOf(p) <= SOURCE_PHASES.indexOf(target));
    // FEATURES=noauto (the ebuild command's): only the phase named, the phases before it left to the user
    const noauto = this.settings.features.has("noauto") && command !== "instprep" && command !== "package";
    const list = noauto ? all.filter((p) => p === target) : all;
    for (const p of list) await this.sourcePhase(p);
    if (command === "instprep" || command === "package") {
      await this.marked("instprep", async () => {
        this.writeBuildInfo();
        await this.instprep();
      });
    }
    if (command === "package") {
      await this.marked("package", async () => {
        const written = await writeBinpkg(this.pkg, this.settings, this.dir);
        this.binpkg = written;
        this.say(`>>> Binary package: ${written.path}`);
      });
    }
    return { dir: this.dir, timings: this.timings };
  }

  /**
   * Install from a binary package instead of building (--usepkg): the image, build-info and
   * saved environment come from it; pkg_setup runs with MERGE_TYPE=binary. Then pkg_preinst, the
   * merge and pkg_postinst go as for a build.
   */
  async fromBinpkg(match: BinpkgMatch): Promise<void> {
    this.dir.clean();
    this.dir.prepare(path.dirname(this.pkg.ebuild), this.pkg.repo.location);
    this.say(`>>> Extracting ${this.cpv} from ${match.path}`);
    await this.timed("extract", () => unpackBinpkg(match, this.dir).then(() => undefined));
    this.mergeType = "binary";
    if (!this.noop("setup")) await this.phase("setup", false, { mergeType: "binary" });
    for (const p of ["setup", "unpack", "prepare", "configure", "compile", "install", "instprep"] as const) this.dir.mark(p);
  }

  /** "binary" once the package comes from a binary package (the pkg_* phases' MERGE_TYPE). */
  mergeType: "source" | "binary" = "source";

  /**
   * Whether running a phase's bash would do nothing (so ouzo does not start one): the ebuild does
   * not define it, its default does nothing here (pkg_setup, pkg_preinst, pkg_postinst; src_unpack
   * with no distfile), and no bashrc could hold a pre_/post_ hook.
   */
  noop(phase: string): boolean {
    if (this.settings.bashrcs.some((f) => fs.existsSync(f))) return false;
    if (new Set((this.pkg.metadata.DEFINED_PHASES ?? "").split(/\s+/)).has(phase)) return false;
    if (phase === "unpack") return !this.pkg.distfiles.length;
    return ["setup", "preinst", "postinst", "pretend"].includes(phase);
  }

  private async sourcePhase(p: SourcePhase): Promise<void> {
    if (p === "unpack" && !this.dir.done("unpack")) {
      await this.timed("fetch", () => this.fetch());
      // a WORKDIR from an earlier, unfinished unpack is stale (spec §1.8)
      fs.rmSync(this.dir.work, { recursive: true, force: true });
      for (const later of ["prepare", "configure", "compile", "test", "install", "instprep", "package"] as const) fs.rmSync(this.dir.marker(later), { force: true });
      fs.mkdirSync(this.dir.work, { mode: 0o700, recursive: true });
      this.linkDistdir();
      if (this.user) handOver(this.dir, this.user);
    }
    if (this.noop(p) && !this.dir.done(p)) {
      // nothing to run: the marker says it is done, and the next phase sources the ebuild afresh
      this.dir.mark(p);
      this.timings.push({ phase: p, ms: 0 });
      return;
    }
    // noauto sources the ebuild afresh for each phase instead of the saved environment (§1.7)
    await this.marked(p, () => this.phase(p, p === "setup" || this.settings.features.has("noauto") || !fs.existsSync(this.dir.environment)));
  }

  private async marked(p: MarkedPhase, body: () => Promise<void>): Promise<void> {
    if (this.dir.done(p)) {
      this.timings.push({ phase: p, ms: 0, skipped: true });
      return;
    }
    if (p === "instprep" || p === "package") {
      await this.timed(p, body);
      this.dir.mark(p);
      return;
    }
    await body();
  }

  private async timed(phase: string, body: () => Promise<void> | void): Promise<void> {
    const t = performance.now();
    await body();
    this.timings.push({ phase, ms: performance.now() - t });
  }

  /** Fetch every file SRC_URI can name, whatever USE says, and write their DIST lines. */
  private async manifest(): Promise<void> {
    const entries = allLeaves(parseSrcUri(this.pkg.metadata.SRC_URI ?? "", eapiOf(this.pkg)));
    const hashes = manifestHashes(readLayoutConf(this.pkg.repo.location)).hashes;
    const mirrors = mirrorConfig(this.pkg, this.settings);
    const requests = distfileRequests(entries, new Set(this.pkg.restrict), new Map(), mirrors).map((r) => ({ ...r, manifest: undefined }));
    await fetchDistfiles(requests, { distdir: this.settings.distdir, allowMissingDigests: true, manifestHashes: hashes, pkg: this.cpv }, this.hooks.reporter);
    const file = await writeManifestDist(path.dirname(this.pkg.ebuild), this.settings.distdir, distfileNames(entries), hashes);
    this.say(`>>> Creating Manifest for ${path.dirname(file)}`);
  }

  private async fetch(): Promise<void> {
    const results = await fetchPackage(this.pkg, this.settings, this.hooks.reporter);
    const restricted = results.filter((r) => r.status === "restricted").map((r) => r.file);
    if (restricted.length) {
      // RESTRICT=fetch and the files are not there: pkg_nofetch says where to get them (spec §6.9)
      this.dir.prepare(path.dirname(this.pkg.ebuild), this.pkg.repo.location);
      await this.phase("nofetch", true);
      throw new OuzoError("fetch-restricted", `${this.cpv}: fetch-restricted; download ${restricted.join(", ")} by hand into ${this.settings.distdir}`);
    }
  }

  /** DISTDIR of the build: a symlink per file of A (spec §6.8). */
  private linkDistdir(): void {
    fs.rmSync(this.dir.distdir, { recursive: true, force: true });
    linkDistdir(this.dir.distdir, this.pkg.distfiles, this.settings.distdir);
  }

  /** instprep (spec §4): the image checked and fixed, SIZE and the ELF data in build-info. */
  private async instprep(): Promise<void> {
    const vars = readNulVars(path.join(this.dir.temp, ".ouzo_install_vars"));
    const v = (k: string) => vars.get(k) ?? this.settings.vars.get(k);
    const qa = Object.fromEntries([...vars].filter(([k]) => k.startsWith("QA_")));
    await processImage(
      {
        imageDir: this.dir.image,
        eprefix: "",
        eapi: eapiOf(this.pkg),
        category: this.pkg.category,
        pf: this.pkg.pf,
        features: this.settings.features,
        restrict: new Set(this.pkg.restrict),
        installMask: v("INSTALL_MASK"),
        pkgInstallMask: v("PKG_INSTALL_MASK"),
        docompress: readPathLists(path.join(this.dir.temp, ".ouzo_docompress")),
        dostrip: readPathLists(path.join(this.dir.temp, ".ouzo_dostrip")),
        stripMask: vars.get("STRIP_MASK"),
        qa,
        providesExclude: vars.get("PROVIDES_EXCLUDE"),
        requiresExclude: vars.get("REQUIRES_EXCLUDE"),
        compress: this.settings.vars.get("PORTAGE_COMPRESS"),
        compressFlags: this.settings.vars.get("PORTAGE_COMPRESS_FLAGS"),
        chost: this.settings.vars.get("CHOST"),
        stripFlags: this.settings.vars.get("PORTAGE_STRIP_FLAGS"),
        jobs: makeoptsJobs(this.settings.vars.get("MAKEOPTS")),
        cflags: v("CFLAGS"),
        multilibStrictDirs: this.settings.vars.get("MULTILIB_STRICT_DIRS"),
        multilibStrictDeny: this.settings.vars.get("MULTILIB_STRICT_DENY"),
        buildInfoDir: this.dir.buildInfo,
        buildLog: this.dir.log,
        qaLog: path.join(this.dir.temp, "qa.log"),
      },
      this.hooks.reporter ?? silentReporter,
    );
  }

  /** Run one phase's bash; a failure becomes an OuzoError naming the package, the phase and why. */
  async phase(phase: string, fresh: boolean, opts: { mergeType?: "source" | "binary" | "buildonly"; replacingVersions?: readonly string[]; replacedByVersion?: string } = {}): Promise<void> {
    const env = phaseEnvironment(this.pkg, this.settings, this.dir, { phase, fresh, ctlFd: CTL_FD, ...opts });
    this.phaseNow = phase;
    const header = HEADERS[phase];
    const realS = (readFileIfExists(path.join(this.dir.temp, ".ouzo_S")) ?? "").trim() || env.S!;
    const fill = (s: string) => s.replace("{WORKDIR}", env.WORKDIR!).replace("{S}", realS).replace("{D}", env.D!).replace("{CPV}", this.cpv);
    if (header) this.say(fill(header[0]));
    const as = this.user && runsAsBuildUser(phase, this.pkg) ? this.user : undefined;
    const rules = this.rules(phase, as);
    if (rules && rules.landlock !== "off") env.__OUZO_SANDBOXED = "1";
    const logStart = fs.existsSync(this.dir.log) ? fs.statSync(this.dir.log).size : 0;
    const result = await runPhase({
      phase,
      env,
      logFile: this.dir.log,
      dieFile: this.dir.dieFile,
      wrap: rules && ((argv) => wrapCommand(rules, argv)),
      // without the helper, the switch of user is node's (the helper switches itself otherwise)
      uid: rules ? undefined : as?.uid,
      gid: rules ? undefined : as?.gid,
      onOutput: this.hooks.onOutput,
      answer: (kind, root, atom) => this.answer(kind, root, atom),
    });
    this.timings.push({ phase, ms: result.ms });
    if (rules) {
      // a write the sandbox refused fails the phase, even when the build went on without it
      const log = fs.readFileSync(this.dir.log, "utf8").slice(logStart);
      const denied = collectViolations(rules, log, this.sandbox).filter(failsBuild);
      if (denied.length) {
        const lines = denied.map(describeViolation);
        for (const l of lines) this.say(l);
        if ((MARKED_PHASES as readonly string[]).includes(phase)) fs.rmSync(this.dir.marker(phase as MarkedPhase), { force: true });
        throw new OuzoError("sandbox-violation", `${this.cpv}: ${phaseFunction(phase)} was refused by the sandbox: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ""} (build log: ${this.dir.log})`);
      }
    }
    if (!result.ok) {
      const why = result.dieMessages.at(-1) ?? (result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`);
      if (this.hooks.quietBuild) {
        // the phase's output was not shown: its last lines say what went wrong
        const tail = fs.readFileSync(this.dir.log, "utf8").trimEnd().split("\n").slice(-15);
        for (const l of tail) this.hooks.onMessage?.(l);
      }
      throw new OuzoError("phase-failed", `${this.cpv}: ${phaseFunction(phase)} failed: ${why} (build log: ${this.dir.log})`);
    }
    if (header) this.say(fill(header[1]));
  }

  private say(line: string): void {
    if (fs.existsSync(this.dir.temp)) fs.appendFileSync(this.dir.log, `${line}\n`);
    this.hooks.onMessage?.(line);
  }

  private installed(root: string): InstalledPackage[] {
    let list = this.installedCache.get(root);
    if (!list) this.installedCache.set(root, (list = readInstalled(root)));
    return list;
  }

  /** has_version / best_version against the installed database of the root asked for (spec §3.13). */
  private answer(kind: QueryKind, root: QueryRoot, text: string): QueryAnswer {
    const atom = Atom.parse(text, eapiOf(this.pkg));
    // SYSROOT and BROOT are the build host; ROOT is where the package goes
    const list = this.installed(root === "r" ? this.settings.root : "/");
    const hits = list.filter((p) =>
      atom.matches({ category: p.category, package: p.package, version: p.version, slot: p.slot, subslot: p.subslot, repo: p.repo, use: new Set(p.use), iuse: new Set(p.iuse.map((f) => f.replace(/^[+-]/, ""))) }),
    );
    if (kind === "has_version") return hits.length ? "yes" : "no";
    if (!hits.length) return "none";
    const best = hits.reduce((a, b) => (compareVersions(b.version, a.version) > 0 ? b : a));
    return `best ${best.cpv}`;
  }

  /** build-info files of spec §4.9 that come from the metadata and the install shell. */
  writeBuildInfo(): void {
    const bi = this.dir.buildInfo;
    fs.mkdirSync(bi, { recursive: true });
    const line = (v: string) => `${v.trim().split(/\s+/).join(" ")}\n`;
    const put = (name: string, v: string | undefined, always = false) => {
      const norm = (v ?? "").trim();
      if (norm || always) fs.writeFileSync(path.join(bi, name), norm ? line(norm) : "\n");
    };
    const md = this.pkg.metadata;
    const vars = readNulVars(path.join(this.dir.temp, ".ouzo_install_vars"));
    put("CATEGORY", this.pkg.category);
    put("PF", this.pkg.pf);
    put("SLOT", md.SLOT || "0");
    put("EAPI", md.EAPI || "0", true);
    put("USE", [...this.pkg.use].sort().join(" "), true);
    put("IUSE", md.IUSE);
    if (eapiRow(eapiOf(this.pkg)).iuseEffectiveStrict) put("IUSE_EFFECTIVE", [...this.pkg.iuseEffective].sort().join(" "));
    for (const k of ["DEFINED_PHASES", "INHERITED", "KEYWORDS", "HOMEPAGE", "DESCRIPTION"]) put(k, md[k]);
    // dependencies and licences as built: conditionals evaluated, := bound (spec §9.3)
    const use = new Set(this.pkg.use);
    const installed = { target: this.installed(this.settings.root), host: this.installed("/") };
    for (const k of BOUND_KEYS) {
      const v = boundValue(k, md[k] ?? "", eapiOf(this.pkg), use, installed);
      if (v) put(k, v);
      else fs.rmSync(path.join(bi, k), { force: true });
    }
    put("FEATURES", [...this.settings.features].sort().join(" "));
    for (const [k, v] of vars) put(k, v);
    put("CHOST", this.settings.vars.get("CHOST"));
    put("repository", this.pkg.repo.name);
    put("BUILD_TIME", String(Math.floor(Date.now() / 1000)));
    fs.copyFileSync(this.pkg.ebuild, path.join(bi, `${this.pkg.pf}.ebuild`));
    if (this.settings.features.has("nostrip") || this.pkg.restrict.includes("strip")) fs.writeFileSync(path.join(bi, "DEBUGBUILD"), "");
    const env = installEnvironment(this.dir);
    if (env) writeEnvironmentBz2(env, path.join(bi, "environment.bz2"), this.cpv);
  }
}

/** environment.bz2 of a vdb entry made again from the last pkg_*inst phase's state (PORTAGE_UPDATE_ENV). */
export function updateVdbEnvironment(dir: BuildDir, vdbEntryDir: string): void {
  const env = installEnvironment(dir);
  if (!env || !fs.existsSync(vdbEntryDir)) return;
  try {
    writeEnvironmentBz2(env, path.join(vdbEntryDir, "environment.bz2"), vdbEntryDir);
  } catch {
    // the entry keeps the environment of src_install: pkg_prerm still has what it needs
  }
}

function readNulVars(file: string): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return out;
  }
  for (const rec of text.split("\0")) {
    const i = rec.indexOf("=");
    if (i > 0) out.set(rec.slice(0, i), rec.slice(i + 1));
  }
  return out;
}

export function phaseFunction(phase: string): string {
  return ["pretend", "setup", "preinst", "postinst", "prerm", "postrm", "config", "info", "nofetch"].includes(phase) ? `pkg_${phase}` : `src_${phase}`;
}
