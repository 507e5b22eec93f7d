import { OuzoError } from "../core/errors.js";
import { Atom } from "./atom.js";
import { type EapiFeatures, eapiFeatures, LATEST_EAPI } from "./eapi.js";

/** A node of a dependency specification (PMS 8.2). Leaves carry the parsed value of their kind. */
export type DepNode<T> =
  | { readonly kind: "all"; readonly children: readonly DepNode<T>[] }
  | { readonly kind: "any"; readonly children: readonly DepNode<T>[] }
  | { readonly kind: "exactlyOne"; readonly children: readonly DepNode<T>[] }
  | { readonly kind: "atMostOne"; readonly children: readonly DepNode<T>[] }
  | { readonly kind: "use"; readonly flag: string; readonly negated: boolean; readonly children: readonly DepNode<T>[] }
  | { readonly kind: "leaf"; readonly value: T };

export interface SrcUri {
  readonly uri: string;
  /** Distfile name: the `->` target, or the last path component of the URI. */
  readonly filename: string;
  readonly renamed: boolean;
}

export interface RequiredUseFlag {
  readonly flag: string;
  readonly negated: boolean;
}

interface Grammar<T> {
  readonly what: string;
  readonly anyOf: boolean;
  readonly exactlyOne: boolean;
  readonly atMostOne: boolean;
  leaf(token: string, next: () => string | undefined, peek: () => string | undefined): T;
}

const USE_COND_RE = /^(!)?([A-Za-z0-9][A-Za-z0-9+_@-]*)\?$/;

/** Parse a dependency-style string with a grammar. Errors name the offending token and its position. */
function parseSpec<T>(text: string, g: Grammar<T>): DepNode<T>[] {
  const tokens: { t: string; pos: number }[] = [];
  const re = /\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) tokens.push({ t: m[0], pos: m.index });
  let i = 0;
  const fail = (msg: string, at: number): never => {
    const tok = tokens[at];
    const where = tok ? `'${tok.t}' at position ${tok.pos}` : "end of input";
    throw new OuzoError("BAD_DEPSPEC", `${g.what}: ${msg} (${where})`);
  };
  const next = () => tokens[i++]?.t;
  const peek = () => tokens[i]?.t;

  const parseGroup = (openAt: number | undefined): DepNode<T>[] => {
    const out: DepNode<T>[] = [];
    for (;;) {
      const at = i;
      const tok = tokens[i]?.t;
      if (tok === undefined) {
        if (openAt !== undefined) fail("unterminated group: missing ')'", openAt);
        return out;
      }
      i++;
      if (tok === ")") {
        if (openAt === undefined) fail("unexpected ')'", at);
        return out;
      }
      if (tok === "(") {
        out.push({ kind: "all", children: parseGroup(at) });
        continue;
      }
      if (tok === "||" || tok === "^^" || tok === "??") {
        const allowed = tok === "||" ? g.anyOf : tok === "^^" ? g.exactlyOne : g.atMostOne;
        if (!allowed) fail(`'${tok}' groups are not allowed here`, at);
        if (tokens[i]?.t !== "(") fail(`'${tok}' must be followed by '('`, at);
        i++;
        const children = parseGroup(at + 1);
        out.push({ kind: tok === "||" ? "any" : tok === "^^" ? "exactlyOne" : "atMostOne", children });
        continue;
      }
      const c = USE_COND_RE.exec(tok);
      if (c) {
        if (tokens[i]?.t !== "(") fail("a USE conditional must be followed by '('", at);
        i++;
        out.push({ kind: "use", flag: c[2]!, negated: !!c[1], children: parseGroup(at + 1) });
        continue;
      }
      if (tok.endsWith("?")) fail("invalid USE conditional", at);
      if (tok === "->") fail("'->' without a URI before it", at);
      try {
        out.push({ kind: "leaf", value: g.leaf(tok, next, peek) });
      } catch (e) {
        if (e instanceof OuzoError && e.code !== "BAD_DEPSPEC") fail(e.message, at);
        throw e;
      }
    }
  };
  return parseGroup(undefined);
}

function features(eapi: EapiFeatures | string): EapiFeatures {
  const f = typeof eapi === "string" ? eapiFeatures(eapi) : eapi;
  if (!f) throw new OuzoError("BAD_EAPI", `unsupported EAPI '${eapi}'`);
  return f;
}

/** DEPEND, RDEPEND, PDEPEND, BDEPEND, IDEPEND. */
export function parseDependencies(text: string, eapi: EapiFeatures | string = LATEST_EAPI): DepNode<Atom>[] {
  const f = features(eapi);
  return parseSpec<Atom>(text, {
    what: "dependency",
    anyOf: true,
    exactlyOne: false,
    atMostOne: false,
    leaf: (t) => Atom.parse(t, f),
  });
}

const LICENSE_RE = /^[A-Za-z0-9_][A-Za-z0-9+_.-]*$/;

export function parseLicense(text: string): DepNode<string>[] {
  return parseSpec<string>(text, {
    what: "LICENSE",
    anyOf: true,
    exactlyOne: false,
    atMostOne: false,
    leaf: (t) => {
      if (!LICENSE_RE.test(t)) throw new OuzoError("BAD_LICENSE", `invalid license name '${t}'`);
      return t;
    },
  });
}

/** RESTRICT and PROPERTIES: plain tokens with USE conditionals. */
export function parsePlainTokens(text: string, what: "RESTRICT" | "PROPERTIES"): DepNode<string>[] {
  return parseSpec<string>(text, { what, anyOf: false, exactlyOne: false, atMostOne: false, leaf: (t) => t });
}

export function parseSrcUri(text: string, eapi: EapiFeatures | string = LATEST_EAPI): DepNode<SrcUri>[] {
  const f = features(eapi);
  return parseSpec<SrcUri>(text, {
    what: "SRC_URI",
    anyOf: false,
    exactlyOne: false,
    atMostOne: false,
    leaf: (t, next, peek) => {
      let uri = t;
      if (/^(fetch|mirror)\+/.test(uri)) {
        if (!f.selectiveUriRestrictions) throw new OuzoError("BAD_SRC_URI", `'${uri.split("+")[0]}+' prefixes need EAPI 8`);
        uri = uri.slice(uri.indexOf("+") + 1);
      }
      if (peek() === "->") {
        if (!f.srcUriArrows) throw new OuzoError("BAD_SRC_URI", "'->' renames need EAPI 2 or later");
        next();
        const target = next();
        if (!target || target === "(" || target === ")" || target.includes("/")) {
          throw new OuzoError("BAD_SRC_URI", `'->' after '${t}' needs a file name`);
        }
        return { uri: t, filename: target, renamed: true };
      }
      const slash = uri.lastIndexOf("/");
      return { uri: t, filename: slash >= 0 ? uri.slice(slash + 1) : uri, renamed: false };
    },
  });
}

const FLAG_RE = /^(!)?([A-Za-z0-9][A-Za-z0-9+_@-]*)$/;

export function parseRequiredUse(text: string, eapi: EapiFeatures | string = LATEST_EAPI): DepNode<RequiredUseFlag>[] {
  const f = features(eapi);
  if (!f.requiredUse && text.trim()) throw new OuzoError("BAD_REQUIRED_USE", `REQUIRED_USE needs EAPI 4 or later (EAPI ${f.name})`);
  return parseSpec<RequiredUseFlag>(text, {
    what: "REQUIRED_USE",
    anyOf: true,
    exactlyOne: true,
    atMostOne: f.atMostOneOf,
    leaf: (t) => {
      const m = FLAG_RE.exec(t);
      if (!m) throw new OuzoError("BAD_REQUIRED_USE", `invalid flag '${t}'`);
      return { flag: m[2]!, negated: !!m[1] };
    },
  });
}

/**
 * Evaluate USE conditionals under a USE set: the result has no `use` nodes; all-of groups are
 * flattened into their parent, `||` groups keep their structure.
 */
export function reduce<T>(nodes: readonly DepNode<T>[], use: ReadonlySet<string>): DepNode<T>[] {
  const out: DepNode<T>[] = [];
  for (const n of nodes) {
    switch (n.kind) {
      case "leaf":
        out.push(n);
        break;
      case "all":
        out.push(...reduce(n.children, use));
        break;
      case "use":
        if (use.has(n.flag) !== n.negated) out.push(...reduce(n.children, use));
        break;
      default: {
        const children = reduce(n.children, use);
        if (children.length) out.push({ kind: n.kind, children });
      }
    }
  }
  return out;
}

/** Every leaf, whatever the conditionals (for indexes such as reposcan relations). */
export function allLeaves<T>(nodes: readonly DepNode<T>[], out: T[] = []): T[] {
  for (const n of nodes) {
    if (n.kind === "leaf") out.push(n.value);
    else allLeaves(n.children, out);
  }
  return out;
}

/** Print a spec back in normal form. */
export function formatSpec<T>(nodes: readonly DepNode<T>[], leaf: (v: T) => string = String): string {
  const group = (children: readonly DepNode<T>[]) => (children.length ? `( ${formatSpec(children, leaf)} )` : "( )");
  return nodes
    .map((n) => {
      switch (n.kind) {
        case "leaf":
          return leaf(n.value);
        case "all":
          return `${group(n.children)}`;
        case "any":
          return `|| ${group(n.children)}`;
        case "exactlyOne":
          return `^^ ${group(n.children)}`;
        case "atMostOne":
          return `?? ${group(n.children)}`;
        case "use":
          return `${n.negated ? "!" : ""}${n.flag}? ${group(n.children)}`;
      }
    })
    .join(" ");
}

export const formatRequiredUseFlag = (f: RequiredUseFlag): string => (f.negated ? "!" : "") + f.flag;

/**
 * Check REQUIRED_USE (PMS 8.2.7) against a USE set. Returns the first top-level constraint that does
 * not hold, in normal form, or undefined when all hold.
 */
export function checkRequiredUse(nodes: readonly DepNode<RequiredUseFlag>[], use: ReadonlySet<string>): string | undefined {
  for (const n of nodes) {
    if (!satisfied(n, use)) return formatSpec([n], formatRequiredUseFlag);
  }
  return undefined;
}

function satisfied(n: DepNode<RequiredUseFlag>, use: ReadonlySet<string>): boolean {
  switch (n.kind) {
    case "leaf":
      return use.has(n.value.flag) !== n.value.negated;
    case "all":
      return n.children.every((c) => satisfied(c, use));
    case "use":
      return use.has(n.flag) === n.negated || n.children.every((c) => satisfied(c, use));
    default: {
      // Conditional children whose condition is false do not take part in the count.
      const counted = n.children.filter((c) => c.kind !== "use" || use.has(c.flag) !== c.negated);
      const count = counted.filter((c) => satisfied(c, use)).length;
      if (n.kind === "any") return counted.length === 0 || count >= 1;
      if (n.kind === "exactlyOne") return counted.length === 0 ? true : count === 1;
      return count <= 1;
    }
  }
}

/** Is a LICENSE spec accepted? Returns the names that are not accepted (empty = accepted). */
export function unacceptedLicenses(nodes: readonly DepNode<string>[], use: ReadonlySet<string>, accepted: (name: string) => boolean): string[] {
  const missing: string[] = [];
  for (const n of reduce(nodes, use)) {
    if (n.kind === "leaf") {
      if (!accepted(n.value)) missing.push(n.value);
    } else if (n.kind === "any") {
      const alts = n.children.map((c) => unacceptedLicenses([c], use, accepted));
      if (!alts.some((a) => a.length === 0)) missing.push(...alts.flat());
    } else if (n.kind === "all") {
      missing.push(...unacceptedLicenses(n.children, use, accepted));
    }
  }
  return [...new Set(missing)];
}
