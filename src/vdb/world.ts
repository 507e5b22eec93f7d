import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { readFileIfExists } from "../core/fsutil.js";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";

/** An entry of a world file that could not be used, with its file and line. */
export interface WorldWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** What the user selected: the atoms of `var/lib/portage/world` and the sets of `world_sets`. */
export interface World {
  readonly atoms: readonly Atom[];
  /** Set names without the `@`. */
  readonly sets: readonly string[];
}

export function worldFile(root: string): string {
  return path.join(root, "var", "lib", "portage", "world");
}

export function worldSetsFile(root: string): string {
  return path.join(root, "var", "lib", "portage", "world_sets");
}

/** Non-comment lines with their numbers: the first whitespace-separated token of each. */
function tokens(file: string): { token: string; line: number }[] {
  const text = readFileIfExists(file);
  if (text === undefined) return [];
  const out: { token: string; line: number }[] = [];
  text.split("\n").forEach((l, i) => {
    const t = l.trim().split(/\s+/)[0] ?? "";
    if (t && !t.startsWith("#")) out.push({ token: t, line: i + 1 });
  });
  return out;
}

/**
 * Read the world files as emerge does (emerge spec §2.2): one item per line, first token only,
 * comments and blank lines skipped, duplicates collapsed. An invalid entry is reported with its
 * file and line and skipped. World atoms may carry `:slot` and `::repo` (versions are accepted).
 */
export function readWorld(root: string, warn: (w: WorldWarning) => void = () => {}): World {
  const atoms = new Map<string, Atom>();
  const file = worldFile(root);
  for (const { token, line } of tokens(file)) {
    try {
      const a = Atom.parse(token, USER_CONFIG_EAPI);
      if (a.blocker) throw new OuzoError("BAD_ATOM", `a blocker is not a world entry: '${token}'`);
      if (a.category.includes("*") || a.package_.includes("*")) throw new OuzoError("BAD_ATOM", `a wildcard is not a world entry: '${token}'`);
      atoms.set(a.toString(), a);
    } catch (e) {
      if (!(e instanceof OuzoError)) throw e;
      warn({ file, line, message: `${e.message}; entry skipped` });
    }
  }
  const sets = new Set<string>();
  const setsFile = worldSetsFile(root);
  for (const { token, line } of tokens(setsFile)) {
    if (!/^@[A-Za-z0-9_][A-Za-z0-9_+./-]*$/.test(token)) warn({ file: setsFile, line, message: `'${token}' is not a set name (@name); entry skipped` });
    else sets.add(token.slice(1));
  }
  return { atoms: [...atoms.values()], sets: [...sets] };
}
