import { OuzoError } from "../core/errors.js";
import { type EapiFeatures, eapiFeatures, LATEST_EAPI } from "./eapi.js";
import { Version, VERSION_PATTERN, compareVersions, globMatches } from "./version.js";

export type Operator = "<" | "<=" | "=" | "=*" | "~" | ">=" | ">";
export type Blocker = "!" | "!!";
export type SlotOperator = "=" | "*";

/** One `[...]` USE dependency token (PMS 8.3.4). */
export interface UseDep {
  readonly text: string;
  readonly flag: string;
  /** `enabled` [x], `disabled` [-x], `equal` [x=], `opposite` [!x=], `ifEnabled` [x?], `ifDisabled` [!x?] */
  readonly kind: "enabled" | "disabled" | "equal" | "opposite" | "ifEnabled" | "ifDisabled";
  /** `(+)` or `(-)`: what to assume when the target lacks the flag in IUSE. */
  readonly missing: "+" | "-" | undefined;
}

/** What an atom is matched against. */
export interface PackageRef {
  readonly category: string;
  readonly package: string;
  readonly version: Version;
  readonly slot?: string;
  readonly subslot?: string;
  readonly repo?: string;
  /** Effective USE of the package, for USE deps. */
  readonly use?: ReadonlySet<string>;
  /** IUSE (without +/-) of the package, for USE dep defaults. */
  readonly iuse?: ReadonlySet<string>;
}

// Character classes of PMS names (3.1): the first character of any name, then what may follow.
const NAME_FIRST = "[A-Za-z0-9_]";
const CATEGORY_REST = "[A-Za-z0-9+_.-]";
const PACKAGE_REST = "[A-Za-z0-9+_-]";
const SLOT_REST = "[A-Za-z0-9+_.-]";
const REPO_REST = "[A-Za-z0-9_-]";
const FLAG_FIRST = "[A-Za-z0-9]";
const FLAG_REST = "[A-Za-z0-9+_@-]";

export const CATEGORY_PATTERN = `${NAME_FIRST}${CATEGORY_REST}*`;
export const PACKAGE_PATTERN = `${NAME_FIRST}${PACKAGE_REST}*`;
export const SLOT_NAME_PATTERN = `${NAME_FIRST}${SLOT_REST}*`;
const SLOT_NAME = SLOT_NAME_PATTERN;
const REPO_NAME = `${NAME_FIRST}${REPO_REST}*`;

/**
 * Extended atoms of user configuration (Portage's wildcard syntax): `*` anywhere in the category
 * or package name, an optional slot and repository, no operator, version or USE deps.
 */
const EXTENDED_RE = new RegExp(`^([A-Za-z0-9_*][A-Za-z0-9+_.*-]*)/([A-Za-z0-9_*][A-Za-z0-9+_*-]*)(?::(${SLOT_NAME}))?(?:::(${REPO_NAME}))?$`);

/**
 * What lexAtom found. One record reused by every call, so that lexing allocates nothing but the
 * substrings and the Version (this runs for every atom of every tree; parsing is synchronous).
 */
const lexed = {
  blocker: undefined as Blocker | undefined,
  op: undefined as string | undefined,
  category: "",
  pkg: "",
  version: undefined as Version | undefined,
  glob: false,
  slotPart: undefined as string | undefined,
  repo: undefined as string | undefined,
  use: undefined as string | undefined,
};

/**
 * Split an atom into blocker, operator, category, package, version, glob, slot part, repository
 * and USE part (into `lexed`) by scanning from both ends; false when it cannot be an atom.
 * Semantic checks follow in Atom.parse.
 */
function lexAtom(s: string): boolean {
  let i = 0;
  let blocker: Blocker | undefined;
  if (s.charCodeAt(0) === 33) {
    if (s.charCodeAt(1) === 33) {
      blocker = "!!";
      i = 2;
    } else {
      blocker = "!";
      i = 1;
    }
  }
  let op: string | undefined;
  const c = s.charCodeAt(i);
  if (c === 60 || c === 62) {
    // < >
    if (s.charCodeAt(i + 1) === 61) {
      op = c === 60 ? "<=" : ">=";
      i += 2;
    } else {
      op = c === 60 ? "<" : ">";
      i++;
    }
  } else if (c === 61 || c === 126) {
    // = ~
    op = c === 61 ? "=" : "~";
    i++;
  }
  let end = s.length;
  let use: string | undefined;
  if (s.charCodeAt(end - 1) === 93) {
    const open = s.indexOf("[", i);
    if (open < 0) return false;
    use = s.slice(open + 1, end - 1);
    if (use.includes("[") || use.includes("]")) return false;
    end = open;
  }
  let repo: string | undefined;
  const rr = s.indexOf("::", i);
  if (rr >= 0 && rr < end) {
    if (!isName(s, rr + 2, end, REPO_CHARS)) return false;
    repo = s.slice(rr + 2, end);
    end = rr;
  }
  let slotPart: string | undefined;
  const colon = s.indexOf(":", i);
  if (colon >= 0 && colon < end) {
    slotPart = s.slice(colon + 1, end);
    end = colon;
  }
  const slash = s.indexOf("/", i);
  if (slash < 0 || slash >= end) return false;
  if (!isName(s, i, slash, CATEGORY_CHARS)) return false;
  const category = s.slice(i, slash);
  const glob = s.charCodeAt(end - 1) === 42; // *
  const mainEnd = glob ? end - 1 : end;
  let pkgEnd = mainEnd;
  let version: Version | undefined;
  // The version starts at the first "-<digit>" whose remainder is a whole valid version (PMS 3.1.2).
  for (let j = s.indexOf("-", slash + 1); j >= 0 && j < mainEnd; j = s.indexOf("-", j + 1)) {
    const d = s.charCodeAt(j + 1);
    if (d < 48 || d > 57) continue;
    const v = Version.tryParse(s.slice(j + 1, mainEnd));
    if (v) {
      pkgEnd = j;
      version = v;
      break;
    }
  }
  if (!isName(s, slash + 1, pkgEnd, PACKAGE_CHARS)) return false;
  const pkg = s.slice(slash + 1, pkgEnd);
  lexed.blocker = blocker;
  lexed.op = op;
  lexed.category = category;
  lexed.pkg = pkg;
  lexed.version = version;
  lexed.glob = glob;
  lexed.slotPart = slotPart;
  lexed.repo = repo;
  lexed.use = use;
  return true;
}

const NO_USE_DEPS: readonly UseDep[] = Object.freeze([]);

// The same classes as tables of the 128 ASCII characters, for the lexer: a regular expression
// test per name cost a tenth of parsing an atom.
function charTable(cls: string): Uint8Array {
  const re = new RegExp(`^${cls}$`);
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) t[c] = re.test(String.fromCharCode(c)) ? 1 : 0;
  return t;
}
const NAME_FIRST_CHARS = charTable(NAME_FIRST);
const CATEGORY_CHARS = charTable(CATEGORY_REST);
const PACKAGE_CHARS = charTable(PACKAGE_REST);
const HYPHEN_DIGIT_RE = /-\d/;
const ENDS_IN_VERSION_RE = new RegExp(`-${VERSION_PATTERN}$`);
const SLOT_CHARS = charTable(SLOT_REST);
const REPO_CHARS = charTable(REPO_REST);
const FLAG_FIRST_CHARS = charTable(FLAG_FIRST);
const FLAG_CHARS = charTable(FLAG_REST);

/** Whether `table` has s[i] (ASCII only). */
function has(table: Uint8Array, s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c < 128 && table[c] === 1;
}

/** Whether s[from, to) is a name: a first character of any name, then characters of `rest`. */
function isName(s: string, from: number, to: number, rest: Uint8Array): boolean {
  if (from >= to || !has(NAME_FIRST_CHARS, s, from)) return false;
  for (let i = from + 1; i < to; i++) if (!has(rest, s, i)) return false;
  return true;
}

function badAtom(text: string, why: string): never {
  throw new OuzoError("BAD_ATOM", `invalid atom '${text}': ${why}`);
}


export class Atom {
  /** An extended atom (`*` in the category or package name), matched as a glob. */
  readonly extended: boolean;
  private globRe: RegExp | undefined;

  constructor(
    readonly blocker: Blocker | undefined,
    readonly operator: Operator | undefined,
    readonly category: string,
    readonly package_: string,
    readonly version: Version | undefined,
    readonly slot: string | undefined,
    readonly subslot: string | undefined,
    readonly slotOperator: SlotOperator | undefined,
    readonly useDeps: readonly UseDep[],
    readonly repo: string | undefined,
  ) {
    this.extended = category.includes("*") || package_.includes("*");
  }

  /** `category/package`. */
  get cp(): string {
    return `${this.category}/${this.package_}`;
  }

  /** Parse an atom, validating it against an EAPI's features. Throws OuzoError naming the problem. */
  static parse(text: string, eapi: EapiFeatures | string = LATEST_EAPI): Atom {
    const features = typeof eapi === "string" ? eapiFeatures(eapi) : eapi;
    if (!features) throw new OuzoError("BAD_EAPI", `unsupported EAPI '${eapi}'`);
    if (text.includes("*")) {
      const x = EXTENDED_RE.exec(text);
      if (x && (x[1]!.includes("*") || x[2]!.includes("*"))) {
        if (!features.extendedAtoms) throw new OuzoError("BAD_ATOM", `invalid atom '${text}': '*' in a name is allowed only in /etc/portage files`);
        return new Atom(undefined, undefined, x[1]!, x[2]!, undefined, x[3], undefined, undefined, [], x[4]);
      }
    }
    if (!lexAtom(text)) throw new OuzoError("BAD_ATOM", `invalid atom '${text}': ${diagnose(text)}`);
    const { blocker, op, category, pkg, version, glob, slotPart, repo, use } = lexed;
    if (blocker === "!!" && !features.strongBlockers) badAtom(text, `'!!' blockers need EAPI 2 or later (EAPI ${features.name})`);
    let operator: Operator | undefined = op as Operator | undefined;
    if (glob) {
      if (op !== "=") badAtom(text, "'*' is only allowed with the '=' operator");
      if (!version) badAtom(text, "'*' needs a version");
      operator = "=*";
    }
    // PMS 3.1.2: `b-1` cannot be a package name, so `<a/b-1-1` is no atom (checked only when a
    // hyphen is followed by a digit: the rare case)
    if (HYPHEN_DIGIT_RE.test(pkg) && ENDS_IN_VERSION_RE.test(pkg)) badAtom(text, `the package name '${pkg}' ends in a hyphen and a version, which PMS forbids`);
    if (version && !operator) badAtom(text, "a version needs an operator such as '=' or '>='");
    if (operator && !version) badAtom(text, `operator '${operator}' needs a version`);
    let slot: string | undefined;
    let subslot: string | undefined;
    let slotOperator: SlotOperator | undefined;
    if (slotPart !== undefined) {
      if (!features.slotDeps) badAtom(text, `slot dependencies need EAPI 1 or later (EAPI ${features.name})`);
      // [SLOT[/SUBSLOT]][=|*], not empty
      let end = slotPart.length;
      const last = slotPart.charCodeAt(end - 1);
      if (last === 61 || last === 42) {
        slotOperator = last === 61 ? "=" : "*";
        end--;
      }
      if (end > 0) {
        const sl = slotPart.indexOf("/");
        const slotEnd = sl >= 0 && sl < end ? sl : end;
        if (!isName(slotPart, 0, slotEnd, SLOT_CHARS) || (slotEnd < end && !isName(slotPart, slotEnd + 1, end, SLOT_CHARS))) {
          badAtom(text, `invalid slot dependency ':${slotPart}'`);
        }
        slot = slotPart.slice(0, slotEnd);
        if (slotEnd < end) subslot = slotPart.slice(slotEnd + 1, end);
      } else if (!slotOperator) badAtom(text, `invalid slot dependency ':${slotPart}'`);
      if ((subslot || slotOperator) && !features.slotOperators) badAtom(text, `sub-slots and slot operators need EAPI 5 or later (EAPI ${features.name})`);
      if (slotOperator === "*" && slot) badAtom(text, "':*' cannot name a slot");
      if (blocker && slotOperator) badAtom(text, "a blocker cannot use a slot operator");
    }
    if (repo !== undefined && !features.repoDeps) badAtom(text, `'::${repo}' repository dependencies are not allowed in EAPI ${features.name}`);
    let useDeps: readonly UseDep[] = NO_USE_DEPS;
    if (use !== undefined) {
      if (!features.useDeps) badAtom(text, `USE dependencies need EAPI 2 or later (EAPI ${features.name})`);
      useDeps = parseUseDeps(use, features, text);
    }
    return new Atom(blocker, operator, category, pkg, version, slot, subslot, slotOperator, useDeps, repo);
  }

  static tryParse(text: string, eapi: EapiFeatures | string = LATEST_EAPI): Atom | undefined {
    try {
      return Atom.parse(text, eapi);
    } catch {
      return undefined;
    }
  }

  /** Canonical form; parsing it again yields the same atom. */
  toString(): string {
    let s = (this.blocker ?? "") + (this.operator === "=*" ? "=" : (this.operator ?? "")) + this.category + "/" + this.package_;
    if (this.version) s += "-" + this.version.text + (this.operator === "=*" ? "*" : "");
    if (this.slot !== undefined || this.slotOperator) {
      s += ":" + (this.slot ?? "") + (this.subslot !== undefined ? "/" + this.subslot : "") + (this.slotOperator ?? "");
    }
    if (this.repo !== undefined) s += "::" + this.repo;
    if (this.useDeps.length) s += "[" + this.useDeps.map((u) => u.text).join(",") + "]";
    return s;
  }

  /** The same atom without the blocker. */
  unblocked(): Atom {
    return new Atom(undefined, this.operator, this.category, this.package_, this.version, this.slot, this.subslot, this.slotOperator, this.useDeps, this.repo);
  }

  /** Version, slot and repository match (no USE deps). */
  matchesIgnoringUse(p: PackageRef): boolean {
    if (p.package !== this.package_ || p.category !== this.category) {
      if (!this.extended) return false;
      this.globRe ??= new RegExp(`^${this.cp.replace(/[.+]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
      if (!this.globRe.test(`${p.category}/${p.package}`)) return false;
    }
    if (this.version && !versionMatches(this.operator!, this.version, p.version)) return false;
    if (this.slot !== undefined && p.slot !== undefined && this.slot !== p.slot) return false;
    if (this.subslot !== undefined && p.subslot !== undefined && this.subslot !== (p.subslot || p.slot)) return false;
    if (this.repo !== undefined && p.repo !== undefined && this.repo !== p.repo) return false;
    return true;
  }

  /**
   * Full match (PMS 8.3): version, slot, repository and USE deps. `parentUse` is the USE of the
   * package whose dependency this atom is, for conditional USE deps.
   */
  matches(p: PackageRef, parentUse?: ReadonlySet<string>): boolean {
    if (!this.matchesIgnoringUse(p)) return false;
    if (!this.useDeps.length) return true;
    return useDepsSatisfied(this.useDeps, p, parentUse);
  }
}

function versionMatches(op: Operator, want: Version, have: Version): boolean {
  switch (op) {
    case "=":
      return compareVersions(have, want) === 0;
    case "=*":
      return globMatches(want, have);
    case "~":
      return compareVersions(stripRev(have), stripRev(want)) === 0;
    case "<":
      return compareVersions(have, want) < 0;
    case "<=":
      return compareVersions(have, want) <= 0;
    case ">":
      return compareVersions(have, want) > 0;
    case ">=":
      return compareVersions(have, want) >= 0;
  }
}

function stripRev(v: Version): Version {
  return v.hasRevision ? Version.parse(v.withoutRevision) : v;
}

/** `[a,-b,c?,!c?,c=,!c=,d(+),e(-)]`: the tokens between the brackets, scanned (a hot path). */
function parseUseDeps(body: string, features: EapiFeatures, atom: string): UseDep[] {
  if (body === "") badAtom(atom, "empty USE dependency '[]'");
  const out: UseDep[] = [];
  let from = 0;
  for (;;) {
    let to = body.indexOf(",", from);
    if (to < 0) to = body.length;
    out.push(useDep(body, from, to, features, atom));
    if (to === body.length) return out;
    from = to + 1;
  }
}

function useDep(body: string, from: number, to: number, features: EapiFeatures, atom: string): UseDep {
  let i = from;
  const prefix = body.charCodeAt(i); // ! or -
  if (prefix === 33 || prefix === 45) i++;
  const flagStart = i;
  let ok = i < to && has(FLAG_FIRST_CHARS, body, i);
  if (ok) for (i++; i < to && has(FLAG_CHARS, body, i); i++);
  const flagEnd = i;
  let missing: "+" | "-" | undefined;
  // (+) or (-); a flag may itself end in '+' or '-', which the scan above took: "(" stops it
  if (ok && body.charCodeAt(i) === 40) {
    const d = body.charCodeAt(i + 1);
    if ((d === 43 || d === 45) && body.charCodeAt(i + 2) === 41) {
      missing = d === 43 ? "+" : "-";
      i += 3;
    } else ok = false;
  }
  let suffix: "=" | "?" | undefined;
  const sc = body.charCodeAt(i);
  if (ok && i < to && (sc === 61 || sc === 63)) {
    suffix = sc === 61 ? "=" : "?";
    i++;
  }
  const text = body.slice(from, to);
  if (!ok || i !== to) badAtom(atom, `invalid USE dependency '${text}'`);
  if (missing && !features.useDepDefaults) badAtom(atom, `USE dependency defaults need EAPI 4 or later in '${text}'`);
  let kind: UseDep["kind"];
  if (prefix === 45) {
    if (suffix) badAtom(atom, `'-' cannot combine with '${suffix}' in '${text}'`);
    kind = "disabled";
  } else if (prefix === 33) {
    if (!suffix) badAtom(atom, `'!' needs '?' or '=' in '${text}'`);
    kind = suffix === "?" ? "ifDisabled" : "opposite";
  } else {
    kind = suffix === "?" ? "ifEnabled" : suffix === "=" ? "equal" : "enabled";
  }
  return { text, flag: body.slice(flagStart, flagEnd), kind, missing };
}

function useDepsSatisfied(deps: readonly UseDep[], p: PackageRef, parentUse?: ReadonlySet<string>): boolean {
  for (const d of deps) {
    const has = targetFlag(d, p);
    if (has === undefined) return false;
    const want = useDepWant(d, parentUse?.has(d.flag) ?? false);
    if (want !== undefined && has !== want) return false;
  }
  return true;
}

/**
 * What a USE dependency asks of the target's flag, given the parent's flag (PMS 8.3.4): on (true),
 * off (false), or nothing (undefined: `[x?]` with the parent's x off, `[!x?]` with it on).
 */
export function useDepWant(d: UseDep, parentHas: boolean): boolean | undefined {
  switch (d.kind) {
    case "enabled":
      return true;
    case "disabled":
      return false;
    case "equal":
      return parentHas;
    case "opposite":
      return !parentHas;
    case "ifEnabled":
      return parentHas ? true : undefined;
    case "ifDisabled":
      return parentHas ? undefined : false;
  }
}

/** The target's state of a flag, or undefined when it lacks the flag and no default is given. */
function targetFlag(d: UseDep, p: PackageRef): boolean | undefined {
  if (p.iuse && !p.iuse.has(d.flag)) return d.missing === undefined ? undefined : d.missing === "+";
  return p.use?.has(d.flag) ?? false;
}

function diagnose(text: string): string {
  if (text === "") return "empty";
  if (!text.includes("/")) return "missing 'category/'";
  if (/\s/.test(text)) return "contains white space";
  const open = text.indexOf("[");
  if (open >= 0 && !text.endsWith("]")) return "unterminated '['";
  const body = text.replace(/^!!?/, "").replace(/^(<=|>=|=|~|<|>)/, "");
  const slash = body.indexOf("/");
  const cat = body.slice(0, slash);
  if (!new RegExp(`^${CATEGORY_PATTERN}$`).test(cat)) return `invalid category '${cat}'`;
  const rest = body.slice(slash + 1).split(/[:[]/)[0]!;
  if (!rest) return "missing package name";
  const pkg = rest.replace(/\*$/, "");
  if (/^[<>=~]/.test(body) && !new RegExp(`-${VERSION_PATTERN}$`).test(pkg)) return `operator without a valid version in '${pkg}'`;
  if (!new RegExp(`^${PACKAGE_PATTERN}(-${VERSION_PATTERN})?$`).test(pkg)) return `invalid package name or version '${pkg}'`;
  return "unexpected characters";
}

/** Parse `category/PF` (a cpv) into its parts. */
export interface Cpv {
  readonly category: string;
  readonly package: string;
  readonly version: Version;
  readonly cpv: string;
}

const CPV_RE = new RegExp(`^(${CATEGORY_PATTERN})/(${PACKAGE_PATTERN}?)-(${VERSION_PATTERN})$`);

export function parseCpv(text: string): Cpv {
  const m = CPV_RE.exec(text);
  if (!m) throw new OuzoError("BAD_CPV", `invalid package version '${text}'`);
  return { category: m[1]!, package: m[2]!, version: Version.parse(m[3]!), cpv: text };
}

/** Split an ebuild file's `PN-PV` (without `.ebuild`) given its package directory name. */
export function splitPf(pn: string, pf: string): Version | undefined {
  if (!pf.startsWith(pn + "-")) return undefined;
  return Version.tryParse(pf.slice(pn.length + 1));
}
