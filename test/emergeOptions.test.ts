import { describe, expect, it } from "vitest";
import { emerge, KIT, system, vdb } from "./emergeFixture.js";
import { ouzo } from "./helpers.js";

/** The fixture's world file, with more entries. */
const world = (...more: string[]) => ({ "var/lib/portage/world": ["app-misc/consumer", "app-misc/foo", "app-misc/tool", "dev-lang/py", ...more].join("\n") + "\n" });

const planOf = (root: string, ...args: string[]) => JSON.parse(ouzo(["emerge", "--root", root, "--json", ...args]).stdout);

describe("ouzo emerge: the options that shape the plan (emerge spec §1.4, §6)", () => {
  it("-O merges only the arguments, in command-line order, with no dependency and no blocker", () => {
    const root = system();
    expect(emerge(root, "-pO", "app-misc/plugin", "app-misc/app", "app-misc/new").lines).toEqual([
      "[ebuild  N     ] app-misc/plugin-1.0 ",
      '[ebuild  N     ] app-misc/app-1.0  USE="gui" ',
      "[ebuild  N     ] app-misc/new-1.0 ",
    ]);
  });

  it("-o merges the dependencies of the arguments, not the arguments; --onlydeps-with-rdeps=n keeps the build-time ones", () => {
    const root = system();
    const all = emerge(root, "-po", "app-misc/app").lines;
    expect(all).toContain("[ebuild  N     ] app-misc/buildtool-1.0 ");
    expect(all).toContain("[ebuild  N     ] dev-libs/libgui-1.0 ");
    expect(all.some((l) => l.includes("app-misc/app-1.0"))).toBe(false);
    // PDEPEND is a runtime class: gone with n, with the plugin it pulled in
    expect(all.some((l) => l.includes("app-misc/plugin-1.0"))).toBe(true);
    const build = emerge(root, "-po", "--onlydeps-with-rdeps=n", "app-misc/app").lines;
    expect(build.some((l) => l.includes("app-misc/plugin-1.0"))).toBe(false);
    expect(build).toContain("[ebuild  N     ] app-misc/buildtool-1.0 ");
    // nothing goes into the world file with -o
    expect(planOf(root, "-po", "app-misc/app").world.add).toEqual([]);
  });

  it("--update-if-installed updates the arguments some version of which is installed, and skips the others", () => {
    const root = system();
    expect(emerge(root, "-p", "--update-if-installed", "app-misc/tool", "app-misc/fast").lines).toEqual(['[ebuild     U  ] app-misc/tool-1.1 [1.0] PYTHON_TARGETS="-python3_11%" ']);
  });

  it("--changed-slot, --reinstall-atoms and --selective=n merge an installed package again; -n alone does not", () => {
    const root = system(vdb("app-misc/base-1", { SLOT: "0/old" }));
    expect(emerge(root, "-pn", "app-misc/base").lines).toEqual([]);
    // the installed version is shown because its sub-slot differs (emerge spec §8.3)
    expect(emerge(root, "-pn", "--changed-slot", "app-misc/base").lines).toEqual(["[ebuild   R    ] app-misc/base-1 [1]"]);
    expect(emerge(root, "-pn", "--reinstall-atoms", "app-misc/base", "app-misc/base").lines).toEqual(["[ebuild   R    ] app-misc/base-1 [1]"]);
    expect(emerge(root, "-pN", "app-misc/fast", "--selective", "n", "app-misc/base").lines).toEqual(["[ebuild  N     ] app-misc/fast-1.0 ", "[ebuild   R    ] app-misc/base-1 [1]"]);
  });

  it("--with-test-deps adds what USE=test would need to an argument, not to its dependencies", () => {
    const root = system({
      [`${KIT}/tested/tested-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="has tests"\nSLOT="0"\nKEYWORDS="amd64"\nIUSE="test"\nRESTRICT="!test? ( test )"\nDEPEND="test? ( app-misc/fast )"\nRDEPEND="app-misc/wants-tested"\n',
      [`${KIT}/wants-tested/wants-tested-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="tested too"\nSLOT="0"\nKEYWORDS="amd64"\nIUSE="test"\nDEPEND="test? ( app-misc/slow )"\n',
    });
    expect(emerge(root, "-p", "app-misc/tested").lines).toEqual(['[ebuild  N     ] app-misc/wants-tested-1.0  USE="-test" ', '[ebuild  N     ] app-misc/tested-1.0  USE="-test" ']);
    expect(emerge(root, "-p", "--with-test-deps", "app-misc/tested").lines).toEqual([
      '[ebuild  N     ] app-misc/wants-tested-1.0  USE="-test" ',
      "[ebuild  N     ] app-misc/fast-1.0 ",
      '[ebuild  N     ] app-misc/tested-1.0  USE="-test" ',
    ]);
  });

  it("an update that moves a provider to a new sub-slot completes the graph: the installed := consumer is rebuilt, unless told otherwise", () => {
    const root = system();
    expect(emerge(root, "-pu", "dev-libs/libz").lines).toEqual(["[ebuild  r  U  ] dev-libs/libz-2.0 [1.0]", "[ebuild  rR    ] app-misc/consumer-1.0 "]);
    const doc = planOf(root, "-pu", "dev-libs/libz");
    expect(doc.plan[1].reasons).toContainEqual({ kind: "rebuild", by: "dev-libs/libz-2.0", trigger: "slot-operator" });
    expect(doc.rebuild_causes).toEqual([{ cause: "dev-libs/libz-2.0", rebuilds: ["app-misc/consumer-1.0"] }]);
    expect(emerge(root, "-pu", "--complete-graph-if-new-ver=n", "dev-libs/libz").lines).toEqual(["[ebuild     U  ] dev-libs/libz-2.0 [1.0]"]);
    expect(emerge(root, "-pu", "--ignore-built-slot-operator-deps=y", "dev-libs/libz").lines).toEqual(["[ebuild     U  ] dev-libs/libz-2.0 [1.0]"]);
  });

  it("complete mode refuses an update that breaks an installed package's dependency; without it the update goes ahead", () => {
    const root = system({ ...vdb("dev-libs/lib-1.0", {}), ...vdb("app-misc/wants-old-lib-1.0", { RDEPEND: "<dev-libs/lib-2" }), ...world("app-misc/wants-old-lib") });
    const r = emerge(root, "-p", "--complete-graph", "=dev-libs/lib-2.0");
    expect(r.code).toBe(1);
    expect(emerge(root, "-p", "--complete-graph-if-new-ver=n", "=dev-libs/lib-2.0").lines).toEqual(["[ebuild     U  ] dev-libs/lib-2.0 [1.0]"]);
    // with -u the update is the one left out: the installed version stays
    expect(emerge(root, "-pu", "dev-libs/lib").lines).toEqual([]);
  });

  it("--rebuild-if-new-ver rebuilds installed packages built against a dependency that changes version; --rebuild-exclude protects one", () => {
    const root = system({
      ...vdb("dev-libs/lib-1.0", {}),
      [`${KIT}/libuser/libuser-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="built with lib"\nSLOT="0"\nKEYWORDS="amd64"\nDEPEND="dev-libs/lib"\n',
      ...vdb("app-misc/libuser-1.0", { DEPEND: "dev-libs/lib" }),
      ...world("app-misc/libuser"),
    });
    expect(emerge(root, "-pu", "dev-libs/lib").lines).toEqual(["[ebuild     U  ] dev-libs/lib-2.0 [1.0]"]);
    expect(emerge(root, "-pu", "--rebuild-if-new-ver", "dev-libs/lib").lines).toEqual(["[ebuild     U  ] dev-libs/lib-2.0 [1.0]", "[ebuild  rR    ] app-misc/libuser-1.0 "]);
    expect(planOf(root, "-pu", "--rebuild-if-new-ver", "dev-libs/lib").plan[1].reasons).toContainEqual({ kind: "rebuild", by: "dev-libs/lib-2.0", trigger: "rebuild-if-new-ver" });
    expect(emerge(root, "-pu", "--rebuild-if-new-ver", "--rebuild-exclude", "app-misc/libuser", "dev-libs/lib").lines).toEqual(["[ebuild     U  ] dev-libs/lib-2.0 [1.0]"]);
    expect(emerge(root, "-pu", "--rebuild-if-unbuilt", "--rebuild-ignore", "dev-libs/lib", "dev-libs/lib").lines).toEqual(["[ebuild     U  ] dev-libs/lib-2.0 [1.0]"]);
  });

  it("--changed-deps-report lists installed packages whose ebuild's dependencies changed, and merges nothing for it", () => {
    const root = system({
      [`${KIT}/depchanged/depchanged-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="changed deps"\nSLOT="0"\nKEYWORDS="amd64"\nRDEPEND="app-misc/fast sys-libs/glibc"\n',
      ...vdb("app-misc/depchanged-1.0", {}),
      // only a libc dependency differs: not a change (emerge spec §6.7)
      [`${KIT}/libconly/libconly-1.0.ebuild`]: 'EAPI=7\nDESCRIPTION="libc only"\nSLOT="0"\nKEYWORDS="amd64"\nRDEPEND="virtual/libc"\n',
      ...vdb("app-misc/libconly-1.0", {}),
    });
    const r = emerge(root, "-pn", "--changed-deps-report", "app-misc/depchanged", "app-misc/libconly");
    expect(r.lines).toEqual([]);
    expect(r.stdout).toContain("    app-misc/depchanged-1.0::test-kit");
    expect(r.stdout).not.toContain("libconly-1.0::");
    expect(planOf(root, "-pn", "--changed-deps-report", "app-misc/depchanged").warnings).toContainEqual({ code: "changed-deps", cpv: "app-misc/depchanged-1.0", detail: "the ebuild's dependencies changed without a revision bump" });
    expect(emerge(root, "-pn", "--changed-deps", "app-misc/libconly").lines).toEqual([]);
  });

  it("the JSON plan says what the world file would gain: the slot for a specific atom of a slotted package, nothing with -1", () => {
    const root = system();
    expect(planOf(root, "-p", "app-misc/fast", "=dev-lang/py-3.10.2").world).toEqual({ add: ["app-misc/fast", "dev-lang/py:3.10"], add_sets: [], remove: [], remove_sets: [], applied: false });
    expect(planOf(root, "-p1", "app-misc/fast").world.add).toEqual([]);
    expect(planOf(root, "-p", "-w", "n", "app-misc/fast").world.add).toEqual([]);
  });

  it("refuses what emerge refuses: --tree with --columns and -e with -n (exit 1), a bad --backtrack (exit 2)", () => {
    const root = system();
    const tc = emerge(root, "-p", "--tree", "--columns", "app-misc/fast");
    expect([tc.code, tc.stderr.trim()]).toEqual([1, "ouzo: --tree and --columns cannot be used together"]);
    expect(emerge(root, "-pen", "app-misc/fast").code).toBe(1);
    const bt = emerge(root, "-p", "--backtrack=-1", "app-misc/fast");
    expect(bt.code).toBe(2);
    expect(bt.stderr).toContain("--backtrack takes a whole number");
    expect(emerge(root, "-p", "--backtrack=30", "app-misc/fast").lines).toEqual(["[ebuild  N     ] app-misc/fast-1.0 "]);
  });

  it("--tree prints the plan last-merged first, each package below its parent; --columns aligns the versions", () => {
    const root = system();
    const tree = emerge(root, "-pt", "app-misc/new");
    expect(tree.stdout).toContain("These are the packages that would be merged, in reverse order:");
    expect(tree.all.filter((l) => l.startsWith("["))).toEqual([
      "[nomerge       ] app-misc/new-1.0 ",
      '[blocks b      ]  app-misc/old ("app-misc/old" is blocking app-misc/new-1.0)',
      "[uninstall     ]   app-misc/old-1.0 ",
      "[ebuild  N     ] app-misc/new-1.0 ",
    ]);
    // the provider below the consumer rebuilt against it
    expect(emerge(root, "-puDN", "--tree", "@world").lines).toEqual([
      "[ebuild  NS    ] dev-lang/py-3.10.2 [3.9.1]",
      '[ebuild     U  ] app-misc/tool-1.1 [1.0] PYTHON_TARGETS="-python3_11%" ',
      '[ebuild     U  ] app-misc/foo-1.0-r1 [1.0] USE="-qux%" ',
      "[ebuild  rR    ] app-misc/consumer-1.0 ",
      "[ebuild  r  U  ]  dev-libs/libz-2.0 [1.0]",
    ]);
    const doc = planOf(root, "-puDN", "--tree", "@world");
    expect(doc.tree.at(-1)).toEqual({ kind: "merge", ref: 0, cpv: "dev-libs/libz-2.0", depth: 1 });
    const cols = emerge(root, "-pu", "--columns", "app-misc/tool").lines[0]!;
    expect(cols.indexOf("[1.1]") + 1).toBe(72);
    expect(cols.indexOf("[1.0]") + 1).toBe(101);
    expect(emerge(root, "-puq", "--columns", "app-misc/tool").lines).toEqual([]);
    expect(emerge(root, "-puq", "--columns", "app-misc/tool").all).toContain("    U  app-misc/tool 1.1 [1.0]");
  });

  it("--newrepo reinstalls a package whose ebuild now comes from another repository; a bare name prefers a real package to a virtual", () => {
    const root = system({
      "etc/portage/repos.conf/other-kit": "[other-kit]\nlocation = /var/db/repos/other-kit\n",
      "var/db/repos/other-kit/profiles/repo_name": "other-kit\n",
      "var/db/repos/other-kit/metadata/layout.conf": "masters = test-kit\n",
      "var/db/repos/other-kit/app-misc/moved/moved-1.0.ebuild": 'EAPI=7\nDESCRIPTION="moved"\nSLOT="0"\nKEYWORDS="amd64"\n',
      ...vdb("app-misc/moved-1.0", { repository: "gone-kit" }),
      "var/db/repos/other-kit/virtual/fast/fast-1.ebuild": 'EAPI=7\nDESCRIPTION="virtual"\nSLOT="0"\nKEYWORDS="amd64"\nRDEPEND="app-misc/fast"\n',
    });
    expect(emerge(root, "-pn", "app-misc/moved").lines).toEqual([]);
    expect(emerge(root, "-pn", "--newrepo", "app-misc/moved").lines).toEqual(["[ebuild   R    ] app-misc/moved-1.0 [1.0]"]);
    expect(emerge(root, "-p", "fast").lines).toEqual(["[ebuild  N     ] app-misc/fast-1.0 "]);
  });
});
