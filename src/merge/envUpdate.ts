// env-update (build spec §10.7): after merges and unmerges, the variables packages put in
// ${ROOT}/etc/env.d/ are gathered into /etc/profile.env and /etc/csh.env (which shells source,
// and which ouzo's own configuration reads first), LDPATH into /etc/ld.so.conf, and ldconfig runs
// when the libraries may have changed. A ROOT with neither /etc/env.d nor /etc/profile.env is not
// a Gentoo-family system: nothing is written there.
//
// Where ouzo differs from Portage, on purpose: a value holding a single quote is written quoted
// so that the shell reads it back as it was (Portage writes it between single quotes as it is,
// and profile.env then fails to parse); a file of env.d that cannot be read is named (file:line)
// in a warning and nothing is rewritten (rather than stopping the merge): writing without it
// would take its PATH or LDPATH away.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { readShellVars } from "../config/shellVars.js";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile, listDir, readFileIfExists, writeFileIfChanged } from "../core/fsutil.js";
import type { Reporter } from "../core/reporter.js";
import { withVdbLock } from "../vdb/vdbLock.js";

/** Keys whose values add up across files, space-separated (plus those SPACE_SEPARATED names). */
const SPACE_KEYS = ["CONFIG_PROTECT", "CONFIG_PROTECT_MASK"];
/** Keys whose values add up across files, colon-separated (plus those COLON_SEPARATED names). */
const COLON_KEYS = ["ADA_INCLUDE_PATH", "ADA_OBJECTS_PATH", "CLASSPATH", "INFODIR", "INFOPATH", "KDEDIRS", "LDPATH", "MANPATH", "PATH", "PKG_CONFIG_PATH", "PYTHONPATH", "ROOTPATH"];

const NOTICE = ["# Written by ouzo env-update from the files in /etc/env.d:", "# change those (or add one), not this file, which the next merge rewrites."];

export interface EnvUpdateOptions {
  /** Run ldconfig when the libraries may have changed (default true; `--no-ldconfig` turns it off). */
  readonly ldconfig?: boolean;
  /**
   * Paths just merged or removed (CONTENTS paths): one directly in a library directory asks for
   * ldconfig. Gone through only when env-update is active in ROOT, and only until one is found:
   * a lazy iterable spares a run of many packages a list of all their paths.
   */
  readonly touched?: Iterable<string>;
  /** CHOST and CBUILD of the configuration: when they differ, ROOT is cross-compiled and `${CHOST}-ldconfig` serves. */
  readonly chost?: string;
  readonly cbuild?: string;
  readonly reporter?: Reporter;
}

export interface EnvUpdateResult {
  /** Whether ROOT has /etc/env.d or a profile.env (with neither nothing is done). */
  readonly active: boolean;
  /** The merged variables, as profile.env holds them (LDPATH too). */
  readonly env: ReadonlyMap<string, string>;
  /** Files rewritten, relative to ROOT. */
  readonly written: string[];
  /** ldconfig ran (and why), was not needed, or could not run (and why). */
  readonly ldconfig: { ran: boolean; reason: string };
  /** Files of env.d that could not be read (`file:line`): nothing was rewritten then. */
  readonly failed: readonly string[];
}

/** The files of env.d that count, in the order they are read. */
export function envdFiles(envd: string): string[] {
  return (listDir(envd) ?? [])
    .filter((n) => n.length >= 3 && /^\d\d/.test(n) && !n.startsWith(".") && !n.endsWith("~") && !n.endsWith(".bak"))
    .sort()
    .map((n) => path.join(envd, n))
    .filter((f) => fs.statSync(f, { throwIfNoEntry: false })?.isFile());
}

/** The variables of env.d, added up as §10.7 step 2 says; `failed` gets the files that could not be read (`file:line`, why). */
export function gatherEnv(files: readonly string[], failed: { where: string; why: string }[] = []): Map<string, string> {
  const read: { vars: { name: string; value: string }[] }[] = [];
  for (const file of files) {
    try {
      read.push({ vars: readShellVars(file, { scope: new Map(), expand: false }) });
    } catch (e) {
      failed.push({ where: e instanceof OuzoError && e.origin.line ? `${file}:${e.origin.line}` : file, why: (e as Error).message });
    }
  }
  const space = new Set(SPACE_KEYS);
  const colon = new Set(COLON_KEYS);
  for (const { vars } of read)
    for (const v of vars) {
      if (v.name === "SPACE_SEPARATED") for (const k of v.value.split(/\s+/)) if (k) space.add(k);
      if (v.name === "COLON_SEPARATED") for (const k of v.value.split(/\s+/)) if (k) colon.add(k);
    }
  const lists = new Map<string, string[]>();
  const env = new Map<string, string>();
  for (const { vars } of read)
    for (const { name, value } of vars) {
      const sep = colon.has(name) ? ":" : space.has(name) ? " " : undefined;
      if (sep === undefined) {
        env.set(name, value);
        continue;
      }
      const list = lists.get(name) ?? [];
      lists.set(name, list);
      for (const item of sep === ":" ? value.split(":") : value.split(/\s+/)) if (item && !list.includes(item)) list.push(item);
      env.set(name, list.join(sep));
    }
  // they say how to add up, and are no variables of the environment
  env.delete("SPACE_SEPARATED");
  env.delete("COLON_SEPARATED");
  return env;
}

/** A value as the shell reads it back: single quotes, a quote inside closed and reopened. */
const shQuote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;

/** profile.env's text (§10.7 step 4). */
export function profileEnvText(env: ReadonlyMap<string, string>): string {
  const lines = [...NOTICE];
  for (const key of [...env.keys()].sort()) {
    if (key === "LDPATH") continue;
    const v = env.get(key)!;
    // `$'…'`: the shell's own escapes, kept for values written that way
    if (v.startsWith("$") && !v.startsWith("${")) lines.push(`export ${key}=$'${v.slice(1).replaceAll("'", "\\'")}'`);
    else lines.push(`export ${key}=${shQuote(v)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** csh.env's text. */
export function cshEnvText(env: ReadonlyMap<string, string>): string {
  const lines = [...NOTICE];
  for (const key of [...env.keys()].sort()) if (key !== "LDPATH") lines.push(`setenv ${key} ${shQuote(env.get(key)!)}`);
  return `${lines.join("\n")}\n`;
}

/** The directories whose contents ldconfig caches: lib* and usr/lib* of ROOT, and LDPATH's. */
function libraryDirs(root: string, ldpath: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const base of ["/", "/usr/"]) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(path.join(root, base));
    } catch {
      // no such directory
    }
    for (const n of names) if (n.startsWith("lib")) dirs.add(`${base}${n}`);
  }
  for (const d of ldpath) dirs.add(d.replace(/\/+$/, "") || "/");
  return [...dirs].sort();
}

/** `${ROOT}/var/cache/edb/mtimedb`. */
export function mtimedbFile(root: string): string {
  return path.join(root, "var", "cache", "edb", "mtimedb");
}

/** mtimedb (§10.7): a JSON object; each reader changes only its own key (`ldpath` here, `info` for the info index). */
export function readMtimedb(file: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileIfExists(file) ?? "{}") as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Where `name` (ldconfig, or `${CHOST}-ldconfig` for a ROOT of another CHOST) is, if it can run. */
function ldconfigProgram(name: string): string | undefined {
  if (name === "ldconfig") for (const p of ["/sbin/ldconfig", "/usr/sbin/ldconfig", "/bin/ldconfig", "/usr/bin/ldconfig"]) if (fs.existsSync(p)) return p;
  const r = spawnSync(name, ["--version"], { stdio: "ignore" });
  return r.error ? undefined : name;
}

/** Run env-update for ROOT; see the file comment. Call it where merges are serialised (under the VDB lock). */
export function envUpdate(root: string, opts: EnvUpdateOptions = {}): EnvUpdateResult {
  const envd = path.join(root, "etc", "env.d");
  // a ROOT where env-update ran before keeps being kept, even once env.d has gone with its last file
  const active = fs.statSync(envd, { throwIfNoEntry: false })?.isDirectory() || fs.existsSync(path.join(root, "etc", "profile.env"));
  if (!active) return { active: false, env: new Map(), written: [], ldconfig: { ran: false, reason: "no /etc/env.d" }, failed: [] };
  const failed: { where: string; why: string }[] = [];
  const env = gatherEnv(envdFiles(envd), failed);
  if (failed.length) {
    // a file left out would take its PATH or LDPATH out of every shell and of the library cache
    for (const f of failed) opts.reporter?.report({ kind: "warning", code: "ENV_D", message: `${f.where}: ${f.why}; profile.env, csh.env and ld.so.conf are left as they are until it is fixed ('ouzo env-update' then)` });
    return { active: true, env, written: [], ldconfig: { ran: false, reason: "env.d has a file that cannot be read" }, failed: failed.map((f) => f.where) };
  }
  const written: string[] = [];
  const write = (rel: string, text: string) => {
    if (writeFileIfChanged(path.join(root, rel), text)) written.push(`/${rel}`);
  };

  // §10.7 step 3: ld.so.conf follows LDPATH
  const ldpath = (env.get("LDPATH") ?? "").split(":").filter(Boolean);
  const ldConf = path.join(root, "etc", "ld.so.conf");
  const current = (readFileIfExists(ldConf) ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const ldChanged = current.join("\n") !== ldpath.join("\n");
  if (ldChanged) write("etc/ld.so.conf", `${[...NOTICE, ...ldpath].join("\n")}\n`);
  write("etc/profile.env", profileEnvText(env));
  write("etc/csh.env", cshEnvText(env));

  // §10.7 step 5: ldconfig only when the libraries may have changed
  const dirs = libraryDirs(root, ldpath);
  const mtimes: Record<string, number> = {};
  for (const d of dirs) {
    const st = fs.statSync(path.join(root, d), { throwIfNoEntry: false });
    if (st?.isDirectory()) mtimes[d] = Math.floor(st.mtimeMs / 1000);
  }
  const mtimedbPath = mtimedbFile(root);
  const mtimedb = readMtimedb(mtimedbPath);
  const stored = (mtimedb.ldpath ?? {}) as Record<string, number>;
  const dirMoved = Object.keys(mtimes).some((d) => stored[d] !== mtimes[d]) || Object.keys(stored).some((d) => !(d in mtimes));
  let inLibDir = false;
  for (const p of opts.touched ?? []) {
    if (!dirs.includes(path.posix.dirname(p))) continue;
    inLibDir = true;
    break;
  }
  const reason = ldChanged ? "LDPATH changed" : inLibDir ? "files were merged into a library directory" : dirMoved ? "a library directory changed" : "";
  let ldconfig: EnvUpdateResult["ldconfig"] = { ran: false, reason: reason ? `not asked (${reason})` : "nothing changed" };
  if (reason && opts.ldconfig !== false) {
    // a ROOT of another CHOST needs its own ldconfig: the host's would not read its libraries
    const name = opts.chost && opts.cbuild && opts.chost !== opts.cbuild ? `${opts.chost}-ldconfig` : "ldconfig";
    const program = ldconfigProgram(name);
    const absRoot = path.resolve(root);
    if (!program) ldconfig = { ran: false, reason: `${name} was not found` };
    else if (absRoot !== "/" && process.getuid?.() !== 0) ldconfig = { ran: false, reason: "ldconfig -r needs root" };
    else {
      const r = spawnSync(program, absRoot === "/" ? ["-X"] : ["-X", "-r", absRoot], { encoding: "utf8" });
      if (r.status === 0) ldconfig = { ran: true, reason };
      else ldconfig = { ran: false, reason: `ldconfig failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n")[0]}` };
    }
    const message = `${reason}, but ${ldconfig.reason}: run ${name}${absRoot === "/" ? "" : ` -r ${absRoot}`} yourself`;
    // an unprivileged merge into a ROOT of one's own (a prefix, a test) is expected not to: said, not warned
    if (!ldconfig.ran) opts.reporter?.report(ldconfig.reason === "ldconfig -r needs root" ? { kind: "info", message } : { kind: "warning", code: "LDCONFIG", message });
  }
  // what the libraries looked like when the cache was last made (or when nothing needed making)
  if (ldconfig.ran || !reason) {
    if (JSON.stringify(stored) !== JSON.stringify(mtimes)) atomicWriteFile(mtimedbPath, `${JSON.stringify({ ...mtimedb, ldpath: mtimes })}\n`);
  }
  return { active: true, env, written, ldconfig, failed: [] };
}

/** envUpdate under the VDB lock (merges and unmerges of other ouzo processes wait meanwhile). */
export function envUpdateLocked(root: string, opts: EnvUpdateOptions = {}): Promise<EnvUpdateResult> {
  return withVdbLock(root, () => envUpdate(root, opts), { reporter: opts.reporter, what: "env-update" });
}
