/**
 * emerge's option forms (emerge spec §1.1) rewritten into the plain forms ouzo's command-line
 * table reads, before parsing:
 *
 * - `[y|n]` options take an optional following `y`/`n` (`--ask n`, `--ask=n`, `-a n`): `y` is the
 *   bare option, `n` its negation (`--no-ask`). A short option takes it only as the next word
 *   (`-kn` is `-k -n`), and only as the last letter of a bundle.
 * - `--deep` and `-D` take an optional depth, glued (`-D2`, `--deep=2`) or as the next word
 *   when it is a number (`-D 2`): it becomes `--deep` plus `--deep-level=N`.
 * - `--root-deps` takes an optional `rdeps`; alone it means `y`.
 * - Aliases: `--cols` is `--columns`, `--reinstall=changed-use` is `--changed-use`.
 * - `--color y|n` (emerge's values) is `--color always|never` (ouzo's).
 * - `--jobs` and `-j` take an optional number, glued or as the next word; without one there is
 *   no limit, written `--jobs=-1` (UNLIMITED_JOBS); a number below 1 is a usage error (MARK).
 *
 * Everything else passes through unchanged, so the parser names unknown options and bad values.
 */

import { UsageError } from "../core/errors.js";

/** Long options whose value is an optional y/n. */
const YN_LONG = new Set([
  "ask", "verbose", "quiet", "pretend", "select", "selective", "changed-deps", "changed-slot", "changed-deps-report",
  "complete-graph", "rebuild-if-new-rev", "rebuild-if-new-ver", "rebuild-if-unbuilt", "with-test-deps", "newrepo",
  "autounmask", "autounmask-use", "autounmask-license", "autounmask-keep-keywords", "autounmask-keep-masks", "autounmask-write",
  "autounmask-continue", "autounmask-only", "autounmask-unrestricted-atoms",
]);
/** Short options whose value is an optional y/n, with their long names. */
const YN_SHORT: Readonly<Record<string, string>> = { a: "ask", q: "quiet", v: "verbose", w: "select" };

const isYN = (w: string | undefined): w is "y" | "n" => w === "y" || w === "n";

/** `--jobs` without a number: as many builds at once as are ready. */
export const UNLIMITED_JOBS = -1;

/** A number of jobs the user gave: 1 or more. */
function jobsValue(v: string): string {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--jobs: '${v}' is not a number of jobs (1 or more; --jobs alone sets no limit)`);
  return `--jobs=${v}`;
}

export function emergeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  const yn = (name: string, v: "y" | "n") => out.push(v === "y" ? `--${name}` : `--no-${name}`);
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    const next = argv[i + 1];
    if (w === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const long = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(w);
    if (long) {
      const [, name, value] = long as unknown as [string, string, string | undefined];
      if (YN_LONG.has(name)) {
        if (isYN(value)) yn(name, value);
        else if (value === undefined && isYN(next)) yn(name, next), i++;
        else out.push(w);
        continue;
      }
      if (name === "deep") {
        if (value !== undefined) out.push("--deep", `--deep-level=${value}`);
        else if (next !== undefined && /^\d+$/.test(next)) out.push("--deep", `--deep-level=${next}`), i++;
        else out.push(w);
        continue;
      }
      if (name === "root-deps") {
        if (value !== undefined) out.push(`--root-deps=${value}`);
        else if (next === "rdeps") out.push("--root-deps=rdeps"), i++;
        else out.push("--root-deps=y");
        continue;
      }
      if (name === "jobs") {
        if (value !== undefined) out.push(jobsValue(value));
        else if (next !== undefined && /^\d+$/.test(next)) out.push(jobsValue(next)), i++;
        else out.push(`--jobs=${UNLIMITED_JOBS}`);
        continue;
      }
      if (name === "cols") {
        out.push(`--columns${value !== undefined ? `=${value}` : ""}`);
        continue;
      }
      if (name === "reinstall") {
        const v = value ?? next;
        if (v === "changed-use") {
          out.push("--changed-use");
          if (value === undefined) i++;
          continue;
        }
      }
      if (name === "color") {
        const v = value ?? (isYN(next) ? next : undefined);
        if (isYN(v)) {
          out.push(`--color=${v === "y" ? "always" : "never"}`);
          if (value === undefined) i++;
          continue;
        }
      }
      out.push(w);
      continue;
    }
    const short = /^-([A-Za-z]+)(\d*)$/.exec(w);
    if (short) {
      const [, letters, digits] = short as unknown as [string, string, string];
      const last = letters[letters.length - 1]!;
      if (last === "j") {
        if (letters.length > 1) out.push(`-${letters.slice(0, -1)}`);
        if (digits) out.push(jobsValue(digits));
        else if (next !== undefined && /^\d+$/.test(next)) out.push(jobsValue(next)), i++;
        else out.push(`--jobs=${UNLIMITED_JOBS}`);
        continue;
      }
      if (digits && last === "D") {
        out.push(`-${letters}`, `--deep-level=${digits}`);
        continue;
      }
      if (!digits && last === "D" && next !== undefined && /^\d+$/.test(next)) {
        out.push(w, `--deep-level=${next}`);
        i++;
        continue;
      }
      if (!digits && YN_SHORT[last] && isYN(next)) {
        if (letters.length > 1) out.push(`-${letters.slice(0, -1)}`);
        yn(YN_SHORT[last]!, next);
        i++;
        continue;
      }
    }
    out.push(w);
  }
  return out;
}
