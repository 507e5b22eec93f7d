// The build sandbox (build spec §8): what the kernel offers (probeSandbox), which rules each phase
// gets (rulesFor, the table of §1.3/§5.1/§8.2/§8.6), how a phase's bash is wrapped in the native
// helper (wrapCommand), and the denials the helper recorded, turned into one-line messages that
// name the path (collectViolations, describeViolation).
//
// Enforcement is native/ouzo-sandbox (Landlock + namespaces; its header comment documents the
// command line and exit statuses). Rules are fixed before a phase starts (§8.8 step 1): FEATURES,
// /etc/sandbox.d, and the SANDBOX_* lists the previous phases saved in ${T}; an addwrite that only
// runs inside the phase takes effect when the lead reruns the phase (§8.8 step 3).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { packagePath } from "../core/paths.js";

export type SandboxNetwork = "none" | "loopback" | "host";
export type SandboxNamespace = "mount" | "ipc" | "uts" | "pid";
export type LandlockMode = "required" | "optional" | "off";

/** The rules one phase runs under: what native/ouzo-sandbox is told. */
export interface SandboxRules {
  readonly phase: string;
  /** required: refuse to run without Landlock; off: no filesystem sandbox (FEATURES=-sandbox, pkg_* phases). */
  readonly landlock: LandlockMode;
  /** Trees (or files) where every write right is allowed; device files builds need are added by the helper. */
  readonly write: readonly string[];
  /** Writes there stay refused, but are not reported as violations (addpredict, §8.8 step 5). */
  readonly predict: readonly string[];
  /** none: a network namespace without lo; loopback: Portage's network-sandbox; host: the host's network. */
  readonly network: SandboxNetwork;
  readonly namespaces: readonly SandboxNamespace[];
  /** Private /tmp, /var/tmp, /dev/shm: an empty per-build directory bound over each path (mount namespace). */
  readonly scratch: readonly { readonly path: string; readonly backing: string }[];
  /** Paths under a scratch path that must stay visible (repositories, distfiles, ouzo's own files). */
  readonly expose: readonly string[];
  /** Where the helper records denials (JSON lines), when reporting is wanted. */
  readonly log?: string;
  /** With log: let the helper switch kernel auditing on when it is off (it stays on; see the report). */
  readonly auditEnable?: boolean;
  /** Run the program as this user (userpriv); the helper switches after building the namespaces. */
  readonly uid?: number;
  readonly gid?: number;
  readonly groups?: readonly number[];
  /** Directories ouzo creates outside the sandbox before the phase (scratch backings, VCS stores). */
  readonly create: readonly string[];
  /** Why a part is off or a path was left out, for the debug log. */
  readonly notes: readonly string[];
}

/** What the kernel (and the build) offers, from `ouzo-sandbox --probe`. */
export interface SandboxSupport {
  readonly helper: string;
  /** The helper binary exists and ran. */
  readonly built: boolean;
  /** 0 when Landlock is unusable. */
  readonly landlockAbi: number;
  /** ENOSYS: kernel built without Landlock; EOPNOTSUPP: not enabled at boot. */
  readonly landlockError?: string;
  /** The active LSMs, when securityfs shows them. */
  readonly lsm?: string;
  readonly namespaces: { readonly user: boolean; readonly mount: boolean; readonly net: boolean; readonly ipc: boolean; readonly uts: boolean; readonly pid: boolean };
  readonly audit: "on" | "off" | "locked" | "noperm" | "unavailable";
  /** audit: denials are recorded with their path by the kernel; log-scan: guessed from the build log. */
  readonly reporting: "audit" | "log-scan";
  readonly root: boolean;
  /** Plain sentences, one per missing part (empty when everything works). */
  readonly missing: readonly string[];
  /** One line for `ouzo info` and the build-log header. */
  readonly summary: string;
}

/** One denied access, as the helper recorded it or as the build log suggests. */
export interface SandboxViolation {
  readonly phase: string;
  /** Landlock's blocker: fs.write_file, fs.make_reg, fs.remove_file, … (several joined by commas). */
  readonly op: string;
  /** The denied path; for creations and removals the kernel names the parent directory. */
  readonly path: string;
  /** For creations and removals: the entry the build log names inside `path`. */
  readonly file?: string;
  readonly pid?: number;
  readonly comm?: string;
  readonly exe?: string;
  /** Beneath an addpredict path (or during src_test): refused, not reported. */
  readonly predicted: boolean;
  /** audit: the kernel recorded it; log: a "Permission denied" line of the build log names it. */
  readonly source: "audit" | "log";
}

/** SANDBOX_* lists: /etc/sandbox.d files, the saved lists of earlier phases. */
export interface SandboxLists {
  readonly write: readonly string[];
  readonly predict: readonly string[];
  readonly read: readonly string[];
  readonly deny: readonly string[];
}

/** What rulesFor needs to know about the build. */
export interface SandboxContext {
  /** PORTAGE_BUILDDIR (contains WORKDIR, D, T, HOME). */
  readonly builddir: string;
  /** T; default ${builddir}/temp. */
  readonly temp?: string;
  readonly features: ReadonlySet<string> | readonly string[];
  /** RESTRICT and PROPERTIES as USE evaluated them. */
  readonly restrict: readonly string[];
  readonly properties: readonly string[];
  /**
   * Paths that must stay visible when /tmp and /var/tmp become private, if they lie there: the
   * repositories and eclass directories, PORTAGE_CONFIGROOT, anything else the phase reads.
   * The build dir, the distfiles directory and ouzo's own files are added here.
   */
  readonly expose: readonly string[];
  /** SANDBOX_WRITE/PREDICT/DENY saved by earlier phases; default: read from ${T} (readSavedLists). */
  readonly saved?: SandboxLists;
  /** /etc/sandbox.d, parsed (parseSandboxD); default: none. */
  readonly sandboxD?: SandboxLists;
  /** PORTAGE_ACTUAL_DISTDIR: visible to every phase, VCS stores beneath it writable in live src_unpack. */
  readonly distdir?: string;
  /** CCACHE_DIR (FEATURES=ccache), DISTCC_DIR (FEATURES=distcc). */
  readonly ccacheDir?: string;
  readonly distccDir?: string;
  /** ROOT and EROOT: pkg_{pre,post}{inst,rm} with ROOT ≠ / may write only EROOT (§8.6). */
  readonly root?: string;
  readonly eroot?: string;
  /** The user the phase runs as (userpriv); the helper switches to it. */
  readonly uid?: number;
  readonly gid?: number;
  readonly groups?: readonly number[];
  /** Private /tmp, /var/tmp, /dev/shm for src phases (default true). */
  readonly privateTmp?: boolean;
  /** Let the helper switch kernel auditing on for violation reports (default true). */
  readonly auditEnable?: boolean;
}

const HELPER = ["native", "build", "ouzo-sandbox"];

/** Where the helper binary is (built by scripts/build-native.js during `npm ci`). */
export function sandboxHelperPath(): string {
  return packagePath(...HELPER);
}

// ---- the kernel's offer ----

let probed: SandboxSupport | undefined;

/** Runs `ouzo-sandbox --probe` once per process; says plainly what is missing. */
export function probeSandbox(): SandboxSupport {
  if (probed) return probed;
  const helper = sandboxHelperPath();
  const r = spawnSync(helper, ["--probe"], { encoding: "utf8", timeout: 30_000 });
  if (r.error || r.status !== 0) {
    const why = r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT" ? "is not built (run `node scripts/build-native.js`; it needs a C compiler)" : `does not run: ${r.error?.message ?? r.stderr.trim()}`;
    return (probed = parseProbe("", helper, `the sandbox helper ${helper} ${why}`));
  }
  return (probed = parseProbe(r.stdout, helper));
}

/** The probe line as a value (exported for tests and `ouzo info`). */
export function parseProbe(line: string, helper = sandboxHelperPath(), helperProblem?: string): SandboxSupport {
  const kv = new Map<string, string>();
  for (const word of line.trim().split(/\s+/)) {
    const eq = word.indexOf("=");
    if (eq > 0) kv.set(word.slice(0, eq), word.slice(eq + 1));
  }
  const flag = (k: string) => kv.get(k) === "1";
  const landlockAbi = Number(kv.get("landlock") ?? 0) || 0;
  const landlockError = kv.get("landlock_error");
  const lsm = kv.get("lsm");
  const auditValue = kv.get("audit");
  const audit = auditValue === "on" || auditValue === "off" || auditValue === "locked" || auditValue === "noperm" ? auditValue : "unavailable";
  const namespaces = { user: flag("userns"), mount: flag("mountns"), net: flag("netns"), ipc: flag("ipcns"), uts: flag("utsns"), pid: flag("pidns") };
  const reporting = kv.get("reporting") === "audit" ? "audit" : "log-scan";
  const missing: string[] = [];
  if (helperProblem) missing.push(helperProblem);
  else if (landlockAbi === 0) {
    if (landlockError === "ENOSYS") missing.push("the kernel was built without Landlock (CONFIG_SECURITY_LANDLOCK)");
    else if (landlockError === "EOPNOTSUPP") missing.push(`Landlock is not enabled: add landlock to the lsm= boot parameter${lsm ? `; active LSMs: ${lsm}` : ""}`);
    else missing.push(`Landlock is unusable (${landlockError ?? "unknown error"})`);
  } else if (landlockAbi < 2) missing.push(`Landlock ABI ${landlockAbi} (Linux 5.13) is older than the ABI 2 (Linux 5.19) ouzo needs`);
  if (!helperProblem) {
    for (const [name, ok] of Object.entries(namespaces)) if (!ok && name !== "user") missing.push(`${name} namespaces do not work (unshare failed)`);
    if (reporting !== "audit")
      missing.push(landlockAbi >= 7 ? `sandbox violations are not reported with their path: kernel audit is ${audit}` : "sandbox violations are not reported with their path: that needs Landlock ABI 7 (Linux 6.15) and kernel audit");
  }
  const ns = Object.entries(namespaces).filter(([, ok]) => ok).map(([n]) => n);
  const summary = helperProblem
    ? `sandbox: unavailable (${helperProblem})`
    : `sandbox: Landlock ${landlockAbi ? `ABI ${landlockAbi}` : `unavailable (${landlockError ?? "?"})`}; namespaces: ${ns.join(", ") || "none"}; violation reports: ${reporting === "audit" ? `kernel audit (${audit})` : "build-log scan"}`;
  return { helper, built: !helperProblem, landlockAbi, landlockError, lsm, namespaces, audit, reporting, root: flag("root"), missing, summary };
}

/**
 * Refuse to run a sandboxed phase without the filesystem sandbox (spec §8.10: never degrade
 * silently); the escape hatch is FEATURES=-sandbox. Namespaces that do not work only warn.
 */
export function assertSandboxUsable(support: SandboxSupport, features: ReadonlySet<string> | readonly string[]): void {
  if (!hasFeature(features, "sandbox")) return;
  if (support.built && support.landlockAbi >= 2) return;
  const cause = support.missing[0] ?? "the sandbox is unavailable";
  throw new OuzoError("sandbox-unavailable", `cannot run sandboxed phases: ${cause}; FEATURES="-sandbox" (make.conf, or per package in package.env) builds without the filesystem sandbox`);
}

// ---- the rules of a phase ----

/** pkg_* phases: never under the filesystem sandbox in Portage, and on the host network (§1.3, §8.2). */
const PKG_PHASES = new Set(["pretend", "setup", "preinst", "postinst", "prerm", "postrm", "config", "info", "nofetch"]);
/** ouzo gives these a read-only view: they may write only T (§8.6). */
const READ_ONLY_PHASES = new Set(["pretend", "info", "nofetch"]);
/** With ROOT ≠ /, these may write only EROOT and the build dir (§8.6). */
const ROOT_PHASES = new Set(["preinst", "postinst", "prerm", "postrm"]);
/** Phases that may run as the unprivileged user; with -usersandbox they run unsandboxed then (§8.1). */
const USERSANDBOX_PHASES = new Set(["configure", "compile", "test"]);
const SRC_PHASES = new Set(["unpack", "prepare", "configure", "compile", "test", "install", "instprep", "package"]);
/** FEATURES=pid-sandbox leaves these out (§8.2). */
const NO_PID_NS = new Set(["config", "preinst", "postinst", "prerm", "postrm"]);
/** FEATURES=distcc gives these the network (§8.7: simplest of the two choices). */
const DISTCC_PHASES = new Set(["configure", "compile", "test", "install"]);
/** VCS store directories beneath PORTAGE_ACTUAL_DISTDIR that a live src_unpack writes (§8.6). */
export const VCS_STORE_DIRS = ["git3-src", "cargo-registry", "go-mod", "svn-src", "hg-src", "bzr-src", "darcs-src", "cvs-src"];

function hasFeature(features: ReadonlySet<string> | readonly string[], name: string): boolean {
  return features instanceof Set ? features.has(name) : (features as readonly string[]).includes(name);
}

/**
 * The rules of one phase (spec §1.3 per-phase table, §5.1 FEATURES sandbox/usersandbox/
 * network-sandbox/ipc-sandbox/pid-sandbox/mount-sandbox, §8.6 default rule set, §8.8 mapping).
 */
export function rulesFor(phase: string, ctx: SandboxContext): SandboxRules {
  if (!PKG_PHASES.has(phase) && !SRC_PHASES.has(phase)) throw new OuzoError("sandbox-phase", `no sandbox rules for phase '${phase}'`);
  const feature = (f: string) => hasFeature(ctx.features, f);
  const builddir = path.resolve(ctx.builddir);
  const temp = path.resolve(ctx.temp ?? path.join(builddir, "temp"));
  const notes: string[] = [];
  const saved = ctx.saved ?? readSavedLists(temp);
  const sandboxD = ctx.sandboxD ?? { write: [], predict: [], read: [], deny: [] };
  const unprivileged = ctx.uid !== undefined && ctx.uid !== 0;

  // the filesystem part
  let landlock: LandlockMode = "off";
  let write: string[] = [];
  if (!feature("sandbox")) notes.push("FEATURES=-sandbox: no filesystem sandbox");
  else if (READ_ONLY_PHASES.has(phase)) {
    landlock = "required";
    write = [temp];
  } else if (ROOT_PHASES.has(phase) && ctx.root && path.resolve(ctx.root) !== "/") {
    landlock = "required";
    write = [path.resolve(ctx.eroot ?? ctx.root), builddir];
  } else if (SRC_PHASES.has(phase)) {
    if (USERSANDBOX_PHASES.has(phase) && unprivileged && !feature("usersandbox")) notes.push(`FEATURES=-usersandbox: ${phase} runs as the unprivileged user without the filesystem sandbox`);
    else {
      landlock = "required";
      write = [builddir];
      if (feature("ccache") && ctx.ccacheDir) write.push(path.resolve(ctx.ccacheDir));
      if (feature("distcc") && ctx.distccDir) write.push(path.resolve(ctx.distccDir));
    }
  }
  const create: string[] = [];
  if (landlock !== "off" && SRC_PHASES.has(phase)) {
    if (phase === "unpack" && ctx.properties.includes("live") && ctx.distdir) {
      // the stores are made outside the sandbox; an `addwrite /` of the VCS eclasses is ignored (§8.8 step 4)
      for (const d of VCS_STORE_DIRS) {
        const store = path.join(path.resolve(ctx.distdir), d);
        create.push(store);
        write.push(store);
      }
    }
    for (const p of [...sandboxD.write, ...saved.write]) {
      const why = unusableWritePath(p);
      if (why) notes.push(`addwrite ${p}: ${why}`);
      else write.push(path.resolve(p));
    }
    for (const p of [...sandboxD.deny, ...saved.deny]) notes.push(`adddeny ${p}: not enforced (reads are not restricted)`);
  }

  const predict = [...sandboxD.predict, ...saved.predict].filter((p) => p.startsWith("/")).map((p) => path.resolve(p));
  // Portage adds / to SANDBOX_PREDICT during src_test (§5.2): denials there do not fail the build
  if (phase === "test") predict.push("/");

  // the network and the other namespaces (§8.2, §8.7)
  let network: SandboxNetwork = "loopback";
  if (PKG_PHASES.has(phase)) network = "host";
  else if (!feature("network-sandbox")) network = "host";
  else if (ctx.restrict.includes("network-sandbox")) network = "host";
  else if (phase === "unpack" && ctx.properties.includes("live")) network = "host";
  else if (phase === "test" && ctx.properties.includes("test_network")) network = "host";
  else if (feature("distcc") && DISTCC_PHASES.has(phase)) network = "host";
  const namespaces = new Set<SandboxNamespace>();
  if (network !== "host") namespaces.add("uts");
  if (feature("ipc-sandbox") && !PKG_PHASES.has(phase)) namespaces.add("ipc");
  if (feature("pid-sandbox") && !NO_PID_NS.has(phase)) namespaces.add("pid");
  if (feature("mount-sandbox")) namespaces.add("mount");

  // a private /tmp, /var/tmp, /dev/shm for the phases that may write them (§8.4 goal 1)
  const scratch: { path: string; backing: string }[] = [];
  if (landlock !== "off" && SRC_PHASES.has(phase) && ctx.privateTmp !== false) {
    const base = path.join(builddir, ".ouzo-scratch");
    const targets: [string, string][] = [["/tmp", "tmp"], ["/var/tmp", "var-tmp"], ["/dev/shm", "shm"]];
    if (isRealDirectory("/usr/tmp")) targets.push(["/usr/tmp", "usr-tmp"]);
    for (const [p, name] of targets) {
      if (!isRealDirectory(p)) continue;
      const backing = path.join(base, name);
      scratch.push({ path: p, backing });
      create.push(backing);
    }
    if (scratch.length) namespaces.add("mount");
  }
  if (namespaces.has("pid")) namespaces.add("mount");
  const expose = unique([...ctx.expose, ...(ctx.distdir ? [ctx.distdir] : []), packagePath()].map((p) => path.resolve(p)));

  return {
    phase,
    landlock,
    write: unique(write),
    predict: unique(predict),
    network,
    namespaces: (["mount", "ipc", "uts", "pid"] as const).filter((n) => namespaces.has(n)),
    scratch,
    expose: scratch.length ? expose : [],
    log: landlock !== "off" ? path.join(temp, "ouzo-sandbox.log") : undefined,
    auditEnable: ctx.auditEnable ?? true,
    uid: ctx.uid,
    gid: ctx.gid,
    groups: ctx.groups,
    create: unique(create),
    notes,
  };
}

/** Why an addwrite path gives no rule (§8.8 step 4, 8), or undefined when it does. */
function unusableWritePath(p: string): string | undefined {
  if (!p.startsWith("/")) return "not an absolute path";
  const abs = path.resolve(p);
  if (abs === "/") return "ignored (the VCS stores are prepared outside the sandbox instead)";
  if (abs === "/proc/self" || abs.startsWith("/proc/self/")) return "not supported (a rule there would name the helper's process)";
  if (!fs.existsSync(abs)) return "does not exist, ignored";
  return undefined;
}

function isRealDirectory(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/** Whether the phase needs the helper at all. */
export function needsHelper(rules: SandboxRules): boolean {
  return rules.landlock !== "off" || rules.namespaces.length > 0 || rules.network !== "host" || rules.uid !== undefined;
}

/**
 * The argv to spawn: the helper with the rules, then argv; argv itself when nothing is
 * sandboxed. With rules.uid the helper switches user, so the caller must not (spawn's uid).
 */
export function wrapCommand(rules: SandboxRules, argv: readonly string[]): string[] {
  if (!needsHelper(rules)) return [...argv];
  const a = [sandboxHelperPath(), "--landlock", rules.landlock];
  for (const p of rules.write) a.push("--write", p);
  for (const p of rules.predict) a.push("--predict", p);
  for (const s of rules.scratch) a.push("--scratch", `${s.path}=${s.backing}`);
  for (const p of rules.expose) a.push("--expose", p);
  a.push("--net", rules.network);
  if (rules.namespaces.length) a.push("--ns", rules.namespaces.join(","));
  if (rules.uid !== undefined) {
    a.push("--uid", String(rules.uid), "--gid", String(rules.gid ?? rules.uid));
    if (rules.groups?.length) a.push("--groups", rules.groups.join(","));
  }
  if (rules.log) {
    a.push("--log", rules.log);
    if (rules.auditEnable) a.push("--audit-enable");
  }
  a.push("--phase", rules.phase, "--", ...argv);
  return a;
}

/** Make what the rules expect to exist (scratch backings, VCS stores), and clear the old report. */
export function prepareSandbox(rules: SandboxRules): void {
  for (const d of rules.create) fs.mkdirSync(d, { recursive: true });
  if (rules.log) {
    fs.mkdirSync(path.dirname(rules.log), { recursive: true });
    fs.rmSync(rules.log, { force: true });
  }
}

/** The sandbox line of the build-log header (§8.10: bug reports show the mode used). */
export function describeRules(rules: SandboxRules, support?: SandboxSupport): string {
  const fsPart = rules.landlock === "off" ? "no filesystem sandbox" : `Landlock${support ? ` ABI ${support.landlockAbi}` : ""} (writes: ${rules.write.length ? rules.write.join(", ") : "none"}${rules.scratch.length ? "; private " + rules.scratch.map((s) => s.path).join(", ") : ""})`;
  const net = rules.network === "host" ? "host network" : rules.network === "loopback" ? "network namespace with loopback" : "no network";
  const ns = rules.namespaces.length ? `${rules.namespaces.join(", ")} namespaces` : "no other namespaces";
  const report = rules.log ? (support ? (support.reporting === "audit" ? "violations reported by kernel audit" : "violations guessed from the build log") : "violations reported") : "no violation report";
  return `sandbox (${rules.phase}): ${fsPart}; ${net}; ${ns}; ${report}`;
}

// ---- SANDBOX_* lists ----

const LIST_KEYS = { SANDBOX_WRITE: "write", SANDBOX_PREDICT: "predict", SANDBOX_READ: "read", SANDBOX_DENY: "deny" } as const;

/**
 * /etc/sandbox.d (spec §8.1): files of KEY="value" lines, in name order, whose colon-separated
 * SANDBOX_{WRITE,PREDICT,READ,DENY} values are appended to the lists.
 */
export function parseSandboxD(dir = "/etc/sandbox.d"): SandboxLists {
  const lists = { write: [] as string[], predict: [] as string[], read: [] as string[], deny: [] as string[] };
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return lists;
  }
  for (const name of names) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name), "utf8");
    } catch {
      continue; // a directory or an unreadable file
    }
    for (const line of text.split("\n")) {
      const m = /^\s*(?:export\s+)?(SANDBOX_(?:WRITE|PREDICT|READ|DENY))\s*=\s*(.*?)\s*$/.exec(line);
      if (!m) continue;
      let value = m[2]!;
      if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
      const list = lists[LIST_KEYS[m[1] as keyof typeof LIST_KEYS]];
      for (const p of value.split(":")) if (p.trim()) list.push(p.trim());
    }
  }
  return lists;
}

/**
 * The SANDBOX_* lists earlier phases saved in T (phase.sh writes ${T}/.ouzo_sandbox_write, one
 * path per line; .ouzo_sandbox_predict and .ouzo_sandbox_deny likewise when it writes them).
 */
export function readSavedLists(temp: string): SandboxLists {
  const read = (kind: string) => {
    try {
      return fs.readFileSync(path.join(temp, `.ouzo_sandbox_${kind}`), "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
    } catch {
      return [];
    }
  };
  return { write: read("write"), predict: read("predict"), read: read("read"), deny: read("deny") };
}

// ---- violations (§8.9) ----

/** The helper's report file: one JSON object per line. */
export function readViolations(logFile: string): SandboxViolation[] {
  let text: string;
  try {
    text = fs.readFileSync(logFile, "utf8");
  } catch {
    return [];
  }
  const out: SandboxViolation[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      out.push({
        phase: String(j.phase ?? ""),
        op: String(j.op ?? ""),
        path: String(j.path ?? ""),
        pid: typeof j.pid === "number" && j.pid >= 0 ? j.pid : undefined,
        comm: j.comm ? String(j.comm) : undefined,
        exe: j.exe ? String(j.exe) : undefined,
        predicted: j.predicted === true,
        source: "audit",
      });
    } catch {
      // a line cut short by a crash: the rest still counts
    }
  }
  return out;
}

function beneath(p: string, prefix: string): boolean {
  const pre = prefix.length > 1 ? prefix.replace(/\/+$/, "") : prefix;
  return pre === "/" ? p.startsWith("/") : p === pre || p.startsWith(`${pre}/`);
}

/** Creations, removals and renames: Landlock names the directory, not the entry. */
function namesDirectory(op: string): boolean {
  return /(^|,)fs\.(make_|remove_|refer)/.test(op);
}

const DENIED_LINE = /Permission denied|Operation not permitted|Read-only file system|EACCES|EROFS/;

/** Absolute paths mentioned in one log line ('…', ‘…’, "…", `…' or bare, up to a colon or space). */
function pathsIn(line: string): string[] {
  const out: string[] = [];
  const re = /['‘"`]?(\/[^\s'’"`:,;()]*)/g;
  for (let m; (m = re.exec(line)); ) {
    const p = m[1]!.replace(/\/+$/, "") || "/";
    if (p.length > 1) out.push(path.normalize(p));
  }
  return out;
}

/**
 * The violations of one phase run: the helper's audit records, each creation or removal given the
 * file name the build log shows in that directory; where the kernel cannot report (no audit),
 * the "Permission denied" lines of the build log that name paths outside the allowed trees.
 */
export function collectViolations(rules: SandboxRules, buildLog: string, support?: SandboxSupport): SandboxViolation[] {
  if (rules.landlock === "off") return [];
  const recorded = rules.log ? readViolations(rules.log) : [];
  const lines = buildLog.split("\n").filter((l) => DENIED_LINE.test(l));
  if (recorded.length || (support?.reporting ?? "audit") === "audit") return refine(recorded, lines, rules);
  return scanLog(lines, rules);
}

function isPredicted(p: string, rules: SandboxRules): boolean {
  return rules.predict.some((pre) => beneath(p, pre));
}

function refine(recorded: SandboxViolation[], lines: string[], rules: SandboxRules): SandboxViolation[] {
  const mentioned = lines.flatMap(pathsIn);
  const used = new Set<string>();
  const out: SandboxViolation[] = [];
  const seen = new Set<string>();
  for (const v of recorded) {
    let file: string | undefined;
    if (namesDirectory(v.op)) {
      file = mentioned.find((p) => path.dirname(p) === v.path && !used.has(p)) ?? mentioned.find((p) => path.dirname(p) === v.path);
      if (file) used.add(file);
    }
    const predicted = file ? isPredicted(file, rules) : v.predicted || isPredicted(v.path, rules);
    const key = `${v.op} ${file ?? v.path} ${v.pid}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...v, file, predicted });
  }
  return out;
}

function scanLog(lines: string[], rules: SandboxRules): SandboxViolation[] {
  const allowed = [...rules.write, ...rules.scratch.map((s) => s.path), "/dev", "/proc"];
  const out: SandboxViolation[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    for (const p of pathsIn(line)) {
      if (seen.has(p) || allowed.some((a) => beneath(p, a))) continue;
      seen.add(p);
      out.push({ phase: rules.phase, op: "possible", path: p, predicted: isPredicted(p, rules), source: "log" });
    }
  }
  return out;
}

/**
 * Whether a violation fails the phase (Portage: even when the build coped with EACCES). Guesses
 * from the build log only explain a phase that failed anyway; scope.* (signals, abstract sockets)
 * and net.* denials are noted, not fatal.
 */
export function failsBuild(v: SandboxViolation): boolean {
  return v.source === "audit" && !v.predicted && v.op.startsWith("fs.");
}

/** One line naming the path: `ACCESS DENIED (sandbox): fs.make_reg /etc/foo (by mkdir, pid 12)`. */
export function describeViolation(v: SandboxViolation): string {
  const who = v.comm || v.exe ? ` (by ${v.comm || path.basename(v.exe!)}${v.pid !== undefined ? `, pid ${v.pid}` : ""})` : "";
  if (v.source === "log") return `possible sandbox denial (from the build log): ${v.path}${v.predicted ? " [predicted]" : ""}`;
  const where = v.file ? v.file : namesDirectory(v.op) ? `an entry in ${v.path}` : v.path;
  return `ACCESS DENIED (sandbox): ${v.op} ${where}${who}${v.predicted ? " [predicted]" : ""}`;
}
