// CONTENTS of an installed package (build spec §9.4): what it owns, one line per entry.
//   dir PATH | obj PATH MD5 MTIME | sym PATH -> TARGET MTIME | fif PATH | dev PATH
// Paths start with "/" and are relative to ROOT. Lines are split from the right, as Portage and
// portage-utils do, so a path may hold blanks; ouzo refuses to record a path with a newline or a
// symlink whose path or target holds " -> " (they would not read back).
import { OuzoError } from "../core/errors.js";

export type ContentsEntry =
  | { readonly type: "dir"; readonly path: string }
  | { readonly type: "obj"; readonly path: string; readonly md5: string; readonly mtime: number }
  | { readonly type: "sym"; readonly path: string; readonly target: string; readonly mtime: number }
  | { readonly type: "fif"; readonly path: string }
  | { readonly type: "dev"; readonly path: string };

export interface ContentsProblem {
  readonly line: number;
  readonly text: string;
  readonly why: string;
}

/** Parse CONTENTS; corrupt lines are skipped and reported (Portage's reader does the same). */
export function parseContents(text: string, problems: ContentsProblem[] = []): ContentsEntry[] {
  const out: ContentsEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const sp = line.indexOf(" ");
    const type = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? "" : line.slice(sp + 1);
    const bad = (why: string) => problems.push({ line: i + 1, text: line, why });
    switch (type) {
      case "dir":
      case "fif":
      case "dev":
        if (!rest.startsWith("/")) bad("no absolute path");
        else out.push({ type, path: rest });
        break;
      case "obj": {
        const m = /^(\/.*) ([0-9a-f]{32}) (\d+)$/.exec(rest);
        if (!m) bad("expected 'obj PATH MD5 MTIME'");
        else out.push({ type, path: m[1]!, md5: m[2]!, mtime: Number(m[3]) });
        break;
      }
      case "sym": {
        // the mtime is the last field (older Portage: a parenthesised tuple), the target after the last " -> "
        const m = /^(.*) (\d+|\([^)]*\))$/.exec(rest);
        const arrow = m ? m[1]!.lastIndexOf(" -> ") : -1;
        if (!m || arrow < 0 || !m[1]!.startsWith("/")) bad("expected 'sym PATH -> TARGET MTIME'");
        else out.push({ type, path: m[1]!.slice(0, arrow), target: m[1]!.slice(arrow + 4), mtime: /^\d+$/.test(m[2]!) ? Number(m[2]) : 0 });
        break;
      }
      default:
        bad(`unknown entry type '${type}'`);
    }
  }
  return out;
}

/** One CONTENTS line (with its newline); throws for what would not read back. */
export function formatContentsEntry(e: ContentsEntry): string {
  if (e.path.includes("\n") || !e.path.startsWith("/")) throw new OuzoError("contents-path", `cannot record '${e.path}' in CONTENTS: a path must be absolute and hold no newline`);
  switch (e.type) {
    case "obj":
      return `obj ${e.path} ${e.md5} ${Math.trunc(e.mtime)}\n`;
    case "sym":
      if (e.path.includes(" -> ") || e.target.includes(" -> ") || e.target.includes("\n")) {
        throw new OuzoError("contents-path", `cannot record the symlink '${e.path}' -> '${e.target}' in CONTENTS: ' -> ' in a symlink's path or target does not read back`);
      }
      return `sym ${e.path} -> ${e.target} ${Math.trunc(e.mtime)}\n`;
    default:
      return `${e.type} ${e.path}\n`;
  }
}

export function formatContents(entries: readonly ContentsEntry[]): string {
  return entries.map(formatContentsEntry).join("");
}
