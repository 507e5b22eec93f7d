// The request of `ouzo emerge`: atoms, short names and sets as emerge reads them (emerge spec
// §1.1, §2.4), and the ATOMS values of options such as --exclude.
import * as path from "node:path";
import type { Config } from "../config/Config.js";
import { OuzoError, UsageError } from "../core/errors.js";
import { listDir } from "../core/fsutil.js";
import { categoriesOf } from "../metadata/ebuildTree.js";
import { Atom } from "../pms/atom.js";
import { COMMAND_LINE_EAPI, USER_CONFIG_EAPI } from "../pms/eapi.js";
import type { RequestAtom } from "../resolve/resolve.js";
import { readWorld } from "../vdb/world.js";
import type { InstalledSource } from "./emergeSources.js";
import { closest } from "./suggest.js";

/** `gnome` → `gnome-base/gnome` when exactly one category has it (emerge's short names). */
function expandShortName(config: Config, name: string, installed: InstalledSource): string {
  const cats = new Set<string>();
  const all = new Set<string>();
  for (const r of config.repos.repos) {
    for (const c of categoriesOf(r.location)) {
      for (const pn of listDir(path.join(r.location, c)) ?? []) {
        all.add(`${c}/${pn}`);
        if (pn === name) cats.add(c);
      }
    }
  }
  for (const c of installed.all) if (c.package === name) cats.add(c.category);
  if (cats.size === 1) return `${[...cats][0]}/${name}`;
  // one real package wins over virtual ones of the same name (emerge spec §1.1)
  const real = [...cats].filter((c) => c !== "virtual" && c !== "acct-group" && c !== "acct-user");
  if (real.length === 1) return `${real[0]}/${name}`;
  if (cats.size > 1) throw new OuzoError("AMBIGUOUS", `the short ebuild name "${name}" is ambiguous; please specify one of: ${[...cats].sort().map((c) => `${c}/${name}`).join(", ")}`);
  const near = closest(name, [...all].map((cp) => cp.slice(cp.indexOf("/") + 1)));
  throw new OuzoError("NO_MATCH", `there are no ebuilds to satisfy "${name}"${near.length ? `; did you mean ${[...all].filter((cp) => near.includes(cp.slice(cp.indexOf("/") + 1))).slice(0, 5).join(", ")}?` : ""}`);
}

/** The request: atoms and sets (emerge spec §2.4), in the order emerge adds them. */
export function requestOf(config: Config, args: readonly string[], root: string, installed: InstalledSource): RequestAtom[] {
  const out: RequestAtom[] = [];
  const world = () => readWorld(root, (w) => {
    throw new OuzoError("BAD_WORLD", w.message, { file: w.file, line: w.line });
  });
  const sorted = (as: readonly Atom[]) => [...as].sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
  const addSet = (name: string, seen: Set<string>) => {
    if (seen.has(name)) return;
    seen.add(name);
    switch (name) {
      case "world":
        addSet("system", seen);
        addSet("selected", seen);
        return;
      case "selected": {
        const w = world();
        for (const a of sorted(w.atoms)) out.push({ arg: "@selected", atom: a, set: "selected" });
        for (const s of [...w.sets].sort().reverse()) addSet(s, seen);
        return;
      }
      case "system":
        for (const a of sorted(config.system)) out.push({ arg: "@system", atom: a, set: "system" });
        return;
      case "installed":
        for (const c of installed.all) out.push({ arg: "@installed", atom: Atom.parse(`${c.category}/${c.package}:${c.slot}`, COMMAND_LINE_EAPI), set: "installed" });
        return;
      default: {
        const s = config.userSets.get(name);
        if (!s) throw new OuzoError("UNKNOWN_SET", `there is no set named @${name} (sets: @world @selected @system @installed${[...config.userSets.keys()].map((k) => ` @${k}`).join("")})`);
        for (const a of sorted(s)) out.push({ arg: `@${name}`, atom: a, set: name });
      }
    }
  };
  for (const arg of args) {
    if (arg.startsWith("@") || arg === "world" || arg === "system") {
      addSet(arg.replace(/^@/, ""), new Set());
      continue;
    }
    let text = arg;
    if (!arg.includes("/")) {
      // a bare name, possibly with an operator and version: expand its category
      const m = /^([<>=~!]*)([A-Za-z0-9+_][A-Za-z0-9+_-]*?)(-\d.*)?$/.exec(arg);
      if (!m) throw new UsageError(`'${arg}' is not an atom, a set or a package name`);
      text = `${m[1]}${expandShortName(config, m[2]!, installed)}${m[3] ?? ""}`;
    }
    try {
      out.push({ arg, atom: Atom.parse(text, COMMAND_LINE_EAPI) });
    } catch (e) {
      throw new UsageError((e as OuzoError).message);
    }
  }
  return out;
}

/**
 * The values of an ATOMS option (--exclude, --rebuild-exclude, --reinstall-atoms…): several per
 * value, space-separated, a bare name for any category, wildcards allowed (emerge spec §1.4).
 * `names`: only names or slot atoms (--exclude and the --rebuild-* lists); operators, USE and
 * blockers are then usage errors.
 */
export function optionAtoms(option: string, values: readonly string[], names = true): Atom[] {
  return values.flatMap((v) => v.split(/\s+/).filter(Boolean)).map((t) => {
    if (names && (/^[<>=~!]/.test(t) || t.includes("["))) throw new UsageError(`--${option} takes package names or slot atoms, not '${t}'`);
    const m = /^([<>=~]*)([^/]*)$/.exec(t);
    try {
      return Atom.parse(t.includes("/") ? t : `${m?.[1] ?? ""}*/${m?.[2] ?? t}`, USER_CONFIG_EAPI);
    } catch (e) {
      throw new UsageError(`--${option}: ${(e as OuzoError).message}`);
    }
  });
}
