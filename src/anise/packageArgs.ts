// anise's package arguments (anise.md §14): `cat/name` (any version), `name` (its category looked
// up; more than one is an error), `cat/name-1.0` (exactly that version), `>=cat/name-1.0`,
// `cat/name@>=1.0`, `name@1.0`. Each becomes a PMS atom; a `+BUILD` in it is kept apart, since
// an atom cannot say it (the build then narrows the matches).
import { OuzoError, UsageError } from "../core/errors.js";
import { Atom } from "../pms/atom.js";
import { COMMAND_LINE_EAPI } from "../pms/eapi.js";
import { parseAniseVersion, parseSelector, selectorDependency } from "./version.js";

export interface PackageArg {
  readonly arg: string;
  readonly atom: Atom;
  /** An exact build number asked for (`cat/name-1.0+2`). */
  readonly build: number | undefined;
}

export interface NameLookup {
  /** Categories that have a package of this name (repositories and installed). */
  categoriesOf(name: string): string[];
}

const NAME = "[A-Za-z0-9_][A-Za-z0-9+_-]*";

export function parsePackageArg(arg: string, names: NameLookup): PackageArg {
  const text = arg.trim();
  const withCategory = (name: string): string => {
    const cats = names.categoriesOf(name);
    if (!cats.length) throw new OuzoError("ANISE_NO_PACKAGE", `no package called '${name}' in the anise repositories or installed`, {}, 1);
    if (cats.length > 1) throw new OuzoError("ANISE_AMBIGUOUS", `'${name}' is in several categories: ${cats.map((c) => `${c}/${name}`).join(", ")}; name one`, {}, 2);
    return `${cats[0]}/${name}`;
  };
  const atomOf = (s: string): Atom => {
    try {
      return Atom.parse(s, COMMAND_LINE_EAPI);
    } catch (e) {
      throw new UsageError(`'${arg}' is not a package argument anise or ouzo understands: ${(e as OuzoError).message}`);
    }
  };
  // name@selector and cat/name@selector
  const at = text.indexOf("@");
  if (at > 0) {
    let cp = text.slice(0, at);
    if (!cp.includes("/")) cp = withCategory(cp);
    const [category, name] = cp.split("/") as [string, string];
    let sel;
    try {
      sel = parseSelector(text.slice(at + 1));
    } catch (e) {
      throw new UsageError(`'${arg}': ${(e as Error).message}`);
    }
    const dep = selectorDependency(category, name, sel);
    if (dep.startsWith("||")) throw new UsageError(`'${arg}': '!=' cannot be asked for on the command line; use a range`);
    return { arg, atom: atomOf(dep), build: sel?.op === "=" ? sel.version.build : undefined };
  }
  // an operator in front: an atom, with an optional +BUILD after its version
  const op = /^(>=|<=|>|<|=|~)/.exec(text)?.[1];
  if (op) {
    let rest = text.slice(op.length);
    const build = /\+(\d+)$/.exec(rest);
    if (build) rest = rest.slice(0, -build[0].length);
    if (!rest.includes("/")) {
      const m = new RegExp(`^(${NAME}?)-(\\d.*)$`).exec(rest);
      if (!m) throw new UsageError(`'${arg}': a version is needed after '${op}'`);
      rest = `${withCategory(m[1]!)}-${m[2]}`;
    }
    return { arg, atom: atomOf(`${op}${rest}`), build: build ? Number(build[1]) : undefined };
  }
  // cat/name-VERSION (exact) or cat/name
  if (text.includes("/")) {
    const m = new RegExp(`^([^/]+)/(${NAME}?)-(\\d[^/]*)$`).exec(text);
    if (m && parseAniseVersion(m[3]!)) {
      const v = parseAniseVersion(m[3]!)!;
      return { arg, atom: atomOf(`=${m[1]}/${m[2]}-${v.pms.text}`), build: v.build };
    }
    return { arg, atom: atomOf(text), build: undefined };
  }
  const m = new RegExp(`^(${NAME}?)-(\\d[^/]*)$`).exec(text);
  if (m && parseAniseVersion(m[2]!) && names.categoriesOf(text).length === 0) {
    const v = parseAniseVersion(m[2]!)!;
    return { arg, atom: atomOf(`=${withCategory(m[1]!)}-${v.pms.text}`), build: v.build };
  }
  return { arg, atom: atomOf(withCategory(text)), build: undefined };
}
