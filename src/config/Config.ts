import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { exists, isDirectory, readFileIfExists, recordInputs } from "../core/fsutil.js";
import type { Reporter } from "../core/reporter.js";
import { silentReporter } from "../core/reporter.js";
import { packagePath } from "../core/paths.js";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI, eapiFeatures, isSupportedEapi, type EapiFeatures } from "../pms/eapi.js";
import { parseLicense, parsePlainTokens, reduce, unacceptedLicenses, type DepNode } from "../pms/depspec.js";
import type { Version } from "../pms/version.js";
import { type AtomLine, atomLine, type ConfigLine, DirCache, indexByCp, knownAtomLine, linesFor, parseAtomLines, readConfigEntry, readConfigLines, specificity, stackTokens } from "./configFiles.js";
import { buildProfileStack, type ProfileEntry } from "./profileStack.js";
import { loadRepositories, makeRepositorySet, type Repository, type RepositorySet } from "./repositories.js";
import { type Assignment, readMakeConf, readShellVars, tokens } from "./shellVars.js";
import { readSnapshot, type SnapshotPlace, snapshotWritable, writeSnapshot } from "./snapshot.js";

/** ouzo's own defaults (what Portage keeps in make.globals). */
const ouzoProfilesDir = () => packagePath("profiles");

/** Incremental variables of MARK's Portage, plus Funtoo's TRACK_KEYWORDS and DENY_KEYWORDS. */
export const INCREMENTALS = new Set([
  "ACCEPT_KEYWORDS", "CONFIG_PROTECT", "CONFIG_PROTECT_MASK", "ENV_UNSET", "FEATURES", "IUSE_IMPLICIT", "PRELINK_PATH",
  "PRELINK_PATH_MASK", "PROFILE_ONLY_VARIABLES", "USE", "USE_EXPAND", "USE_EXPAND_HIDDEN", "USE_EXPAND_IMPLICIT",
  "USE_EXPAND_UNPREFIXED", "TRACK_KEYWORDS", "DENY_KEYWORDS",
]);
/** Stacked like incrementals but kept as ordered token lists, evaluated per package. */
const ORDERED_LISTS = new Set(["ACCEPT_LICENSE", "ACCEPT_PROPERTIES", "ACCEPT_RESTRICT"]);
/** Read from the profile layer only. */
const PROFILE_LAYER_ONLY = new Set(["TRACK_KEYWORDS", "DENY_KEYWORDS"]);

export interface ConfigOptions {
  /** Where packages are installed (Portage's ROOT). */
  readonly root?: string;
  /** Where /etc/portage is read from (Portage's PORTAGE_CONFIGROOT). */
  readonly configRoot?: string;
  /** The environment layer (USE, ACCEPT_KEYWORDS, …); the process environment is not read unless passed. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly reporter?: Reporter;
  /** Use these repositories instead of reading repos.conf. */
  readonly repositories?: RepositorySet;
}

/** What configuration needs to know about a package to decide its USE and visibility. */
export interface PackageInput {
  readonly category: string;
  readonly package: string;
  readonly version: Version;
  readonly slot: string;
  readonly subslot?: string;
  readonly repo: string;
  readonly eapi: string;
  /** IUSE tokens as written (`+flag`, `-flag`, `flag`). */
  readonly iuse: readonly string[];
  readonly keywords: readonly string[];
  readonly license: string;
  readonly properties?: string;
  readonly restrict?: string;
}

export type MaskReason =
  | { readonly kind: "package.mask"; readonly file: string; readonly line: number; readonly atom: string }
  | { readonly kind: "profile-packages"; readonly file: string; readonly line: number }
  | { readonly kind: "keyword"; readonly keywords: readonly string[]; readonly detail: string }
  | { readonly kind: "license"; readonly licenses: readonly string[] }
  | { readonly kind: "eapi"; readonly eapi: string }
  | { readonly kind: "properties" | "restrict"; readonly tokens: readonly string[] };

export interface UseState {
  /** Effective USE restricted to IUSE and implicit flags, sorted. */
  readonly enabled: readonly string[];
  readonly disabled: readonly string[];
  readonly masked: readonly string[];
  readonly forced: readonly string[];
  /** Every enabled flag including implicit ones (arch, USE_EXPAND_IMPLICIT). */
  readonly all: ReadonlySet<string>;
}

interface EntryFiles {
  entry: ProfileEntry;
  useTokens: string[];
  useMask: string[];
  useForce: string[];
  useStableMask: string[];
  useStableForce: string[];
  packageUse: Map<string, AtomLine[]>;
  packageUseMask: Map<string, AtomLine[]>;
  packageUseForce: Map<string, AtomLine[]>;
  packageUseStableMask: Map<string, AtomLine[]>;
  packageUseStableForce: Map<string, AtomLine[]>;
  packageKeywords: Map<string, AtomLine[]>;
  packageAcceptKeywords: Map<string, AtomLine[]>;
  packageMask: AtomLine[];
  packageUnmask: AtomLine[];
  packages: AtomLine[];
}

interface RepoFiles {
  masks: AtomLine[];
  unmasks: AtomLine[];
  useMask: string[];
  useForce: string[];
  packageUseMask: AtomLine[];
  packageUseForce: AtomLine[];
  packageUse: AtomLine[];
  useTokens: string[];
  licenseGroups: string[][];
}

interface RepoLevel {
  /** master lines then own lines, `-atom` applied: restricted to this repository. */
  masks: AtomLine[];
  unmasks: AtomLine[];
  useMask: string[];
  useForce: string[];
  packageUseMask: Map<string, AtomLine[]>;
  packageUseForce: Map<string, AtomLine[]>;
  useTokens: string[];
  packageUse: Map<string, AtomLine[]>;
  licenseGroups: Map<string, string[]>;
}

// --- the snapshot's data (Config.load) ---

/**
 * Atom lines, one per text line: key, cp, EAPI (index), negated (0/1), file (index), line number
 * and the tokens (space-separated), separated by tabs. Atoms, names and tokens have no
 * whitespace, and file names are in a table: one JSON string per list parses far faster than
 * an array per line.
 */
type EncodedLine = string;

interface EncodedEntryFiles {
  useMask: string[];
  useForce: string[];
  useStableMask: string[];
  useStableForce: string[];
  packageUse: EncodedLine;
  packageUseMask: EncodedLine;
  packageUseForce: EncodedLine;
  packageUseStableMask: EncodedLine;
  packageUseStableForce: EncodedLine;
  packageKeywords: EncodedLine;
  packageAcceptKeywords: EncodedLine;
  packageMask: EncodedLine;
  packageUnmask: EncodedLine;
  packages: EncodedLine;
}

interface EncodedRepoFiles {
  masks: EncodedLine;
  /** The lines of `masks` left after their own `-atom` lines (maskCount). */
  maskCount: number;
  unmasks: EncodedLine;
  useMask: string[];
  useForce: string[];
  packageUseMask: EncodedLine;
  packageUseForce: EncodedLine;
  packageUse: EncodedLine;
  useTokens: string[];
  licenseGroups: string[][];
}

type Pairs = [string, string[]][];

export interface ConfigSnapshotData {
  repos: { mainRepo: string | null; list: (Omit<Repository, "layout"> & { layout: [string, string][] })[] };
  /** dir, repository name, EAPI (index), allowDirectories, allowRepoAtoms, user. */
  stack: [string, string | null, number, boolean, boolean, boolean][];
  layerVars: { globals: Pairs; profile: Pairs[]; conf: Pairs; env: Pairs };
  vars: [string, string][];
  useExpand: string[];
  acceptKeywords: string[];
  trackKeywords: string[];
  denyKeywords: string[];
  implicitFlags: string[];
  /** The files of each distinct profile directory. */
  dirFiles: EncodedEntryFiles[];
  /** Stack position, its directory's files (index), the USE tokens of its make.defaults. */
  entries: [number, number, string[]][];
  user: { masks: EncodedLine; unmasks: EncodedLine; packageUse: EncodedLine; acceptKeywords: EncodedLine; license: EncodedLine; packageEnv: EncodedLine };
  userSets: [string, string[]][];
  confUseTokens: string[];
  envUseTokens: string[];
  globalUse: string[];
  globalUseMask: string[];
  globalUseForce: string[];
  repoFiles: [string, EncodedRepoFiles][];
  warnings: string[];
  reported: [string, string][];
  files: string[];
  eapis: EapiFeatures[];
}

/** Atom lines to EncodedLine, sharing one table of file names and one of EAPIs. */
class LineEncoder {
  readonly files: string[] = [];
  readonly eapis: EapiFeatures[] = [];
  private readonly fileIdx = new Map<string, number>();
  private readonly eapiIdx = new Map<EapiFeatures, number>();
  private readonly eapiByValue = new Map<string, number>();

  eapi(f: EapiFeatures): number {
    let i = this.eapiIdx.get(f);
    if (i === undefined) {
      const value = JSON.stringify(f);
      i = this.eapiByValue.get(value);
      if (i === undefined) {
        this.eapiByValue.set(value, (i = this.eapis.length));
        this.eapis.push(f);
      }
      this.eapiIdx.set(f, i);
    }
    return i;
  }

  lines(ls: readonly AtomLine[]): EncodedLine {
    return ls
      .map((l) => {
        let file = this.fileIdx.get(l.file);
        if (file === undefined) {
          this.fileIdx.set(l.file, (file = this.files.length));
          this.files.push(l.file);
        }
        return `${l.key}\t${l.cp}\t${this.eapi(l.eapi)}\t${l.negated ? 1 : 0}\t${file}\t${l.line}\t${l.tokens.join(" ")}`;
      })
      .join("\n");
  }

  /** An index by cp as its lines; indexByCp of them gives the same index back. */
  index(m: ReadonlyMap<string, readonly AtomLine[]>): EncodedLine {
    return this.lines([...m.values()].flat());
  }
}

const NO_TOKENS: readonly string[] = Object.freeze([]);

class LineDecoder {
  constructor(
    private readonly files: readonly string[],
    private readonly eapis: readonly EapiFeatures[],
  ) {}

  eapi(i: number): EapiFeatures {
    const f = this.eapis[i];
    if (!f) throw new Error(`snapshot has no EAPI ${i}`);
    return f;
  }

  lines(es: EncodedLine): AtomLine[] {
    if (!es) return [];
    return es.split("\n").map((l) => {
      const [key, cp, eapi, negated, file, line, toks] = l.split("\t") as [string, string, string, string, string, string, string];
      return knownAtomLine(key, this.eapi(+eapi), cp, negated === "1", toks ? toks.split(" ") : NO_TOKENS, this.files[+file]!, +line);
    });
  }

  index(es: EncodedLine): Map<string, AtomLine[]> {
    return indexByCp(this.lines(es));
  }
}

/**
 * The whole configuration as Portage evaluates it: make.globals, the profile stack, make.conf,
 * the environment and /etc/portage's package files. Pure values after construction.
 */
export class Config {
  readonly root: string;
  readonly configRoot: string;
  readonly portageDir: string;
  readonly repos: RepositorySet;
  readonly stack: readonly ProfileEntry[];
  /** Effective variable values (incrementals joined by spaces). */
  readonly vars: ReadonlyMap<string, string>;
  readonly useExpand: readonly string[];
  /** Effective global USE (sorted). */
  readonly globalUse: readonly string[];
  readonly globalUseMask: readonly string[];
  readonly globalUseForce: readonly string[];
  readonly system: readonly Atom[];
  readonly userSets: ReadonlyMap<string, readonly Atom[]>;
  readonly warnings: string[] = [];
  /** Read back from a snapshot (Config.load) rather than evaluated. */
  readonly fromSnapshot: boolean;

  private readonly reporter: Reporter;
  private readonly dirs = new DirCache();
  private readonly entries: EntryFiles[] = [];
  private readonly layerVars: { globals: Map<string, string[]>; profile: Map<string, string[]>[]; conf: Map<string, string[]>; env: Map<string, string[]> };
  private readonly repoLevel = new Map<string, RepoLevel>();
  private readonly repoFiles = new Map<string, RepoFiles>();
  private readonly profileMasks: AtomLine[] = [];
  private readonly profileUnmasks: AtomLine[] = [];
  private readonly profilePackages: AtomLine[] = [];
  private readonly userMasks: AtomLine[] = [];
  private readonly userUnmasks: AtomLine[] = [];
  private readonly maskIndex: Map<string, AtomLine[]>;
  private readonly unmaskIndex: Map<string, AtomLine[]>;
  private readonly packagesIndex: Map<string, AtomLine[]>;
  private readonly userPackageUse: Map<string, AtomLine[]>;
  private readonly userAcceptKeywords: Map<string, AtomLine[]>;
  private readonly userLicense: Map<string, AtomLine[]>;
  private readonly userPackageEnv: Map<string, AtomLine[]>;
  private readonly confUseTokens: string[];
  private readonly envUseTokens: string[];
  private readonly acceptKeywords: readonly string[];
  private readonly trackKeywords: ReadonlySet<string>;
  private readonly denyKeywords: ReadonlySet<string>;
  private readonly implicitFlags: Set<string>;
  /** Warnings reported while the configuration was evaluated: a snapshot reports them again. */
  private readonly reported: [string, string][] = [];
  /** Repository files read back from a snapshot, decoded when first asked for. */
  private readonly encodedRepoFiles = new Map<string, { files: EncodedRepoFiles; decoder: LineDecoder }>();

  constructor(opts: ConfigOptions = {}, restored?: ConfigSnapshotData) {
    this.root = path.resolve(opts.root ?? "/");
    this.configRoot = path.resolve(opts.configRoot ?? this.root);
    this.portageDir = path.join(this.configRoot, "etc", "portage");
    this.reporter = opts.reporter ?? silentReporter;
    if (restored) {
      // A snapshot (see snapshot.ts) of an earlier evaluation whose inputs are all unchanged.
      const s = restored;
      this.fromSnapshot = true;
      const d = new LineDecoder(s.files, s.eapis);
      this.repos = makeRepositorySet(
        s.repos.list.map((r) => ({ ...r, layout: new Map(r.layout) })),
        s.repos.mainRepo ?? undefined,
      );
      const repoNamed = (name: string | null) => {
        if (name === null) return undefined;
        const r = this.repos.get(name);
        if (!r) throw new Error(`snapshot names an unknown repository '${name}'`);
        return r;
      };
      this.stack = s.stack.map(([dir, repo, eapi, allowDirectories, allowRepoAtoms, user]) => ({ dir, repo: repoNamed(repo), eapi: d.eapi(eapi), allowDirectories, allowRepoAtoms, user }));
      const maps = (m: [string, string[]][]) => new Map(m);
      this.layerVars = { globals: maps(s.layerVars.globals), profile: s.layerVars.profile.map(maps), conf: maps(s.layerVars.conf), env: maps(s.layerVars.env) };
      this.vars = new Map(s.vars);
      this.useExpand = s.useExpand;
      this.acceptKeywords = s.acceptKeywords;
      this.trackKeywords = new Set(s.trackKeywords);
      this.denyKeywords = new Set(s.denyKeywords);
      this.implicitFlags = new Set(s.implicitFlags);
      const dirFiles = s.dirFiles.map((f) => ({
        useMask: f.useMask,
        useForce: f.useForce,
        useStableMask: f.useStableMask,
        useStableForce: f.useStableForce,
        packageUse: d.index(f.packageUse),
        packageUseMask: d.index(f.packageUseMask),
        packageUseForce: d.index(f.packageUseForce),
        packageUseStableMask: d.index(f.packageUseStableMask),
        packageUseStableForce: d.index(f.packageUseStableForce),
        packageKeywords: d.index(f.packageKeywords),
        packageAcceptKeywords: d.index(f.packageAcceptKeywords),
        packageMask: d.lines(f.packageMask),
        packageUnmask: d.lines(f.packageUnmask),
        packages: d.lines(f.packages),
      }));
      for (const [at, fileIdx, useTokens] of s.entries) {
        const files: EntryFiles = { ...dirFiles[fileIdx]!, entry: this.stack[at]!, useTokens };
        this.entries.push(files);
        this.profileMasks.push(...files.packageMask);
        this.profileUnmasks.push(...files.packageUnmask);
        this.profilePackages.push(...files.packages);
      }
      this.userMasks = d.lines(s.user.masks);
      this.userUnmasks = d.lines(s.user.unmasks);
      this.userPackageUse = d.index(s.user.packageUse);
      this.userAcceptKeywords = d.index(s.user.acceptKeywords);
      this.userLicense = d.index(s.user.license);
      this.userPackageEnv = d.index(s.user.packageEnv);
      this.userSets = new Map(s.userSets.map(([name, atoms]) => [name, atoms.map((a) => Atom.parse(a, USER_CONFIG_EAPI))]));
      this.confUseTokens = s.confUseTokens;
      this.envUseTokens = s.envUseTokens;
      this.globalUse = s.globalUse;
      this.globalUseMask = s.globalUseMask;
      this.globalUseForce = s.globalUseForce;
      for (const [name, files] of s.repoFiles) this.encodedRepoFiles.set(name, { files, decoder: d });
      this.warnings.push(...s.warnings);
      for (const [code, message] of s.reported) this.report(code, message);
    } else {
      this.fromSnapshot = false;
      const warn = (message: string, file: string, line: number) => {
        const text = `${file}:${line}: ${message}`;
        this.warnings.push(text);
        this.report("PROFILE_LINE", text);
      };

      this.repos = opts.repositories ?? loadRepositories(path.join(this.portageDir, "repos.conf"), this.configRoot);

      // Variables: make.globals < each make.defaults < make.conf < environment.
      const scope = new Map<string, string>();
      for (const a of readEnvFile(path.join(this.configRoot, "etc", "profile.env"))) scope.set(a.name, a.value);
      const globals = readShellVars(path.join(ouzoProfilesDir(), "make.globals"), { scope });

      const makeProfile = path.join(this.portageDir, "make.profile");
      if (!exists(makeProfile)) throw new OuzoError("NO_PROFILE", "no profile selected (make.profile does not exist): choose one with 'ouzo profile arch NAME', after 'ouzo profile list'", { file: makeProfile });
      this.stack = buildProfileStack(makeProfile, path.join(this.portageDir, "profile"), this.repos, this.dirs);

      const defaultsText = new Map<string, string>();
      const profileLayers: Assignment[][] = [];
      for (const e of this.stack) {
        // Re-evaluated at each position: expansion sees the scope as it is at that point of the stack.
        const file = this.dirs.entry(e.dir, "make.defaults");
        if (!file) {
          profileLayers.push([]);
          continue;
        }
        let text = defaultsText.get(file);
        if (text === undefined) defaultsText.set(file, (text = readFileIfExists(file) ?? ""));
        profileLayers.push(text ? readShellVars(file, { scope }, text) : []);
      }
      const conf = readMakeConf(this.portageDir, scope);
      const env = new Map<string, string[]>();
      for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env.set(k, [v]);

      const toMap = (as: Assignment[]) => {
        const m = new Map<string, string[]>();
        for (const a of as) {
          const arr = m.get(a.name) ?? [];
          arr.push(a.value);
          m.set(a.name, arr);
        }
        return m;
      };
      this.layerVars = { globals: toMap(globals), profile: profileLayers.map(toMap), conf: toMap(conf), env };

      const profileOnly = new Set(this.stackIncremental("PROFILE_ONLY_VARIABLES", false));
      const vars = new Map<string, string>();
      const names = new Set<string>([...this.layerVars.globals.keys(), ...this.layerVars.conf.keys(), ...env.keys()]);
      for (const m of this.layerVars.profile) for (const k of m.keys()) names.add(k);
      for (const name of names) {
        if (INCREMENTALS.has(name)) vars.set(name, this.stackIncremental(name, PROFILE_LAYER_ONLY.has(name) || profileOnly.has(name)).join(" "));
        else if (ORDERED_LISTS.has(name)) vars.set(name, this.orderedList(name).join(" "));
        else {
          const v = this.lastValue(name, profileOnly.has(name));
          if (v !== undefined) vars.set(name, v);
        }
      }
      this.useExpand = this.stackIncremental("USE_EXPAND", false);
      const unprefixed = this.stackIncremental("USE_EXPAND_UNPREFIXED", false);
      this.acceptKeywords = this.stackIncremental("ACCEPT_KEYWORDS", false);
      this.trackKeywords = new Set(this.stackIncremental("TRACK_KEYWORDS", true));
      this.denyKeywords = new Set(this.stackIncremental("DENY_KEYWORDS", true));

      // Profile files, parsed once per directory and applied at each position.
      const parsed = new Map<string, EntryFiles>();
      this.stack.forEach((e, idx) => {
        const cached = parsed.get(e.dir);
        const files = cached ? { ...cached, entry: e } : this.readEntry(e, warn);
        files.useTokens = this.profileUseTokens(profileLayers[idx]!, unprefixed);
        const deprecated = cached ? undefined : this.dirs.entry(e.dir, "deprecated");
        if (deprecated) {
          const [replacement, ...why] = (readFileIfExists(deprecated) ?? "").split("\n");
          const text = `profile ${e.dir} is deprecated${replacement?.trim() ? `; use ${replacement.trim()}` : ""}${why.join(" ").trim() ? ` (${why.join(" ").trim()})` : ""}`;
          this.warnings.push(text);
          this.report("DEPRECATED_PROFILE", text);
        }
        parsed.set(e.dir, files);
        this.entries.push(files);
        this.profileMasks.push(...files.packageMask);
        this.profileUnmasks.push(...files.packageUnmask);
        this.profilePackages.push(...files.packages);
      });

      // User configuration (/etc/portage): a bad line is reported with its file and line and
      // skipped, as Portage does; one typo must not stop every command.
      const user = (name: string, negation = false) =>
        parseAtomLines(readConfigEntry(this.dirs, this.portageDir, name, true), USER_CONFIG_EAPI, (m, f, l) => warn(`${m}; line skipped`, f, l), negation);
      this.userMasks = user("package.mask");
      this.userUnmasks = user("package.unmask");
      this.userPackageUse = indexByCp(user("package.use"));
      this.userAcceptKeywords = indexByCp([...user("package.keywords"), ...user("package.accept_keywords")]);
      this.userLicense = indexByCp(user("package.license"));
      this.userPackageEnv = indexByCp(user("package.env"));
      this.userSets = this.readUserSets();

      this.confUseTokens = this.nonProfileUseTokens(this.layerVars.conf);
      this.envUseTokens = this.nonProfileUseTokens(env);

      const arch = vars.get("ARCH");
      this.implicitFlags = new Set([...this.stackIncremental("IUSE_IMPLICIT", false), ...(arch ? [arch] : [])]);

      // Global view (no package): defaults, conf, env; then force, arch, mask.
      const use = new Set<string>();
      if (tokens(vars.get("FEATURES")).includes("test")) use.add("test");
      for (const e of this.entries) applyUse(use, e.useTokens);
      applyUse(use, this.confUseTokens);
      applyUse(use, this.envUseTokens);
      const mainRepo = this.repos.mainRepo ? this.repos.get(this.repos.mainRepo) : undefined;
      const repoLevel = mainRepo ? this.repoLevelOf(mainRepo) : undefined;
      const force = new Set<string>(repoLevel?.useForce ?? []);
      const mask = new Set<string>(repoLevel?.useMask ?? []);
      for (const e of this.entries) {
        stackTokens(force, e.useForce);
        stackTokens(mask, e.useMask);
      }
      for (const f of force) use.add(f);
      if (arch) use.add(arch);
      for (const f of mask) use.delete(f);
      this.globalUse = [...use].sort();
      this.globalUseMask = [...mask].sort();
      this.globalUseForce = [...force].sort();

      // USE_EXPAND variables are regenerated from the final USE, as Portage shows them.
      for (const v of this.useExpand) {
        const prefix = v.toLowerCase() + "_";
        const values = [...use].filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length));
        if (values.length || vars.has(v)) vars.set(v, values.join(" "));
      }
      vars.set("USE", this.globalUse.join(" "));
      this.vars = vars;
    }

    // Indexes derived from the lines above.
    const masks = applyNegations(this.profileMasks);
    const unmasks = applyNegations(this.profileUnmasks);
    this.maskIndex = indexByCp([...masks, ...this.userMasks]);
    this.unmaskIndex = indexByCp([...unmasks, ...this.userUnmasks]);
    const packages = applyNegations(this.profilePackages);
    this.packagesIndex = indexByCp(packages);
    this.system = packages.filter((l) => l.tokens.includes("*")).map((l) => l.atom);
  }

  /**
   * The configuration of `opts`, from the snapshot at `place` when none of the files it was
   * computed from changed; otherwise evaluated, and the snapshot rewritten (best effort).
   */
  static load(opts: ConfigOptions, place: SnapshotPlace): Config {
    const restored = readSnapshot(place) as ConfigSnapshotData | undefined;
    const info = (message: string) => opts.reporter?.report({ kind: "info", message });
    if (restored) {
      try {
        const config = new Config(opts, restored);
        info(`configuration read back from ${place.file}: none of its inputs changed`);
        return config;
      } catch {
        // a snapshot this build cannot read back: evaluate afresh and replace it
      }
    }
    const began = Date.now();
    const { value: config, inputs } = recordInputs(() => new Config(opts));
    if (!snapshotWritable(place)) {
      info(`configuration evaluated from ${inputs.size} paths; no snapshot: ${path.dirname(place.file)} is not writable`);
      return config;
    }
    let written = false;
    try {
      // every repository's own files go into the snapshot (most commands count or match them all)
      const { value: data, inputs: more } = recordInputs(() => config.toSnapshot());
      for (const p of more) inputs.add(p);
      written = writeSnapshot(place, inputs, data, began);
    } catch {
      // a repository file this command did not need is unreadable: no snapshot this time
    }
    info(`configuration evaluated from ${inputs.size} paths; ${written ? `snapshot written to ${place.file}` : "no snapshot written (an input changed just now, or the cache directory could not be written)"}`);
    return config;
  }

  private report(code: string, message: string): void {
    this.reported.push([code, message]);
    this.reporter.report({ kind: "warning", code, message });
  }

  /** Everything the constructor computed, as plain data for JSON (see load()). */
  private toSnapshot(): ConfigSnapshotData {
    for (const r of this.repos.repos) this.repoFilesOf(r);
    const e = new LineEncoder();
    const dirIdx = new Map<readonly AtomLine[], number>();
    const dirFiles: EncodedEntryFiles[] = [];
    const entries: [number, number, string[]][] = this.entries.map((f) => {
      let i = dirIdx.get(f.packageMask);
      if (i === undefined) {
        dirIdx.set(f.packageMask, (i = dirFiles.length));
        dirFiles.push({
          useMask: f.useMask,
          useForce: f.useForce,
          useStableMask: f.useStableMask,
          useStableForce: f.useStableForce,
          packageUse: e.index(f.packageUse),
          packageUseMask: e.index(f.packageUseMask),
          packageUseForce: e.index(f.packageUseForce),
          packageUseStableMask: e.index(f.packageUseStableMask),
          packageUseStableForce: e.index(f.packageUseStableForce),
          packageKeywords: e.index(f.packageKeywords),
          packageAcceptKeywords: e.index(f.packageAcceptKeywords),
          packageMask: e.lines(f.packageMask),
          packageUnmask: e.lines(f.packageUnmask),
          packages: e.lines(f.packages),
        });
      }
      return [this.stack.indexOf(f.entry), i, f.useTokens];
    });
    const pairs = (m: ReadonlyMap<string, string[]>) => [...m];
    return {
      repos: { mainRepo: this.repos.mainRepo ?? null, list: this.repos.repos.map((r) => ({ ...r, layout: [...r.layout] })) },
      stack: this.stack.map((p) => [p.dir, p.repo?.name ?? null, e.eapi(p.eapi), p.allowDirectories, p.allowRepoAtoms, p.user]),
      layerVars: { globals: pairs(this.layerVars.globals), profile: this.layerVars.profile.map(pairs), conf: pairs(this.layerVars.conf), env: pairs(this.layerVars.env) },
      vars: [...this.vars],
      useExpand: [...this.useExpand],
      acceptKeywords: [...this.acceptKeywords],
      trackKeywords: [...this.trackKeywords],
      denyKeywords: [...this.denyKeywords],
      implicitFlags: [...this.implicitFlags],
      dirFiles,
      entries,
      user: {
        masks: e.lines(this.userMasks),
        unmasks: e.lines(this.userUnmasks),
        packageUse: e.index(this.userPackageUse),
        acceptKeywords: e.index(this.userAcceptKeywords),
        license: e.index(this.userLicense),
        packageEnv: e.index(this.userPackageEnv),
      },
      userSets: [...this.userSets].map(([name, atoms]) => [name, atoms.map((a) => a.toString())]),
      confUseTokens: this.confUseTokens,
      envUseTokens: this.envUseTokens,
      globalUse: [...this.globalUse],
      globalUseMask: [...this.globalUseMask],
      globalUseForce: [...this.globalUseForce],
      repoFiles: [...this.repoFiles].map(([name, f]) => [
        name,
        {
          masks: e.lines(f.masks),
          maskCount: applyNegations(f.masks).length,
          unmasks: e.lines(f.unmasks),
          useMask: f.useMask,
          useForce: f.useForce,
          packageUseMask: e.lines(f.packageUseMask),
          packageUseForce: e.lines(f.packageUseForce),
          packageUse: e.lines(f.packageUse),
          useTokens: f.useTokens,
          licenseGroups: f.licenseGroups,
        },
      ]),
      warnings: [...this.warnings],
      reported: [...this.reported],
      files: e.files,
      eapis: e.eapis,
    };
  }

  get arch(): string | undefined {
    return this.vars.get("ARCH");
  }

  /** Every mask atom in effect (repository-level lines of each repository, profile, user). */
  maskCount(): number {
    let n = 0;
    for (const r of this.repos.repos) {
      // a snapshot knows the count without decoding the lines
      const encoded = this.repoFiles.has(r.name) ? undefined : this.encodedRepoFiles.get(r.name);
      n += encoded ? encoded.files.maskCount : applyNegations(this.repoFilesOf(r).masks).length;
    }
    return n + applyNegations(this.profileMasks).length + this.userMasks.length;
  }

  /**
   * USE, forced and masked sets already computed for packages that no package-specific line
   * touches: the answer then depends only on the repository, the IUSE (with its defaults) and
   * whether the package is stable. A resolver asks for thousands of versions; with a MARK-sized
   * stack (75 entries) each answer costs ~0.2 ms to compute.
   */
  private readonly useMemo = new Map<string, ReadonlySet<string>>();
  private readonly forceMaskMemo = new Map<string, { force: ReadonlySet<string>; mask: ReadonlySet<string> }>();
  private readonly useStateMemo = new Map<string, UseState>();

  private lineIndex?: { readonly cps: ReadonlySet<string>; readonly extended: boolean };

  /**
   * Whether any USE-related line (package.use, package.use.force/mask and their stable forms, of
   * the package's repository level and every stack entry, /etc/portage package.use and
   * package.env) may name `cp`: when none does, useFor need not ask 75 entries' indexes about it.
   */
  private namedByLines(cp: string, level: RepoLevel | undefined): boolean {
    if (!this.lineIndex) {
      const maps: ReadonlyMap<string, readonly AtomLine[]>[] = [this.userPackageUse, this.userPackageEnv];
      for (const e of this.entries) maps.push(e.packageUse, e.packageUseForce, e.packageUseMask, e.packageUseStableForce, e.packageUseStableMask);
      const cps = new Set<string>();
      for (const m of maps) for (const k of m.keys()) cps.add(k);
      this.lineIndex = { cps, extended: cps.has("*") };
    }
    if (this.lineIndex.extended || this.lineIndex.cps.has(cp)) return true;
    // the package's own repository level (its profiles/ files, and its masters')
    return !!level && [level.packageUse, level.packageUseForce, level.packageUseMask].some((m) => m.has(cp) || m.has("*"));
  }

  /** Effective USE of a package with masked and forced flags (Portage USE_ORDER). */
  useFor(pkg: PackageInput): UseState {
    const cp = `${pkg.category}/${pkg.package}`;
    const repo = this.repos.get(pkg.repo);
    const level = repo ? this.repoLevelOf(repo) : undefined;
    const iuseNames = pkg.iuse.map((f) => (f.startsWith("+") || f.startsWith("-") ? f.slice(1) : f));
    const iuseSet = new Set(iuseNames);
    const ctx = { iuse: iuseNames };

    // the lines that name this package, in the order they apply (none to look for, most often)
    const named = this.namedByLines(cp, level);
    if (!named) {
      const fast = this.unnamedUseFor(pkg, cp, level, iuseNames);
      if (fast) return fast;
    }
    const levelUse = level && named ? matching(level.packageUse, cp, pkg) : [];
    const entryUse = named ? this.entries.map((e) => matching(e.packageUse, cp, pkg)) : [];
    const envLines = named ? matching(this.userPackageEnv, cp, pkg) : [];
    const userUse = named ? matching(this.userPackageUse, cp, pkg) : [];
    const useKey = levelUse.length || envLines.length || userUse.length || entryUse.some((l) => l.length) ? undefined : `${pkg.repo}\0${pkg.iuse.join(" ")}`;
    let use: Set<string>;
    const memoUse = useKey === undefined ? undefined : this.useMemo.get(useKey);
    if (memoUse) use = new Set(memoUse);
    else {
      use = new Set<string>();
      if (level) {
        applyUse(use, level.useTokens, ctx);
        for (const l of levelUse) applyUse(use, l.tokens, ctx);
      }
      if (tokens(this.vars.get("FEATURES")).includes("test") && iuseSet.has("test")) use.add("test");
      for (const f of pkg.iuse) {
        if (f.startsWith("+")) use.add(f.slice(1));
        else if (f.startsWith("-")) use.delete(f.slice(1));
      }
      this.entries.forEach((e, i) => {
        applyUse(use, e.useTokens, ctx);
        for (const l of entryUse[i] ?? []) applyUse(use, l.tokens, ctx);
      });
      applyUse(use, this.confUseTokens, ctx);
      for (const l of envLines) {
        for (const file of l.tokens) {
          const vars = readShellVars(path.join(this.portageDir, "env", file), { scope: new Map(this.vars) });
          for (const a of vars) if (a.name === "USE") applyUse(use, tokens(a.value), ctx);
        }
      }
      for (const l of userUse) applyUse(use, expandUserUseExpand(l.tokens, this.useExpand), ctx);
      applyUse(use, this.envUseTokens, ctx);
      if (useKey !== undefined) this.useMemo.set(useKey, new Set(use));
    }

    const stable = this.isStable(pkg);
    const forceMask = this.forceMaskOf(pkg, cp, level, stable, named);
    const fmKey = forceMask.key;
    // with neither kind of package-specific line, the whole answer is shared (same IUSE, repo, stability)
    const stateKey = useKey !== undefined && fmKey !== undefined ? `${useKey}\0${fmKey}` : undefined;
    const shared = stateKey === undefined ? undefined : this.useStateMemo.get(stateKey);
    if (shared) return shared;
    const { force, mask } = forceMask;
    for (const f of force) use.add(f);
    if (this.arch) use.add(this.arch);
    for (const f of mask) use.delete(f);

    const relevant = (f: string) => iuseSet.has(f);
    const state: UseState = {
      enabled: [...iuseSet].filter((f) => use.has(f)).sort(),
      disabled: iuseNames.filter((f) => !use.has(f)).sort(),
      masked: [...mask].filter(relevant).sort(),
      forced: [...force].filter(relevant).sort(),
      all: new Set([...use].filter((f) => relevant(f) || this.implicitFlags.has(f) || this.isImplicitExpand(f))),
    };
    if (stateKey !== undefined) this.useStateMemo.set(stateKey, state);
    return state;
  }

  /**
   * Per repository: the profile's USE before and after the point where IUSE defaults apply, when
   * no token is a positive wildcard (`null`: the general path computes it).
   */
  private readonly useBaseMemo = new Map<string, UseBase | null>();
  /** Per repository and stability: the flags outside any IUSE that are on and implicit. */
  private readonly implicitOnMemo = new Map<string, ReadonlySet<string>>();

  private useBase(repoName: string, level: RepoLevel | undefined): UseBase | null {
    let base = this.useBaseMemo.get(repoName);
    if (base !== undefined) return base;
    const before = level?.useTokens ?? [];
    const after = [...this.entries.flatMap((e) => e.useTokens), ...this.confUseTokens, ...this.envUseTokens];
    // a positive wildcard adds the IUSE flags it matches: the general path works that out
    const wild = (t: string) => !t.startsWith("-") && t.endsWith("*");
    if (before.some(wild) || after.some(wild)) base = null;
    else {
      const levelOn = new Set<string>();
      applyUse(levelOn, before);
      const post = new Map<string, { at: number; on: boolean }>();
      const offFrom: { prefix: string; at: number }[] = [];
      after.forEach((t, at) => {
        if (t.startsWith("-") && t.endsWith("*")) offFrom.push({ prefix: t.slice(1, -1), at });
        else if (t.startsWith("-")) post.set(t.slice(1), { at, on: false });
        else post.set(t.startsWith("+") ? t.slice(1) : t, { at, on: true });
      });
      const on = new Set(levelOn);
      applyUse(on, after);
      base = { levelOn, post, offFrom: offFrom.reverse(), on, featuresTest: tokens(this.vars.get("FEATURES")).includes("test") };
    }
    this.useBaseMemo.set(repoName, base);
    return base;
  }

  /**
   * useFor of a package no USE-related line names: each IUSE flag's value is worked out alone
   * (the last profile token that names it after the IUSE defaults, else its default, else the
   * repository level's), and the implicit flags it does not declare are shared by every package
   * of its repository and stability. Same answer as the general path, without building the
   * whole profile USE set per package (a resolver asks for thousands).
   */
  private unnamedUseFor(pkg: PackageInput, cp: string, level: RepoLevel | undefined, iuseNames: readonly string[]): UseState | undefined {
    const base = this.useBase(pkg.repo, level);
    if (!base) return undefined;
    const stable = this.isStable(pkg);
    // the general path's key for the same answer
    const stateKey = `${pkg.repo}\0${pkg.iuse.join(" ")}\0${pkg.repo}\0${stable}`;
    const shared = this.useStateMemo.get(stateKey);
    if (shared) return shared;
    const { force, mask } = this.forceMaskOf(pkg, cp, level, stable, false);
    // the value of each IUSE flag after the profile, /etc/portage/make.conf and the environment
    const value = new Map<string, boolean>();
    for (const f of iuseNames) if (!value.has(f)) value.set(f, base.levelOn.has(f) || (f === "test" && base.featuresTest));
    for (const f of pkg.iuse) {
      if (f.startsWith("+")) value.set(f.slice(1), true);
      else if (f.startsWith("-")) value.set(f.slice(1), false);
    }
    for (const f of value.keys()) {
      // the last word on the flag after the defaults: a token naming it, or a later `-prefix*`
      const named = base.post.get(f);
      const off = base.offFrom.find((w) => f.startsWith(w.prefix));
      let on = off && off.at > (named?.at ?? -1) ? false : named ? named.on : value.get(f)!;
      if (force.has(f) || f === this.arch) on = true;
      if (mask.has(f)) on = false;
      value.set(f, on);
    }
    const implicitKey = `${pkg.repo}\0${stable}`;
    let implicitOn = this.implicitOnMemo.get(implicitKey);
    if (!implicitOn) {
      const on = new Set(base.on);
      for (const f of force) on.add(f);
      if (this.arch) on.add(this.arch);
      for (const f of mask) on.delete(f);
      implicitOn = new Set([...on].filter((f) => this.implicitFlags.has(f) || this.isImplicitExpand(f)));
      this.implicitOnMemo.set(implicitKey, implicitOn);
    }
    const all = new Set<string>();
    for (const f of implicitOn) if (!value.has(f)) all.add(f);
    for (const [f, on] of value) if (on) all.add(f);
    // (the profile's masks and forces may be hundreds of flags: the IUSE is what is walked)
    const declared = [...value.keys()];
    const state: UseState = {
      enabled: declared.filter((f) => value.get(f)).sort(),
      disabled: iuseNames.filter((f) => !value.get(f)).sort(),
      masked: declared.filter((f) => mask.has(f)).sort(),
      forced: declared.filter((f) => force.has(f)).sort(),
      all,
    };
    this.useStateMemo.set(stateKey, state);
    return state;
  }

  /**
   * use.force and use.mask of a package: the repository level's and the profile's, with the
   * package.use.force/mask lines (and their stable forms) that name it when `named`. Packages
   * no such line names share one answer per repository and stability: `key` says which.
   */
  private forceMaskOf(pkg: PackageInput, cp: string, level: RepoLevel | undefined, stable: boolean, named: boolean): { force: ReadonlySet<string>; mask: ReadonlySet<string>; key: string | undefined } {
    // the layers in stacking order; the repository level has no stable forms
    const layers: readonly ForceMaskLayer[] = level ? [level, ...this.entries] : this.entries;
    const own = (m: Map<string, AtomLine[]> | undefined): readonly AtomLine[] => (named && m ? matching(m, cp, pkg) : []);
    const lines = named ? layers.map((l) => ({ force: own(l.packageUseForce), stableForce: stable ? own(l.packageUseStableForce) : [], mask: own(l.packageUseMask), stableMask: stable ? own(l.packageUseStableMask) : [] })) : [];
    const key = lines.some((x) => x.force.length || x.stableForce.length || x.mask.length || x.stableMask.length) ? undefined : `${pkg.repo}\0${stable}`;
    const shared = key === undefined ? undefined : this.forceMaskMemo.get(key);
    if (shared) return { ...shared, key };
    const force = new Set<string>();
    const mask = new Set<string>();
    layers.forEach((l, i) => {
      const x = lines[i];
      stackTokens(force, l.useForce);
      if (stable && l.useStableForce) stackTokens(force, l.useStableForce);
      for (const a of x?.force ?? []) stackTokens(force, a.tokens);
      for (const a of x?.stableForce ?? []) stackTokens(force, a.tokens);
      stackTokens(mask, l.useMask);
      if (stable && l.useStableMask) stackTokens(mask, l.useStableMask);
      for (const a of x?.mask ?? []) stackTokens(mask, a.tokens);
      for (const a of x?.stableMask ?? []) stackTokens(mask, a.tokens);
    });
    if (key !== undefined) this.forceMaskMemo.set(key, { force, mask });
    return { force, mask, key };
  }

  /** Why a package is not visible (empty when it is), in the order Portage checks. */
  visibility(pkg: PackageInput, use?: ReadonlySet<string>): MaskReason[] {
    const reasons: MaskReason[] = [];
    if (!isSupportedEapi(pkg.eapi)) return [{ kind: "eapi", eapi: pkg.eapi }];
    const cp = `${pkg.category}/${pkg.package}`;
    const mask = this.maskedBy(pkg, cp);
    if (mask) reasons.push({ kind: "package.mask", file: mask.file, line: mask.line, atom: mask.atom.toString() });
    const pp = this.packagesIndex.get(cp);
    if (pp && !pp.some((l) => l.atom.matches(ref(pkg)))) reasons.push({ kind: "profile-packages", file: pp[0]!.file, line: pp[0]!.line });
    const kw = this.keywordCheck(pkg, this.acceptedKeywordsFor(pkg));
    if (kw) reasons.push(kw);
    const useSet = use ?? this.useFor(pkg).all;
    const lic = this.unacceptedLicenses(pkg, useSet);
    if (lic.length) reasons.push({ kind: "license", licenses: lic });
    const props = this.unacceptedTokens(pkg.properties ?? "", "PROPERTIES", "ACCEPT_PROPERTIES", useSet);
    if (props.length) reasons.push({ kind: "properties", tokens: props });
    const restrict = this.unacceptedTokens(pkg.restrict ?? "", "RESTRICT", "ACCEPT_RESTRICT", useSet);
    if (restrict.length) reasons.push({ kind: "restrict", tokens: restrict });
    return reasons;
  }

  /** Accepted keywords for a package: ACCEPT_KEYWORDS plus matching profile and user package.accept_keywords. */
  /** The packages some profile entry's package.accept_keywords or package.keywords names (`*` for any). */
  private keywordLineCps?: ReadonlySet<string>;

  private keywordLinesMayName(cp: string): boolean {
    if (!this.keywordLineCps) {
      const cps = new Set<string>();
      for (const e of this.entries) for (const m of [e.packageAcceptKeywords, e.packageKeywords]) for (const k of m.keys()) cps.add(k);
      this.keywordLineCps = cps;
    }
    return this.keywordLineCps.has(cp) || this.keywordLineCps.has("*");
  }

  acceptedKeywordsFor(pkg: PackageInput): Set<string> {
    const cp = `${pkg.category}/${pkg.package}`;
    const accepted = new Set(this.acceptKeywords);
    const add = (l: AtomLine) => {
      if (l.tokens.length === 0) for (const k of this.acceptKeywords) if (!k.startsWith("~") && !k.startsWith("-")) accepted.add("~" + k);
      stackTokens(accepted, l.tokens);
    };
    if (this.keywordLinesMayName(cp)) for (const e of this.entries) for (const l of matching(e.packageAcceptKeywords, cp, pkg)) add(l);
    for (const l of matching(this.userAcceptKeywords, cp, pkg)) add(l);
    return accepted;
  }

  effectiveKeywords(pkg: PackageInput): string[] {
    const cp = `${pkg.category}/${pkg.package}`;
    const kws = [...pkg.keywords];
    if (!this.keywordLinesMayName(cp)) return kws;
    for (const e of this.entries) {
      for (const l of matching(e.packageKeywords, cp, pkg)) {
        for (const t of l.tokens) {
          if (t === "-*") kws.length = 0;
          else if (t.startsWith("-")) {
            const k = t.slice(1);
            for (const x of [k, "~" + k]) {
              const i = kws.indexOf(x);
              if (i >= 0) kws.splice(i, 1);
            }
          } else if (!kws.includes(t)) kws.push(t);
        }
      }
    }
    return kws;
  }

  /** Keyword decision of MARK's Portage, with Funtoo's DENY_KEYWORDS and TRACK_KEYWORDS. */
  private keywordCheck(pkg: PackageInput, accepted: ReadonlySet<string>): MaskReason | undefined {
    const kws = this.effectiveKeywords(pkg);
    if (kws.some((k) => this.denyKeywords.has(k))) return { kind: "keyword", keywords: kws, detail: `denied by DENY_KEYWORDS (${[...this.denyKeywords].join(" ")})` };
    if (kws.includes("*")) return undefined;
    for (const k of kws) {
      if (accepted.has(k)) return undefined;
      if (k === "~*" && [...accepted].some((a) => a.startsWith("~"))) return undefined;
      if (k.startsWith("~") && accepted.has("~*")) return undefined;
      if (!k.startsWith("~") && !k.startsWith("-") && accepted.has("*")) return undefined;
    }
    if (accepted.has("**")) return undefined;
    if (kws.length === 0) return { kind: "keyword", keywords: kws, detail: "missing keyword (no KEYWORDS; accept '**' to use it)" };
    if (kws.some((k) => this.trackKeywords.has(k))) return undefined;
    return { kind: "keyword", keywords: kws, detail: `missing keyword (accepted: ${[...accepted].join(" ")})` };
  }

  /**
   * emerge's mask column for a package it would merge (emerge spec §8.2): `#` when a package.mask
   * line matches it (unmasked since), `~` when only a per-package accept_keywords line accepts its
   * unstable keyword, `*` when only such a line accepts it although it lacks the keyword, else space.
   */
  maskMarker(pkg: PackageInput): "#" | "~" | "*" | " " {
    const cp = `${pkg.category}/${pkg.package}`;
    const r = ref(pkg);
    const repo = this.repos.get(pkg.repo);
    const level = repo ? this.repoLevelOf(repo) : undefined;
    if ((level?.masks ?? []).some((l) => l.cp === cp && l.atom.matches(r)) || linesFor(this.maskIndex, cp).some((l) => l.atom.matches(r))) return "#";
    if (this.keywordCheck(pkg, new Set(this.acceptKeywords)) === undefined) return " ";
    const arch = this.arch;
    return arch && this.effectiveKeywords(pkg).includes(`~${arch}`) ? "~" : "*";
  }

  private isStable(pkg: PackageInput): boolean {
    const stableOnly = new Set([...this.acceptedKeywordsFor(pkg)].filter((k) => !k.startsWith("~") && k !== "**"));
    return this.keywordCheck(pkg, stableOnly) === undefined;
  }

  private maskedBy(pkg: PackageInput, cp: string): AtomLine | undefined {
    const r = ref(pkg);
    const repo = this.repos.get(pkg.repo);
    const level = repo ? this.repoLevelOf(repo) : undefined;
    const unmasked = () =>
      linesFor(this.unmaskIndex, cp).some((l) => l.atom.matches(r)) || (level?.unmasks ?? []).some((l) => l.cp === cp && l.atom.matches(r));
    const hit = (level?.masks ?? []).find((l) => l.cp === cp && l.atom.matches(r)) ?? linesFor(this.maskIndex, cp).find((l) => l.atom.matches(r));
    if (hit && !unmasked()) return hit;
    return undefined;
  }

  /** ACCEPT_LICENSE evaluation with license groups; returns the names that are not accepted. */
  private readonly licenseSpecs = new Map<string, DepNode<string>[]>();
  private readonly licenseVerdicts = new Map<string, boolean>();

  unacceptedLicenses(pkg: PackageInput, use: ReadonlySet<string>): string[] {
    let spec = this.licenseSpecs.get(pkg.license);
    if (!spec) {
      try {
        spec = parseLicense(pkg.license);
      } catch (e) {
        throw new OuzoError("BAD_LICENSE", (e as Error).message, { pkg: `${pkg.category}/${pkg.package}-${pkg.version.text}` });
      }
      this.licenseSpecs.set(pkg.license, spec);
    }
    const cp = `${pkg.category}/${pkg.package}`;
    const own = matching(this.userLicense, cp, pkg);
    const toks = [...this.orderedList("ACCEPT_LICENSE")];
    for (const l of own) toks.push(...l.tokens);
    const repo = this.repos.get(pkg.repo);
    const groups = repo ? this.repoLevelOf(repo).licenseGroups : new Map<string, string[]>();
    const decide = (name: string) => {
      let ok = false;
      for (const t of toks) {
        const neg = t.startsWith("-");
        const body = neg ? t.slice(1) : t;
        if (body === "*" || body === name || (body.startsWith("@") && expandGroup(groups, body.slice(1)).has(name))) ok = !neg;
      }
      return ok;
    };
    // without a package.license line of its own, a license's verdict is the repository's
    const accepted = own.length
      ? decide
      : (name: string) => {
          const key = `${pkg.repo}\0${name}`;
          let ok = this.licenseVerdicts.get(key);
          if (ok === undefined) this.licenseVerdicts.set(key, (ok = decide(name)));
          return ok;
        };
    return unacceptedLicenses(spec, use, accepted);
  }

  private unacceptedTokens(value: string, what: "PROPERTIES" | "RESTRICT", accept: string, use: ReadonlySet<string>): string[] {
    if (!value.trim()) return [];
    const toks = this.orderedList(accept);
    if (!toks.length) return [];
    const out: string[] = [];
    for (const n of reduce(parsePlainTokens(value, what), use)) {
      if (n.kind !== "leaf") continue;
      let ok = false;
      for (const t of toks) {
        const neg = t.startsWith("-");
        const body = neg ? t.slice(1) : t;
        if (body === "*" || body === n.value) ok = !neg;
      }
      if (!ok) out.push(n.value);
    }
    return out;
  }

  private readonly implicitExpandMemo = new Map<string, boolean>();

  /** Whether a flag is a USE_EXPAND value (`python_targets_python3_11`); asked for every flag of every package. */
  private isImplicitExpand(flag: string): boolean {
    let r = this.implicitExpandMemo.get(flag);
    if (r === undefined) this.implicitExpandMemo.set(flag, (r = this.useExpand.some((v) => flag.startsWith(v.toLowerCase() + "_"))));
    return r;
  }

  // --- construction helpers ---

  private stackIncremental(name: string, profileOnly: boolean): string[] {
    const out: string[] = [];
    const apply = (m: Map<string, string[]>) => {
      for (const v of m.get(name) ?? []) stackTokens(out, tokens(v));
    };
    if (!profileOnly || !PROFILE_LAYER_ONLY.has(name)) apply(this.layerVars.globals);
    for (const m of this.layerVars.profile) apply(m);
    if (!profileOnly) {
      apply(this.layerVars.conf);
      apply(this.layerVars.env);
    }
    return out;
  }

  private readonly orderedMemo = new Map<string, readonly string[]>();

  /** An incremental list variable's tokens across the layers, from the last `-*` on (read once per name). */
  private orderedList(name: string): readonly string[] {
    let list = this.orderedMemo.get(name);
    if (!list) this.orderedMemo.set(name, (list = this.computeOrderedList(name)));
    return list;
  }

  private computeOrderedList(name: string): string[] {
    const all: string[] = [];
    const layers = [this.layerVars.globals, ...this.layerVars.profile, this.layerVars.conf, this.layerVars.env];
    for (const m of layers) for (const v of m.get(name) ?? []) all.push(...tokens(v));
    const star = all.lastIndexOf("-*");
    return star >= 0 ? all.slice(star + 1) : all;
  }

  private lastValue(name: string, profileOnly: boolean): string | undefined {
    const layers = profileOnly
      ? [this.layerVars.globals, ...this.layerVars.profile]
      : [this.layerVars.globals, ...this.layerVars.profile, this.layerVars.conf, this.layerVars.env];
    let v: string | undefined;
    for (const m of layers) {
      const vals = m.get(name);
      if (vals?.length) v = vals[vals.length - 1];
    }
    return v;
  }

  /** USE tokens of one make.defaults: USE_EXPAND values first (prefixed, incremental), then USE. */
  private profileUseTokens(layer: Assignment[], unprefixed: readonly string[]): string[] {
    const out: string[] = [];
    for (const a of layer) {
      if (!this.useExpand.includes(a.name) && !unprefixed.includes(a.name)) continue;
      const prefix = unprefixed.includes(a.name) ? "" : a.name.toLowerCase() + "_";
      for (const t of tokens(a.value)) {
        if (t === "-*") out.push(`-${prefix}*`);
        else if (t.startsWith("-")) out.push("-" + prefix + t.slice(1));
        else out.push(prefix + t);
      }
    }
    for (const a of layer) if (a.name === "USE") out.push(...tokens(a.value));
    return out;
  }

  /** USE tokens of make.conf or the environment: a USE_EXPAND variable replaces its whole prefix. */
  private nonProfileUseTokens(layer: Map<string, string[]>): string[] {
    const out: string[] = [];
    for (const v of this.useExpand) {
      const vals = layer.get(v);
      if (!vals?.length) continue;
      const prefix = v.toLowerCase() + "_";
      out.push(`-${prefix}*`);
      for (const t of tokens(vals[vals.length - 1])) {
        if (t.startsWith("-")) {
          this.warnings.push(`${v}: '-' values are not allowed outside profiles ('${t}' ignored)`);
          continue;
        }
        out.push(prefix + t);
      }
    }
    for (const v of layer.get("USE") ?? []) out.push(...tokens(v));
    return out;
  }

  private readEntry(e: ProfileEntry, warn: (m: string, f: string, l: number) => void): EntryFiles {
    const read = (name: string) => readConfigEntry(this.dirs, e.dir, name, e.allowDirectories);
    const flags = (name: string) => read(name).flatMap((l) => l.text.split(/\s+/));
    const atomEapi = e.allowRepoAtoms ? { ...e.eapi, repoDeps: true } : e.eapi;
    const onBad = e.user ? (m: string, f: string, l: number) => warn(`${m}; line skipped`, f, l) : warn;
    const pkgFile = (name: string) => indexByCp(parseAtomLines(read(name), atomEapi, onBad, false));
    const stableOk = e.eapi.stableMaskFiles || e.user;
    const empty = new Map<string, AtomLine[]>();
    return {
      entry: e,
      useTokens: [],
      useMask: flags("use.mask"),
      useForce: flags("use.force"),
      useStableMask: stableOk ? flags("use.stable.mask") : [],
      useStableForce: stableOk ? flags("use.stable.force") : [],
      packageUse: pkgFile("package.use"),
      packageUseMask: pkgFile("package.use.mask"),
      packageUseForce: pkgFile("package.use.force"),
      packageUseStableMask: stableOk ? pkgFile("package.use.stable.mask") : empty,
      packageUseStableForce: stableOk ? pkgFile("package.use.stable.force") : empty,
      packageKeywords: pkgFile("package.keywords"),
      packageAcceptKeywords: pkgFile("package.accept_keywords"),
      packageMask: parseAtomLines(read("package.mask"), atomEapi, onBad, true),
      packageUnmask: parseAtomLines(read("package.unmask"), atomEapi, onBad, true),
      packages: this.readPackagesFile(e, warn),
    };
  }

  private readPackagesFile(e: ProfileEntry, warn: (m: string, f: string, l: number) => void): AtomLine[] {
    const out: AtomLine[] = [];
    for (const l of readConfigEntry(this.dirs, e.dir, "packages", e.allowDirectories)) {
      let t = l.text;
      let negated = false;
      if (t.startsWith("-")) {
        negated = true;
        t = t.slice(1);
      }
      const star = t.startsWith("*");
      if (star) t = t.slice(1);
      try {
        out.push(atomLine(Atom.parse(t, e.eapi), e.eapi, negated, star ? ["*"] : [], l.file, l.line));
      } catch (err) {
        if (e.user) throw new OuzoError("BAD_ATOM", (err as Error).message, { file: l.file, line: l.line });
        warn((err as Error).message, l.file, l.line);
      }
    }
    return out;
  }

  private readUserSets(): Map<string, Atom[]> {
    const dir = path.join(this.portageDir, "sets");
    const sets = new Map<string, Atom[]>();
    if (!isDirectory(dir)) return sets;
    for (const l of readConfigLines(dir, true)) {
      const name = path.basename(l.file);
      const arr = sets.get(name) ?? [];
      try {
        arr.push(Atom.parse(l.text, USER_CONFIG_EAPI));
      } catch (e) {
        throw new OuzoError("BAD_ATOM", (e as Error).message, { file: l.file, line: l.line });
      }
      sets.set(name, arr);
    }
    return sets;
  }

  /** A repository's own top-level profiles/ files, parsed once. */
  private repoFilesOf(repo: Repository): RepoFiles {
    const cached = this.repoFiles.get(repo.name);
    if (cached) return cached;
    const encoded = this.encodedRepoFiles.get(repo.name);
    if (encoded) {
      const { files: f, decoder: d } = encoded;
      const files: RepoFiles = {
        masks: d.lines(f.masks),
        unmasks: d.lines(f.unmasks),
        useMask: f.useMask,
        useForce: f.useForce,
        packageUseMask: d.lines(f.packageUseMask),
        packageUseForce: d.lines(f.packageUseForce),
        packageUse: d.lines(f.packageUse),
        useTokens: f.useTokens,
        licenseGroups: f.licenseGroups,
      };
      this.repoFiles.set(repo.name, files);
      return files;
    }
    const prof = path.join(repo.location, "profiles");
    const eapiFile = this.dirs.entry(prof, "eapi");
    const eapiName = (eapiFile && readFileIfExists(eapiFile)?.split("\n")[0]?.trim()) || "0";
    const eapi: EapiFeatures = { ...(eapiFeatures(eapiName) ?? eapiFeatures("8")!), repoDeps: true };
    const allowDirs = repo.profileFormats.includes("portage-1") || repo.profileFormats.includes("portage-2") || eapi.profileFileDirectories;
    const warn = (m: string, f: string, l: number) => this.warnings.push(`${f}:${l}: ${m}`);
    const lines = (name: string): ConfigLine[] => readConfigEntry(this.dirs, prof, name, allowDirs);
    const atoms = (name: string, neg: boolean) => parseAtomLines(lines(name), eapi, warn, neg);
    const flags = (name: string) => lines(name).flatMap((l) => l.text.split(/\s+/));
    const defaults = this.dirs.entry(prof, "make.defaults");
    const files: RepoFiles = {
      masks: atoms("package.mask", true),
      unmasks: atoms("package.unmask", false),
      useMask: flags("use.mask"),
      useForce: flags("use.force"),
      packageUseMask: atoms("package.use.mask", false),
      packageUseForce: atoms("package.use.force", false),
      packageUse: atoms("package.use", false),
      useTokens: defaults ? readShellVars(defaults, { scope: new Map(this.vars ?? []) }).filter((a) => a.name === "USE").flatMap((a) => tokens(a.value)) : [],
      licenseGroups: lines("license_groups").map((l) => l.text.split(/\s+/)),
    };
    this.repoFiles.set(repo.name, files);
    return files;
  }

  /** Repository-level settings for packages of `repo`: its masters' files stacked before its own. */
  private repoLevelOf(repo: Repository): RepoLevel {
    const cached = this.repoLevel.get(repo.name);
    if (cached) return cached;
    const masters = repo.masters.map((m) => this.repos.get(m)).filter((r): r is Repository => !!r);
    const chain = [...masters, repo].map((r) => this.repoFilesOf(r));
    const own = chain[chain.length - 1]!;
    const flagsOf = (pick: (f: RepoFiles) => string[]) => {
      const out: string[] = [];
      for (const f of chain) stackTokens(out, pick(f));
      return out;
    };
    const groups = new Map<string, string[]>();
    for (const f of chain) for (const [name, ...members] of f.licenseGroups) groups.set(name!, members);
    const level: RepoLevel = {
      masks: applyNegations(chain.flatMap((f) => f.masks)),
      unmasks: own.unmasks,
      useMask: flagsOf((f) => f.useMask),
      useForce: flagsOf((f) => f.useForce),
      packageUseMask: indexByCp(chain.flatMap((f) => f.packageUseMask)),
      packageUseForce: indexByCp(chain.flatMap((f) => f.packageUseForce)),
      useTokens: own.useTokens,
      packageUse: indexByCp(own.packageUse),
      licenseGroups: groups,
    };
    this.repoLevel.set(repo.name, level);
    return level;
  }
}

function ref(pkg: PackageInput) {
  return { category: pkg.category, package: pkg.package, version: pkg.version, slot: pkg.slot, subslot: pkg.subslot, repo: pkg.repo };
}

/** Lines of an index matching a package, less specific first, file order kept within a rank. */
function matching(index: Map<string, AtomLine[]>, cp: string, pkg: PackageInput): AtomLine[] {
  const lines = linesFor(index, cp);
  if (!lines.length) return [];
  const r = ref(pkg);
  const hits = lines.filter((l) => l.atom.matchesIgnoringUse(r));
  if (hits.length < 2) return hits;
  return hits.map((l, i) => ({ l, i, s: specificity(l.atom) })).sort((a, b) => a.s - b.s || a.i - b.i).map((x) => x.l);
}

/** Apply stacked `-atom` removals to a list of atom lines. */
function applyNegations(lines: readonly AtomLine[]): AtomLine[] {
  if (!lines.some((l) => l.negated)) return lines as AtomLine[];
  const out: AtomLine[] = [];
  for (const l of lines) {
    if (l.negated) {
      for (let i = out.length - 1; i >= 0; i--) if (out[i]!.key === l.key) out.splice(i, 1);
    } else out.push(l);
  }
  return out;
}

/** What forceMaskOf reads of a repository level or a profile entry (the level has no stable forms). */
interface ForceMaskLayer {
  readonly useForce: readonly string[];
  readonly useMask: readonly string[];
  readonly useStableForce?: readonly string[];
  readonly useStableMask?: readonly string[];
  readonly packageUseForce: Map<string, AtomLine[]>;
  readonly packageUseMask: Map<string, AtomLine[]>;
  readonly packageUseStableForce?: Map<string, AtomLine[]>;
  readonly packageUseStableMask?: Map<string, AtomLine[]>;
}

/** The profile's USE around the point where IUSE defaults apply (see Config.useBase). */
interface UseBase {
  /** On after the repository level's make.defaults (before the IUSE defaults). */
  readonly levelOn: ReadonlySet<string>;
  /** The last token of the profile stack, make.conf and the environment naming each flag (by position). */
  readonly post: ReadonlyMap<string, { readonly at: number; readonly on: boolean }>;
  /** Their `-*` and `-prefix*` tokens, the last first. */
  readonly offFrom: readonly { readonly prefix: string; readonly at: number }[];
  /** On for a package without IUSE. */
  readonly on: ReadonlySet<string>;
  readonly featuresTest: boolean;
}

/** Apply USE tokens: `-*`, `-flag`, `-prefix_*`, `prefix_*` (expanded over IUSE), `flag`. */
function applyUse(use: Set<string>, toks: readonly string[], ctx?: { iuse: readonly string[] }): void {
  for (const t of toks) {
    if (t === "-*") use.clear();
    else if (t.startsWith("-")) {
      const f = t.slice(1);
      if (f.endsWith("*")) {
        const prefix = f.slice(0, -1);
        for (const u of [...use]) if (u.startsWith(prefix)) use.delete(u);
      } else use.delete(f);
    } else if (t.endsWith("*") && t.length > 1) {
      const prefix = t.slice(0, -1);
      const hits = ctx?.iuse.filter((f) => f.startsWith(prefix)) ?? [];
      if (hits.length) for (const h of hits) use.add(h);
      else use.add(t);
    } else use.add(t.startsWith("+") ? t.slice(1) : t);
  }
}

/** In /etc/portage/package.use, `PYTHON_TARGETS: a b` style USE_EXPAND sections. */
function expandUserUseExpand(toks: readonly string[], useExpand: readonly string[]): string[] {
  const out: string[] = [];
  let prefix = "";
  for (const t of toks) {
    if (t.endsWith(":") && useExpand.includes(t.slice(0, -1).toUpperCase())) {
      prefix = t.slice(0, -1).toLowerCase() + "_";
      continue;
    }
    if (!prefix) out.push(t);
    else out.push(t.startsWith("-") ? "-" + prefix + t.slice(1) : prefix + t);
  }
  return out;
}

function expandGroup(groups: Map<string, string[]>, name: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(name)) return out;
  seen.add(name);
  for (const m of groups.get(name) ?? []) {
    if (m.startsWith("@")) for (const x of expandGroup(groups, m.slice(1), seen)) out.add(x);
    else out.add(m);
  }
  return out;
}

function readEnvFile(file: string): Assignment[] {
  if (!exists(file)) return [];
  try {
    return readShellVars(file, { scope: new Map() });
  } catch {
    return [];
  }
}

