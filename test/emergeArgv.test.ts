import { describe, expect, it } from "vitest";
import { GLOBAL_OPTIONS } from "../src/cli/commandLine.js";
import { emergeArgv, otherEmergeAction, shellWords, withDefaultOpts, type OptionKinds } from "../src/cli/emergeArgv.js";

describe("emerge's option forms (emerge spec §1.1)", () => {
  it("an optional y/n after a long option, glued or as the next word; n is the negation", () => {
    expect(emergeArgv(["emerge", "--ask", "n", "--changed-deps=y", "--select", "n", "--complete-graph", "app-misc/foo"])).toEqual(["emerge", "--no-ask", "--changed-deps", "--no-select", "--complete-graph", "app-misc/foo"]);
    // a word other than y/n is an argument, not a value
    expect(emergeArgv(["emerge", "--ask", "app-misc/n"])).toEqual(["emerge", "--ask", "app-misc/n"]);
  });

  it("a short y/n option takes y/n only as the next word, at the end of a bundle; -kn is not -k n", () => {
    expect(emergeArgv(["emerge", "-a", "n", "foo"])).toEqual(["emerge", "--no-ask", "foo"]);
    expect(emergeArgv(["emerge", "-pva", "y", "foo"])).toEqual(["emerge", "-pv", "--ask", "foo"]);
    expect(emergeArgv(["emerge", "-w", "n", "foo"])).toEqual(["emerge", "--no-select", "foo"]);
    expect(emergeArgv(["emerge", "-an", "foo"])).toEqual(["emerge", "-an", "foo"]);
  });

  it("-D takes a depth glued or as the next number; --deep=N too", () => {
    expect(emergeArgv(["emerge", "-puD2", "@world"])).toEqual(["emerge", "-puD", "--deep-level=2", "@world"]);
    expect(emergeArgv(["emerge", "-D", "3", "@world"])).toEqual(["emerge", "-D", "--deep-level=3", "@world"]);
    expect(emergeArgv(["emerge", "--deep=0", "-D", "foo"])).toEqual(["emerge", "--deep", "--deep-level=0", "-D", "foo"]);
  });

  it("aliases and emerge's values: --cols, --reinstall=changed-use, --color y|n, --root-deps [rdeps]", () => {
    expect(emergeArgv(["emerge", "--cols", "--reinstall=changed-use", "--color", "n", "--root-deps", "foo"])).toEqual(["emerge", "--columns", "--changed-use", "--color=never", "--root-deps=y", "foo"]);
    expect(emergeArgv(["emerge", "--reinstall", "changed-use", "--color=y", "--root-deps", "rdeps"])).toEqual(["emerge", "--changed-use", "--color=always", "--root-deps=rdeps"]);
    // what it does not know passes through, for the parser to name
    expect(emergeArgv(["emerge", "--frobnicate=y", "--reinstall=everything"])).toEqual(["emerge", "--frobnicate=y", "--reinstall=everything"]);
  });

  it("--jobs and -j take an optional number; alone there is no limit; below 1 is a usage error", () => {
    expect(emergeArgv(["emerge", "--jobs", "4", "-uDN", "@world"])).toEqual(["emerge", "--jobs=4", "-uDN", "@world"]);
    expect(emergeArgv(["emerge", "-j3", "foo"])).toEqual(["emerge", "--jobs=3", "foo"]);
    expect(emergeArgv(["emerge", "-avj", "2", "foo"])).toEqual(["emerge", "-av", "--jobs=2", "foo"]);
    expect(emergeArgv(["emerge", "--jobs", "@world"])).toEqual(["emerge", "--jobs=-1", "@world"]);
    expect(emergeArgv(["emerge", "-j", "--keep-going", "foo"])).toEqual(["emerge", "--jobs=-1", "--keep-going", "foo"]);
    expect(() => emergeArgv(["emerge", "--jobs=0", "foo"])).toThrow(/'0' is not a number of jobs/);
    expect(() => emergeArgv(["emerge", "-j", "0", "foo"])).toThrow(/'0' is not a number of jobs/);
    // -1 after --jobs is --oneshot, not a number of jobs
    expect(emergeArgv(["emerge", "--jobs", "-1", "foo"])).toEqual(["emerge", "--jobs=-1", "-1", "foo"]);
  });

  it("EMERGE_DEFAULT_OPTS: split as the shell splits, put first, and what the command line gives wins", () => {
    expect(shellWords(` --ask  --exclude "sys-devel/gcc dev-lang/rust" --jobs=4 'a b'\\ c `)).toEqual(["--ask", "--exclude", "sys-devel/gcc dev-lang/rust", "--jobs=4", "a b c"]);
    const kinds: OptionKinds = { ask: { type: "boolean", alias: "a" }, verbose: { type: "boolean", alias: "v" }, jobs: { type: "number", alias: "j" }, exclude: { type: "string", array: true, alias: "X" }, "keep-going": { type: "boolean" } };
    const merged = (defaults: string, args: string[]) => withDefaultOpts(emergeArgv(["emerge", ...shellWords(defaults)]).slice(1), emergeArgv(["emerge", ...args]).slice(1), kinds);
    // the command line's --jobs and --ask n replace the defaults'; --keep-going and -v stay
    expect(merged("--ask --jobs 4 --keep-going -av", ["--jobs=2", "--ask", "n", "foo"])).toEqual(["--keep-going", "-v", "--jobs=2", "--no-ask", "foo"]);
    // a repeatable option adds up
    expect(merged("--exclude a/b", ["--exclude", "c/d", "foo"])).toEqual(["--exclude", "a/b", "--exclude", "c/d", "foo"]);
    // make.conf's usual y/n forms of any yes/no option, and emerge options ouzo does not have left out (named)
    const booleans = new Set(["keep-going", "ask", "verbose"]);
    expect(emergeArgv(["emerge", "--keep-going=y", "--keep-going", "n", "-k", "n"], booleans)).toEqual(["emerge", "--keep-going", "--no-keep-going", "--no-usepkg"]);
    const ignored: string[] = [];
    expect(withDefaultOpts(["--verbose-conflicts", "--keep-going", "--binpkg-respect-use=y", "-A"], ["foo"], kinds, ignored)).toEqual(["--keep-going", "foo"]);
    expect(ignored).toEqual(["--verbose-conflicts", "--binpkg-respect-use=y", "-A"]);
  });

  it("emerge --sync, -s, -S, --regen, --metadata and -V become ouzo's own commands; a merge stays a merge", () => {
    expect(otherEmergeAction(["emerge", "--sync"], GLOBAL_OPTIONS)).toEqual(["sync"]);
    expect(otherEmergeAction(["emerge", "--root", "/r", "-q", "--sync"], GLOBAL_OPTIONS)).toEqual(["sync", "--root", "/r", "--quiet"]);
    expect(otherEmergeAction(["emerge", "-s", "hello"], GLOBAL_OPTIONS)).toEqual(["search", "hello"]);
    expect(otherEmergeAction(["emerge", "-vS", "greeting"], GLOBAL_OPTIONS)).toEqual(["search", "greeting", "--verbose"]);
    expect(otherEmergeAction(["emerge", "--metadata", "--root=/x"], GLOBAL_OPTIONS)).toEqual(["regen", "--root=/x"]);
    expect(otherEmergeAction(["emerge", "-V"], GLOBAL_OPTIONS)).toEqual(["--version"]);
    expect(() => otherEmergeAction(["emerge", "-pv", "--sync"], GLOBAL_OPTIONS)).toThrow(/--pretend cannot be used with --sync/);
    expect(() => otherEmergeAction(["emerge", "--check-news"], GLOBAL_OPTIONS)).toThrow(/not something ouzo does/);
    expect(() => otherEmergeAction(["emerge", "-s", "a", "b"], GLOBAL_OPTIONS)).toThrow(/one search term/);
    expect(otherEmergeAction(["emerge", "-avuDN", "@world"], GLOBAL_OPTIONS)).toBeUndefined();
    expect(otherEmergeAction(["emerge", "--ask", "app-misc/sync"], GLOBAL_OPTIONS)).toBeUndefined();
    // the value of another option is no search term
    const kinds: OptionKinds = { ...GLOBAL_OPTIONS, jobs: { type: "number", alias: "j" }, exclude: { type: "string", array: true } };
    expect(otherEmergeAction(["emerge", "-s", "-j", "4", "--exclude", "a/b", "gcc"], kinds)).toEqual(["search", "gcc"]);
  });
});
