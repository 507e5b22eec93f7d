// Finalizers (anise.md §10): finalize.yaml is a Go template rendered with `.Values` = the
// package's definition.yaml, then `install`/`uninstall` scripts run with `shell` (default
// `sh -c`), each script as the last argument. Only the template subset real specs use is
// supported: `{{ .Values.key }}` (nested keys too) and `{{ index .Values.labels "key" }}`; anything
// else is an error naming it. The environment is built, never inherited: the configured
// finalizer_envs, --finalizer-env, ANISE_SUBSETS and the tool's version. With a rootfs other than
// `/` the scripts run inside it (chroot), so the target must hold the shell.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { OuzoError } from "../core/errors.js";

export interface Finalizer {
  readonly shell: readonly string[];
  readonly install: readonly string[];
  readonly uninstall: readonly string[];
}

type Doc = Record<string, unknown>;

function lookup(values: Doc, dotted: string): unknown {
  let cur: unknown = values;
  for (const k of dotted.split(".").filter(Boolean)) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Doc)[k];
  }
  return cur;
}

const show = (v: unknown): string => (v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

/** Render the template subset; throws for an action it does not know. */
export function renderTemplate(text: string, values: Doc, where: string): string {
  const root = { Values: values };
  return text.replace(/\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g, (_m, _l: string, expr: string) => {
    const field = /^\.([A-Za-z_][\w.]*)$/.exec(expr);
    if (field) return show(lookup(root, field[1]!));
    const idx = /^index\s+\.([A-Za-z_][\w.]*)((?:\s+"[^"]*")+)$/.exec(expr);
    if (idx) {
      let v = lookup(root, idx[1]!);
      for (const k of idx[2]!.match(/"[^"]*"/g)!) v = typeof v === "object" && v !== null ? (v as Doc)[k.slice(1, -1)] : undefined;
      return show(v);
    }
    throw new OuzoError("ANISE_FINALIZER", `${where}: the template action '{{ ${expr} }}' is not supported (ouzo renders .Values fields and 'index .Values.labels "key"')`);
  });
}

/** Parse finalize.yaml after rendering it with the definition's values. */
export function parseFinalizer(text: string, definition: Doc, where: string): Finalizer {
  const rendered = renderTemplate(text, definition, where);
  let doc: Doc;
  try {
    doc = (YAML.parse(rendered) ?? {}) as Doc;
  } catch (e) {
    throw new OuzoError("ANISE_FINALIZER", `${where}: not valid YAML once rendered: ${(e as Error).message.split("\n")[0]}`);
  }
  const strings = (x: unknown) => (Array.isArray(x) ? x.map(String) : typeof x === "string" ? [x] : []);
  const shell = strings(doc.shell);
  return { shell: shell.length ? shell : ["sh", "-c"], install: strings(doc.install), uninstall: strings(doc.uninstall) };
}

export interface FinalizerEnvironment {
  /** finalizer_envs of the configuration, then --finalizer-env (later wins). */
  readonly vars: readonly (readonly [string, string])[];
  readonly subsets: readonly string[];
  readonly toolVersion: string;
}

export function finalizerEnv(e: FinalizerEnvironment): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of e.vars) env[k] = v;
  env.ANISE_SUBSETS = e.subsets.join(" ");
  env.ANISE_VERSION = e.toolVersion;
  return env;
}

export interface ScriptResult {
  readonly script: string;
  readonly status: number;
  readonly output: string;
}

/** A program on this host's PATH: the scripts' environment has none, so the host's is searched here. */
function hostProgram(name: string): string {
  if (name.includes("/")) return name;
  for (const d of (process.env.PATH || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    const p = path.join(d || ".", name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not there
    }
  }
  return name;
}

/** Run one script of a finalizer in ROOT; resolves with its status and output (never rejects for a failing script). */
export function runScript(f: Finalizer, script: string, root: string, env: Record<string, string>): Promise<ScriptResult> {
  const argv = [...f.shell, script];
  let cmd: string;
  let args: string[];
  if (root === "/") [cmd, args] = [hostProgram(argv[0]!), argv.slice(1)];
  else if (process.getuid?.() === 0) [cmd, args] = [hostProgram("chroot"), [root, ...argv]];
  else [cmd, args] = [hostProgram("unshare"), ["--map-root-user", `--root=${root}`, ...argv]];
  return new Promise((resolve) => {
    let output = "";
    const child = spawn(cmd, args, { env, cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => (output += d));
    child.stderr.on("data", (d: Buffer) => (output += d));
    child.on("error", (e) => resolve({ script, status: 127, output: `${output}${cmd}: ${e.message}\n` }));
    child.on("close", (code, signal) => resolve({ script, status: code ?? (signal ? 128 : 1), output }));
  });
}

/** Run the `install` or `uninstall` scripts in order; stops at the first failure. */
export async function runFinalizer(f: Finalizer, which: "install" | "uninstall", root: string, env: Record<string, string>): Promise<{ ok: boolean; results: ScriptResult[] }> {
  const results: ScriptResult[] = [];
  for (const s of f[which]) {
    const r = await runScript(f, s, root, env);
    results.push(r);
    if (r.status !== 0) return { ok: false, results };
  }
  return { ok: true, results };
}

/** The finalizer as recorded with an installed package (JSON), for uninstall after the repository changed. */
export function finalizerRecord(f: Finalizer): string {
  return JSON.stringify({ shell: f.shell, install: f.install, uninstall: f.uninstall });
}

export function readFinalizerRecord(text: string | undefined): Finalizer | undefined {
  if (!text?.trim()) return undefined;
  try {
    const d = JSON.parse(text) as Finalizer;
    return { shell: d.shell?.length ? d.shell : ["sh", "-c"], install: d.install ?? [], uninstall: d.uninstall ?? [] };
  } catch {
    return undefined;
  }
}
