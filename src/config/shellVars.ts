import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { exists, isDirectory, listConfigDir, noteInput } from "../core/fsutil.js";

/** One `VAR=value` read from make.conf or make.defaults, value already expanded. */
export interface Assignment {
  readonly name: string;
  readonly value: string;
  readonly file: string;
  readonly line: number;
}

export interface ShellVarsOptions {
  /** Allow `source FILE` (make.conf only). */
  readonly allowSource?: boolean;
  /** Variables visible to `${VAR}` expansion; updated with each assignment read. */
  readonly scope: Map<string, string>;
  /** false: `$VAR` and `${…}` stay as written (env.d files are read so, build spec §10.7). */
  readonly expand?: boolean;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Read the restricted shell syntax of make.conf and make.defaults: assignments with optional
 * `export`, single quotes (literal), double quotes and bare words (with `${VAR}`, `$VAR`,
 * `${VAR:-default}`, `${VAR-default}`), backslash-newline continuations, `#` comments and, in
 * make.conf, `source FILE`. Anything else is an error naming file and line.
 */
export function readShellVars(file: string, opts: ShellVarsOptions, text?: string): Assignment[] {
  noteInput(file);
  const src = text ?? fs.readFileSync(file, "utf8");
  const out: Assignment[] = [];
  let i = 0;
  let line = 1;
  const n = src.length;
  const fail = (msg: string, at = line): never => {
    throw new OuzoError("BAD_CONFIG_SYNTAX", msg, { file, line: at });
  };

  const skipBlanks = () => {
    for (;;) {
      const c = src[i];
      if (c === " " || c === "\t" || c === "\r") i++;
      else if (c === "\\" && src[i + 1] === "\n") {
        i += 2;
        line++;
      } else break;
    }
  };

  /** At '$': the expansion's value, or with `expand: false` its text as written. */
  const expandVar = (startLine: number): string => {
    const from = i;
    i++;
    if (src[i] === "{") {
      const close = src.indexOf("}", i);
      const nl = src.indexOf("\n", i);
      if (close < 0 || (nl >= 0 && nl < close)) fail("unterminated '${'", startLine);
      const body = src.slice(i + 1, close);
      i = close + 1;
      if (opts.expand === false) return src.slice(from, i);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+=])(.*))?$/.exec(body);
      if (!m) fail(`unsupported expansion '\${${body}}'`, startLine);
      const val = opts.scope.get(m![1]!);
      const op = m![2];
      const arg = m![3] ?? "";
      if (!op) return val ?? "";
      const unset = op.startsWith(":") ? !val : val === undefined;
      if (op.endsWith("-") || op.endsWith("=")) return unset ? arg : val!;
      return unset ? "" : arg; // :+ / +
    }
    const m = NAME_RE.exec(src.slice(i, i + 256));
    if (!m) return "$";
    i += m[0].length;
    return opts.expand === false ? src.slice(from, i) : (opts.scope.get(m[0]) ?? "");
  };

  /** Read one shell word (value), possibly made of several quoted and bare parts. */
  const readWord = (): string => {
    let value = "";
    const startLine = line;
    for (;;) {
      const c = src[i];
      if (c === undefined || c === "\n" || c === " " || c === "\t" || c === "\r" || c === ";") return value;
      if (c === "#" && value === "") return value;
      if (c === "'") {
        const close = src.indexOf("'", i + 1);
        if (close < 0) fail("unterminated single quote", startLine);
        const part = src.slice(i + 1, close);
        line += countNewlines(part);
        value += part;
        i = close + 1;
      } else if (c === '"') {
        i++;
        for (;;) {
          const d = src[i];
          if (d === undefined) fail("unterminated double quote", startLine);
          if (d === '"') {
            i++;
            break;
          }
          if (d === "\\") {
            const e = src[i + 1];
            if (e === "\n") {
              i += 2;
              line++;
              continue;
            }
            if (e === '"' || e === "\\" || e === "$" || e === "`") {
              value += e;
              i += 2;
              continue;
            }
            value += d;
            i++;
            continue;
          }
          if (d === "$") {
            value += expandVar(startLine);
            continue;
          }
          if (d === "`") fail("command substitution is not allowed", line);
          if (d === "\n") line++;
          value += d;
          i++;
        }
      } else if (c === "\\") {
        const e = src[i + 1];
        if (e === "\n") {
          i += 2;
          line++;
          continue;
        }
        if (e === undefined) return value;
        value += e;
        i += 2;
      } else if (c === "$") {
        if (src[i + 1] === "(") fail("command substitution is not allowed", line);
        value += expandVar(startLine);
      } else if (c === "`" || c === "(" || c === ")" || c === "|" || c === "&" || c === "<" || c === ">") {
        fail(`unexpected '${c}'`, line);
      } else {
        value += c;
        i++;
      }
    }
  };

  while (i < n) {
    skipBlanks();
    const c = src[i];
    if (c === undefined) break;
    if (c === "\n" || c === ";") {
      if (c === "\n") line++;
      i++;
      continue;
    }
    if (c === "#") {
      const nl = src.indexOf("\n", i);
      i = nl < 0 ? n : nl;
      continue;
    }
    const startLine = line;
    let m = NAME_RE.exec(src.slice(i, i + 256));
    if (m && m[0] === "export" && (src[i + 6] === " " || src[i + 6] === "\t")) {
      i += 6;
      skipBlanks();
      m = NAME_RE.exec(src.slice(i, i + 256));
    }
    const dotSource = !m && src[i] === "." && (src[i + 1] === " " || src[i + 1] === "\t");
    if (dotSource || (m && m[0] === "source" && src[i + 6] !== "=")) {
      if (!opts.allowSource) fail("'source' is only allowed in make.conf", startLine);
      i += dotSource ? 1 : 6;
      skipBlanks();
      const target = readWord();
      if (!target) fail("'source' needs a file name", startLine);
      const resolved = path.resolve(path.dirname(file), target);
      noteInput(resolved);
      if (!fs.existsSync(resolved)) fail(`sourced file '${target}' does not exist`, startLine);
      out.push(...readShellVars(resolved, opts));
      continue;
    }
    if (!m || src[i + m[0].length] !== "=") {
      const word = /^\S*/.exec(src.slice(i))![0];
      fail(`expected VAR=value, found '${word.slice(0, 40)}'`, startLine);
    }
    const name = m![0];
    i += name.length + 1;
    const value = readWord();
    skipBlanks();
    const after = src[i];
    if (after !== undefined && after !== "\n" && after !== "#" && after !== ";") {
      fail(`unexpected text after the value of ${name}`, line);
    }
    opts.scope.set(name, value);
    out.push({ name, value, file, line: startLine });
  }
  return out;
}

function countNewlines(s: string): number {
  let k = 0;
  for (let j = 0; j < s.length; j++) if (s.charCodeAt(j) === 10) k++;
  return k;
}

/** Tokens of an incremental variable's value. */
export function tokens(value: string | undefined): string[] {
  return value ? value.split(/\s+/).filter(Boolean) : [];
}

/**
 * The assignments of `/etc/portage/make.conf` (a file, or a directory of files read in order),
 * none when it does not exist. `scope` is what `${VAR}` sees, and is updated.
 */
export function readMakeConf(portageDir: string, scope: Map<string, string> = new Map()): Assignment[] {
  const confPath = path.join(portageDir, "make.conf");
  if (isDirectory(confPath)) return listConfigDir(confPath).flatMap((f) => readShellVars(f, { scope, allowSource: true }));
  return exists(confPath) ? readShellVars(confPath, { scope, allowSource: true }) : [];
}
