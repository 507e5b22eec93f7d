import { describe, expect, it } from "vitest";
import { Version, compareVersions, vercmp } from "../src/pms/version.js";
import { Atom, parseCpv } from "../src/pms/atom.js";
import { USER_CONFIG_EAPI } from "../src/pms/eapi.js";
import {
  checkRequiredUse,
  formatRequiredUseFlag,
  formatSpec,
  parseDependencies,
  parseLicense,
  parsePlainTokens,
  parseRequiredUse,
  parseSrcUri,
  reduce,
  unacceptedLicenses,
} from "../src/pms/depspec.js";
import { OuzoError } from "../src/core/errors.js";
import { vectorBlocks, vectorRows } from "./vectors.js";

describe("versions", () => {
  for (const [kind, text] of vectorRows("versions.txt")) {
    it(`${kind === "valid" ? "accepts" : "rejects"} '${text}'`, () => {
      expect(Version.tryParse(text!) !== undefined).toBe(kind === "valid");
    });
  }

  const blocks = vectorBlocks("version-order.txt");
  for (const block of blocks) {
    it(`orders ${block[0]} … ${block[block.length - 1]} pairwise`, () => {
      const parsed = block.map((v) => Version.parse(v));
      for (let i = 0; i < parsed.length; i++) {
        for (let j = 0; j < parsed.length; j++) {
          const want = Math.sign(i - j);
          expect([block[i], block[j], Math.sign(compareVersions(parsed[i]!, parsed[j]!))]).toEqual([block[i], block[j], want]);
        }
      }
    });
    it(`sorts a shuffled ${block[0]} … block back into order`, () => {
      const shuffled = [...block].reverse().sort((a, b) => (a.length * 7 + b.charCodeAt(0)) % 3 - 1);
      expect(shuffled.map((v) => Version.parse(v)).sort(compareVersions).map(String)).toEqual(block);
    });
  }

  for (const [a, b] of vectorRows("version-equal.txt")) {
    it(`treats ${a} and ${b} as equal`, () => expect(vercmp(a!, b!)).toBe(0));
  }

  it("keeps numeric components beyond 64 bits exact", () => {
    expect(vercmp("18446744073709551616", "18446744073709551617")).toBe(-1);
    expect(vercmp("1.18446744073709551617", "1.18446744073709551616")).toBe(1);
  });

  it("rejects an invalid version with a message naming it", () => {
    expect(() => Version.parse("1.x")).toThrow("invalid version '1.x'");
  });
});

describe("atoms", () => {
  for (const [eapi, kind, text, canonical] of vectorRows("atoms.txt")) {
    const features = eapi === "user" ? USER_CONFIG_EAPI : eapi!;
    if (kind === "valid") {
      it(`EAPI ${eapi} accepts '${text}' and prints it back`, () => {
        const atom = Atom.parse(text!, features);
        const want = canonical === "=" ? text : canonical;
        expect(atom.toString()).toBe(want);
        expect(Atom.parse(atom.toString(), features).toString()).toBe(want);
      });
    } else {
      it(`EAPI ${eapi} rejects '${text}' naming it`, () => {
        let err: unknown;
        try {
          Atom.parse(text!, features);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(OuzoError);
        expect((err as OuzoError).message).toContain(`'${text}'`);
      });
    }
  }

  for (const [text, blocker, op, cat, pkg, ver, rev, slot, sub, slotop, repo, use] of vectorRows("atom-json.txt")) {
    it(`splits '${text}' into its fields`, () => {
      const a = Atom.parse(text!, USER_CONFIG_EAPI);
      const n = (s: string | undefined) => (s === "-" ? undefined : s);
      expect({
        blocker: a.blocker,
        op: a.operator,
        cat: a.category,
        pkg: a.package_,
        ver: a.version?.text,
        rev: a.version?.hasRevision ? a.version.revision : undefined,
        slot: a.slot,
        sub: a.subslot,
        slotop: a.slotOperator,
        repo: a.repo,
        use: a.useDeps.map((u) => u.text).join(","),
      }).toEqual({ blocker: n(blocker), op: n(op), cat, pkg, ver: n(ver), rev: n(rev), slot: n(slot), sub: n(sub), slotop: n(slotop), repo: n(repo), use: use ?? "" });
    });
  }

  for (const [atom, pkg, want] of vectorRows("atom-match.txt")) {
    it(`${want === "match" ? "matches" : "does not match"} ${atom} against ${pkg}`, () => {
      const m = /^([^:]+)(?::([^/:]+)(?:\/([^:]+))?)?(?:::(.+))?$/.exec(pkg!)!;
      const cpv = parseCpv(m[1]!);
      const a = Atom.parse(atom!, USER_CONFIG_EAPI);
      expect(a.matches({ category: cpv.category, package: cpv.package, version: cpv.version, slot: m[2] ?? "0", subslot: m[3], repo: m[4] ?? "core-kit" })).toBe(want === "match");
    });
  }

  describe("USE dependencies", () => {
    const target = { category: "dev-libs", package: "foo", version: Version.parse("1"), slot: "0", use: new Set(["a"]), iuse: new Set(["a", "b"]) };
    const cases: [string, string[], boolean][] = [
      ["dev-libs/foo[a]", [], true],
      ["dev-libs/foo[b]", [], false],
      ["dev-libs/foo[-b]", [], true],
      ["dev-libs/foo[-a]", [], false],
      ["dev-libs/foo[c]", [], false],
      ["dev-libs/foo[c(+)]", [], true],
      ["dev-libs/foo[c(-)]", [], false],
      ["dev-libs/foo[-c(-)]", [], true],
      ["dev-libs/foo[b?]", [], true],
      ["dev-libs/foo[b?]", ["b"], false],
      ["dev-libs/foo[a?]", ["a"], true],
      ["dev-libs/foo[!b?]", [], true],
      ["dev-libs/foo[!a?]", [], false],
      ["dev-libs/foo[!a?]", ["a"], true],
      ["dev-libs/foo[a=]", ["a"], true],
      ["dev-libs/foo[a=]", [], false],
      ["dev-libs/foo[!a=]", [], true],
      ["dev-libs/foo[!b=]", [], false],
      ["dev-libs/foo[!b=]", ["b"], true],
    ];
    for (const [atom, parent, want] of cases) {
      it(`${atom} with parent USE '${parent.join(" ")}' is ${want ? "met" : "not met"}`, () => {
        expect(Atom.parse(atom).matches(target, new Set(parent))).toBe(want);
      });
    }
  });
});

describe("dependency specifications", () => {
  const parsers: Record<string, (s: string, eapi: string) => unknown[]> = {
    depend: (s, e) => parseDependencies(s, e),
    license: (s) => parseLicense(s),
    srcuri: (s, e) => parseSrcUri(s, e),
    required_use: (s, e) => parseRequiredUse(s, e),
    restrict: (s) => parsePlainTokens(s, "RESTRICT"),
  };
  const leafText = (v: unknown) =>
    typeof v === "string" ? v : v instanceof Atom ? v.toString() : "uri" in (v as object) ? srcUriText(v as { uri: string; filename: string; renamed: boolean }) : formatRequiredUseFlag(v as { flag: string; negated: boolean });
  const srcUriText = (u: { uri: string; filename: string; renamed: boolean }) => (u.renamed ? `${u.uri} -> ${u.filename}` : u.uri);
  for (const [kind, eapi, validity, spec, normal] of vectorRows("depspecs.txt")) {
    if (validity === "valid") {
      it(`${kind} (EAPI ${eapi}) parses '${spec}'`, () => {
        const nodes = parsers[kind!]!(spec!, eapi!) as Parameters<typeof formatSpec>[0];
        expect(formatSpec(nodes, leafText)).toBe(normal === "=" ? spec : (normal ?? ""));
      });
    } else {
      it(`${kind} (EAPI ${eapi}) rejects '${spec}' with a position`, () => {
        expect(() => parsers[kind!]!(spec!, eapi!)).toThrow(/position \d+|end of input|needs EAPI/);
      });
    }
  }

  it("reduces USE conditionals under a USE set", () => {
    const nodes = parseDependencies("a/b foo? ( c/d !bar? ( e/f ) ) || ( g/h baz? ( i/j ) ) !foo? ( k/l )");
    expect(formatSpec(reduce(nodes, new Set(["foo"])))).toBe("a/b c/d e/f || ( g/h )");
    expect(formatSpec(reduce(nodes, new Set(["bar", "baz"])))).toBe("a/b || ( g/h i/j ) k/l");
  });

  it("reports the SRC_URI rename target as the distfile name", () => {
    const [n] = parseSrcUri("https://example.org/v1.0.tar.gz -> foo-1.0.tar.gz");
    expect(n).toEqual({ kind: "leaf", value: { uri: "https://example.org/v1.0.tar.gz", filename: "foo-1.0.tar.gz", renamed: true } });
  });

  it("names the unaccepted licenses, honouring || alternatives", () => {
    const lic = parseLicense("GPL-2 || ( EULA-X MIT ) doc? ( FDL )");
    const accepted = (l: string) => l !== "EULA-X" && l !== "FDL";
    expect(unacceptedLicenses(lic, new Set(), accepted)).toEqual([]);
    expect(unacceptedLicenses(lic, new Set(["doc"]), accepted)).toEqual(["FDL"]);
    expect(unacceptedLicenses(parseLicense("|| ( EULA-X FDL )"), new Set(), accepted)).toEqual(["EULA-X", "FDL"]);
  });
});

describe("REQUIRED_USE", () => {
  for (const [spec, flags, want] of vectorRows("required-use.txt")) {
    it(`'${spec}' with USE '${flags}' → ${want}`, () => {
      const use = new Set((flags ?? "").split(" ").filter(Boolean));
      expect(checkRequiredUse(parseRequiredUse(spec!), use) ?? "ok").toBe(want);
    });
  }
});
