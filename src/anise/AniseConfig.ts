// anise's client configuration (anise.md §7, §11, §12, §13): /etc/anise/anise.yaml (or
// --config), its directories (repos.conf.d, config.protect.d, mask.d, subsets.conf.d,
// subsets.def.d) and the ANISE_ environment (nested keys joined by `__`). ouzo reads the
// directories under the configuration root (PORTAGE_CONFIGROOT, ROOT by default), as its sync
// does; anise's `config_from_host: false` reads them under the target rootfs instead.
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { OuzoError } from "../core/errors.js";
import { listDir } from "../core/fsutil.js";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";

export interface MaskRule {
  readonly atom: Atom;
  readonly text: string;
  readonly file: string;
}

export interface SubsetDefinition {
  readonly name: string;
  readonly rules: readonly RegExp[];
  /** `category/name` the rules apply to; empty with `categories` empty: every package. */
  readonly packages: readonly string[];
  readonly categories: readonly string[];
}

export interface AniseClientConfig {
  /** The configuration file read, if any. */
  readonly file: string | undefined;
  /** system.rootfs as configured (the CLI decides with --system-target and --root). */
  readonly rootfs: string | undefined;
  readonly concurrency: number;
  readonly sameOwner: boolean | undefined;
  readonly overwriteDirPerms: boolean;
  /** Seconds; 0 when not set. */
  readonly clientTimeout: number;
  readonly reposConfDirs: readonly string[];
  /** packages_maskdir, subsets_confdir, subsets_defdir as read (host paths), for the commands that edit them. */
  readonly maskDirs: readonly string[];
  readonly subsetsConfDirs: readonly string[];
  readonly subsetsDefDirs: readonly string[];
  /** Protected directories from config.protect.d (`/etc/`…). */
  readonly configProtect: readonly string[];
  readonly configProtectSkip: boolean;
  readonly masks: readonly MaskRule[];
  readonly subsetsEnabled: ReadonlySet<string>;
  readonly subsetDefinitions: readonly SubsetDefinition[];
  readonly finalizerEnvs: readonly (readonly [string, string])[];
  /** system.database_path (anise's own database directory, for importing it), relative to the rootfs. */
  readonly databasePath: string;
  /** ANISE_YES / general… `yes`: as -y. */
  readonly yes: boolean;
}

type Doc = Record<string, unknown>;
const isMap = (x: unknown): x is Doc => typeof x === "object" && x !== null && !Array.isArray(x);

function readYaml(file: string): Doc {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new OuzoError("ANISE_CONFIG", `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, { file });
  }
  try {
    const d = YAML.parse(text) ?? {};
    if (!isMap(d)) throw new Error("not a map");
    return d;
  } catch (e) {
    throw new OuzoError("ANISE_CONFIG", `not valid YAML: ${(e as Error).message.split("\n")[0]}`, { file });
  }
}

/** ANISE_SYSTEM__ROOTFS=/x → { system: { rootfs: "/x" } }; values true/false/numbers typed. */
export function envOverrides(env: NodeJS.ProcessEnv): Doc {
  const out: Doc = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith("ANISE_") || v === undefined) continue;
    const keys = k.slice(6).toLowerCase().split("__").filter(Boolean);
    if (!keys.length) continue;
    let at = out;
    for (const key of keys.slice(0, -1)) at = (isMap(at[key]) ? at[key] : (at[key] = {})) as Doc;
    at[keys[keys.length - 1]!] = v === "true" ? true : v === "false" ? false : /^\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

function merge(a: Doc, b: Doc): Doc {
  const out: Doc = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isMap(v) && isMap(out[k]) ? merge(out[k] as Doc, v) : v;
  return out;
}

const list = (x: unknown): string[] => (Array.isArray(x) ? x.map(String) : typeof x === "string" && x ? [x] : []);

/** YAML files of a directory in name order, `._cfg` and hidden files left out (as anise reads them). */
export function yamlFiles(dir: string): string[] {
  return (listDir(dir) ?? []).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith(".")).sort().map((n) => path.join(dir, n));
}

/** A mask rule as an atom, or undefined; a build number cannot be said in an atom: `=cat/pkg-1.0+2` masks every build of 1.0. */
export function maskRuleAtom(rule: string): Atom | undefined {
  return Atom.tryParse(rule.replace(/\+\d+(?=$|:)/, ""), USER_CONFIG_EAPI);
}

export interface LoadOptions {
  /** Where /etc/anise is read (the configuration root). */
  readonly configRoot: string;
  /** --config FILE: must exist. */
  readonly configFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly warn?: (message: string) => void;
}

export function loadAniseConfig(o: LoadOptions): AniseClientConfig {
  const warn = o.warn ?? (() => {});
  const defaultFile = path.join(o.configRoot, "etc", "anise", "anise.yaml");
  const file = o.configFile ?? (fs.existsSync(defaultFile) ? defaultFile : undefined);
  let doc: Doc = file ? readYaml(file) : {};
  doc = merge(doc, envOverrides(o.env ?? process.env));
  const general = isMap(doc.general) ? doc.general : {};
  const system = isMap(doc.system) ? doc.system : {};
  const fromHost = doc.config_from_host !== false;
  const rootfs = typeof system.rootfs === "string" && system.rootfs ? system.rootfs : undefined;
  // paths of the configuration are under the configuration root, or the rootfs without config_from_host
  const base = fromHost || !rootfs ? o.configRoot : rootfs;
  const at = (p: string) => (path.isAbsolute(p) ? path.join(base, p) : path.resolve(file ? path.dirname(file) : base, p));
  const dirs = (key: string, dflt: string) => (list(doc[key]).length ? list(doc[key]) : [dflt]).map(at);

  /** The YAML documents of the files in these directories, in order, as they are read; one that cannot be read is told and skipped. */
  function* documents(dirList: readonly string[]): Generator<{ file: string; doc: Doc }> {
    for (const dir of dirList) {
      for (const file of yamlFiles(dir)) {
        let d: Doc;
        try {
          d = readYaml(file);
        } catch (e) {
          warn((e as OuzoError).describe?.() ?? (e as Error).message);
          continue;
        }
        yield { file, doc: d };
      }
    }
  }

  const reposConfDirs = dirs("repos_confdir", "/etc/anise/repos.conf.d");
  const configProtect: string[] = [];
  for (const { doc: d } of documents(dirs("config_protect_confdir", "/etc/anise/config.protect.d"))) configProtect.push(...list(d.dirs));
  const masks: MaskRule[] = [];
  const maskDirs = dirs("packages_maskdir", "/etc/anise/mask.d");
  for (const { file: f, doc: m } of documents(maskDirs)) {
    if (m.enabled === false) continue;
    for (const rule of list(m.rules)) {
      const atom = maskRuleAtom(rule);
      if (atom) masks.push({ atom, text: rule, file: f });
      else warn(`${f}: '${rule}' is not a package atom; ignored`);
    }
  }
  const subsets = isMap(doc.subsets) ? doc.subsets : {};
  const enabled = new Set(list(subsets.enabled));
  const subsetsConfDirs = dirs("subsets_confdir", "/etc/anise/subsets.conf.d");
  for (const { doc: d } of documents(subsetsConfDirs)) for (const s of list(d.enabled)) enabled.add(s);
  const subsetDefinitions: SubsetDefinition[] = [];
  const subsetsDefDirs = dirs("subsets_defdir", "/etc/anise/subsets.def.d");
  for (const { file: f, doc: d } of documents(subsetsDefDirs)) {
    const defs = isMap(d.subsets_def) ? d.subsets_def : {};
    for (const [name, def] of Object.entries(defs)) {
      if (!isMap(def)) continue;
      const rules: RegExp[] = [];
      for (const r of list(def.rules)) {
        try {
          rules.push(new RegExp(r));
        } catch {
          warn(`${f}: subset '${name}': '${r}' is not a regular expression; ignored`);
        }
      }
      subsetDefinitions.push({ name, rules, packages: list(def.packages), categories: list(def.categories) });
    }
  }
  const finalizerEnvs: [string, string][] = [];
  if (Array.isArray(doc.finalizer_envs)) {
    for (const e of doc.finalizer_envs) if (isMap(e) && typeof e.key === "string") finalizerEnvs.push([e.key, String(e.value ?? "")]);
  }
  const num = (x: unknown, d: number) => (Number.isFinite(Number(x)) && x !== undefined && x !== "" ? Number(x) : d);
  return {
    file,
    rootfs,
    concurrency: Math.max(1, num(general.concurrency, 4)),
    sameOwner: typeof general.same_owner === "boolean" ? general.same_owner : undefined,
    overwriteDirPerms: general.overwrite_dir_perms === true,
    clientTimeout: num(general.client_timeout, 0),
    reposConfDirs,
    maskDirs,
    subsetsConfDirs,
    subsetsDefDirs,
    configProtect,
    configProtectSkip: doc.config_protect_skip === true,
    masks,
    subsetsEnabled: enabled,
    subsetDefinitions,
    finalizerEnvs,
    databasePath: typeof system.database_path === "string" && system.database_path ? system.database_path : "/var/cache/anise",
    yes: doc.yes === true,
  };
}
