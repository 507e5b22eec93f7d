// The file-conflict rule within one plan (anise.md §9.1), directory by directory: which files two
// packages of a plan both ship, whatever the order their metadata lists them in; the check
// against ROOT and its owners is exercised end to end in anise-install.test.ts.
import { describe, expect, it } from "vitest";
import type { AniseStep } from "../src/anise/AniseInstaller.js";
import type { PackageSpec } from "../src/anise/AnisePackage.js";
import { checkFileConflicts } from "../src/anise/fileConflicts.js";

function install(name: string, files: string[], annotations: Record<string, unknown> = {}): AniseStep {
  const spec: PackageSpec = { category: "app-misc", name, version: "1", requires: [], conflicts: [], provides: [], useFlags: [], hidden: false, annotations, labels: {}, description: "", license: "", uri: [] };
  return { kind: "install", entry: { spec, meta: { files } } as never, replacing: [] };
}

const ctx = { root: "/nonexistent", subsetsEnabled: new Set<string>(), subsetDefinitions: [], skipCheckSystem: true };

describe("checkFileConflicts within a plan", () => {
  it("finds a file two packages ship in a directory they share, and only there", () => {
    const a = install("a", ["usr/bin/a", "usr/bin/same", "usr/share/a/doc", "top"]);
    const b = install("b", ["usr/share/b/doc", "usr/bin/b", "usr/bin/same", "top"]);
    expect(checkFileConflicts([a, b], ctx)).toEqual(["/usr/bin/same is shipped by both app-misc/a-1 and app-misc/b-1", "/top is shipped by both app-misc/a-1 and app-misc/b-1"]);
  });

  it("finds it when a package's files of one directory are not listed together", () => {
    const a = install("a", ["usr/lib/x", "usr/bin/a", "usr/lib/y", "usr/bin/z"]);
    const b = install("b", ["usr/lib/q", "usr/lib/y"]);
    expect(checkFileConflicts([a, b], ctx)).toEqual(["/usr/lib/y is shipped by both app-misc/a-1 and app-misc/b-1"]);
  });

  it("does not count a package listing a file twice, a carried VDB entry, or a file of a disabled subset", () => {
    const subsets = { subsets: { rules: { devel: ["^/usr/include/"] } } };
    const a = install("a", ["usr/bin/a", "usr/bin/a", "var/db/pkg/app-misc/a-1/CONTENTS", "usr/include/h.h"], subsets);
    const b = install("b", ["usr/bin/b", "var/db/pkg/app-misc/a-1/CONTENTS", "usr/include/h.h"], subsets);
    expect(checkFileConflicts([a, b], ctx)).toEqual([]);
    // enabled, the subset's files are installed, and collide
    expect(checkFileConflicts([a, b], { ...ctx, subsetsEnabled: new Set(["devel"]) })).toEqual(["/usr/include/h.h is shipped by both app-misc/a-1 and app-misc/b-1"]);
  });

  it("names each later package that ships a file again", () => {
    const steps = ["a", "b", "c"].map((n) => install(n, [`usr/share/${n}/f`, "etc/shared.conf"]));
    expect(checkFileConflicts(steps, ctx)).toEqual(["/etc/shared.conf is shipped by both app-misc/a-1 and app-misc/b-1", "/etc/shared.conf is shipped by both app-misc/b-1 and app-misc/c-1"]);
  });
});
