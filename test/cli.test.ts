import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as fs from "node:fs";
import { ouzo, REPO_ROOT, tmpdir } from "./helpers.js";

describe("ouzo vercmp", () => {
  it("prints <, = or >", () => {
    expect(ouzo(["vercmp", "1.0", "1.0_rc1"]).stdout).toBe(">\n");
    expect(ouzo(["vercmp", "1.0-r0", "1.0"]).stdout).toBe("=\n");
    expect(ouzo(["vercmp", "1.9", "1.10"]).stdout).toBe("<\n");
  });
  it("prints JSON with --json", () => {
    expect(JSON.parse(ouzo(["vercmp", "--json", "2", "10"]).stdout)).toEqual({ a: "2", b: "10", cmp: -1 });
  });
  it("reads pairs from stdin", () => {
    const r = ouzo(["vercmp", "--stdin"], { input: "1 2\n3 3\n\n1.0_p1 1.0\n" });
    expect(r.stdout).toBe("<\n=\n>\n");
    const j = ouzo(["vercmp", "--stdin", "--json"], { input: "1 2\n" });
    expect(j.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([{ a: "1", b: "2", cmp: -1 }]);
  });
  it("writes all of a large output into a pipe before exiting (30,000 JSON lines)", () => {
    let input = "";
    for (let i = 0; i < 30000; i++) input += `1.${i} 2.${i}\n`;
    const r = ouzo(["vercmp", "--stdin", "--json"], { input });
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(30000);
    expect(JSON.parse(lines[29999]!)).toEqual({ a: "1.29999", b: "2.29999", cmp: -1 });
  });
  it("fails with exit 1 on an invalid version, naming it", () => {
    const r = ouzo(["vercmp", "1.0", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("ouzo: invalid version 'x'");
  });
  it("exits 2 on a usage error", () => {
    expect(ouzo(["vercmp", "1.0"]).code).toBe(2);
    expect(ouzo(["no-such-command"]).code).toBe(2);
  });
  it("says once where help is, and names an unknown command before suggesting one", () => {
    const none = ouzo([]);
    expect([none.code, none.stderr]).toEqual([2, "ouzo: ouzo needs a command\nsee 'ouzo --help'\n"]);
    const typo = ouzo(["syn"]);
    expect([typo.code, typo.stderr]).toEqual([2, "ouzo: unknown command 'syn'; did you mean sync?\nsee 'ouzo --help'\n"]);
  });
});

describe("ouzo atom", () => {
  it("prints exactly the documented keys", () => {
    const r = ouzo(["atom", "--json", ">=dev-lang/python-3.11-r1:3.11/3.11=[sqlite,-tk(+)]", "bad atom"]);
    expect(r.code).toBe(1);
    const [good, bad] = JSON.parse(r.stdout);
    expect(good).toEqual({
      input: ">=dev-lang/python-3.11-r1:3.11/3.11=[sqlite,-tk(+)]",
      valid: true,
      error: null,
      canonical: ">=dev-lang/python-3.11-r1:3.11/3.11=[sqlite,-tk(+)]",
      blocker: null,
      operator: ">=",
      category: "dev-lang",
      package: "python",
      version: "3.11-r1",
      revision: "1",
      slot: "3.11",
      subslot: "3.11",
      slotOperator: "=",
      use: ["sqlite", "-tk(+)"],
      repo: null,
    });
    expect(Object.keys(bad)).toEqual(Object.keys(good));
    expect(bad.valid).toBe(false);
    expect(bad.error).toContain("'bad atom'");
  });
  it("validates against --eapi", () => {
    expect(ouzo(["atom", "--eapi", "4", "dev-libs/a:="]).code).toBe(1);
    expect(ouzo(["atom", "--eapi", "5", "dev-libs/a:="]).code).toBe(0);
    expect(JSON.parse(ouzo(["atom", "--json", "=dev-libs/a-1*"]).stdout)[0]).toMatchObject({ operator: "=*", version: "1" });
  });
});

describe("ouzo --version and --help", () => {
  it("answers", () => {
    expect(ouzo(["--version"]).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = ouzo(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("vercmp");
    expect(help.stdout).toContain("--config-root");
  });
});

describe("ouzo profile show", () => {
  it("prints the stack, vars, USE, masks and @system as JSON", async () => {
    const { installDemoConfig } = await import("../src/cli/demoTree.js");
    const { tmpdir } = await import("./helpers.js");
    const root = tmpdir();
    installDemoConfig(root);
    const r = ouzo(["profile", "show", "--json", "--root", root]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(["profiles", "vars", "use", "usemask", "useforce", "system", "package_mask"]);
    expect(j.profiles).toHaveLength(31);
    expect(j.vars.ARCH).toBe("amd64");
    expect(j.vars.TRACK_KEYWORDS).toBe("next");
    expect(j.vars.PYTHON_SINGLE_TARGET).toBe("python3_11");
    expect(j.use).toEqual([...j.use].sort());
    expect(j.system).toContain(">=dev-lang/python-3");
    expect(j.package_mask).toEqual({ count: 4 });
  });
});

describe("the command line", () => {
  // quickParse reads plain command lines without loading yargs; it must read them as yargs does,
  // and leave everything else (help, errors, unusual forms) to yargs.
  const lines = [
    "vercmp 1.0 1.1",
    "vercmp --json 1 2",
    "vercmp --stdin",
    "vercmp --stdin --json --root /r",
    "atom =a/b-1 c/d",
    "atom --eapi 5 a/b",
    "atom --eapi=user a/b --json",
    "profile show",
    "profile show --json --root /tmp/x --config-root /tmp/y",
    "profile show --color never -q",
    "profile show --color=always -v",
    "profile arch x86-64bit",
    "profile flavor desktop --root /r",
    "profile list --json",
    "profile mix-ins +gnome",
    "profile mix-ins +gnome +kde",
    "sync",
    "sync --no-anise --no-regen --json",
    "sync --jobs 8 --dest /d",
    "sync -j 2 --offline",
    "sync -j3",
    "sync --kits",
    "sync --no-kits",
    "sync --no-link --cache-dir /c",
    "kits --json",
    "kits --dest /d",
    "regen --repo core-kit --repo dev-kit -j 2",
    "regen --write-md5-cache --reposcan /tmp/r.json --kit core-kit --branch next",
    "regen",
    "info dev-lang/python",
    "info '>=a/b-1' --json",
    "search python --jobs 1",
    "demo --keep",
    "demo -qv",
  ].map((l) => l.split(" ").map((w) => w.replace(/^'|'$/g, "")));

  it("reads every plain command line as yargs does", async () => {
    const { quickReading, yargsReading } = await import("../src/cli/main.js");
    for (const argv of lines) {
      const quick = quickReading(argv);
      expect(quick, argv.join(" ")).toBeDefined();
      const y = await yargsReading(argv);
      expect(quick!.usage, argv.join(" ")).toBe(y.usage);
      // every key quickParse sets, with yargs' value; and no option of yargs' is missing
      const keys = Object.keys(y.args).filter((k) => k !== "_" && k !== "$0");
      expect(Object.fromEntries(Object.keys(quick!.args).sort().map((k) => [k, quick!.args[k]])), argv.join(" ")).toEqual(Object.fromEntries(keys.sort().map((k) => [k, y.args[k]])));
    }
  });

  it("leaves help, usage errors and unusual forms to yargs", async () => {
    const { quickReading } = await import("../src/cli/main.js");
    for (const l of ["--help", "profile show --help", "sync -h", "", "bogus", "profile", "profile bogus", "vercmp 1 2 3", "atom", "sync --jobs many", "sync --bogus", "profile show --color purple", "profile show --root a --root b", "profile mix-ins -kde", "info", "info a/b c/d", "atom -- -x"]) {
      expect(quickReading(l ? l.split(" ") : []), l).toBeUndefined();
    }
  });
});

describe("output into a closed pipe", () => {
  it("stops quietly when the reader goes away (ouzo … | head -1)", () => {
    const input = "1 2\n".repeat(100_000);
    const r = spawnSync("bash", ["-c", `set -o pipefail; '${process.execPath}' '${path.join(REPO_ROOT, "bin", "ouzo.js")}' vercmp --stdin | head -1`], { input, encoding: "utf8" });
    expect(r.stdout).toBe("<\n");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("errors across the CLI's two bundles", () => {
  it("an OuzoError made by another copy of its module is an OuzoError, and nothing else is", async () => {
    const { OuzoError, UsageError } = await import("../src/core/errors.js");
    // a second, separate instance of the module, as the heavy bundle has
    const copy = (await import("../src/core/errors.js?copy" as string)) as typeof import("../src/core/errors.js");
    expect(copy.OuzoError).not.toBe(OuzoError);
    expect(new copy.OuzoError("X", "m") instanceof OuzoError).toBe(true);
    expect(new copy.UsageError("m") instanceof OuzoError).toBe(true);
    expect(new OuzoError("X", "m") instanceof UsageError).toBe(false);
    expect(new UsageError("m") instanceof UsageError).toBe(true);
    expect(new Error("m") instanceof OuzoError).toBe(false);
    expect(null instanceof OuzoError).toBe(false);
  });

  it("a failure inside a heavy command reaches the user as one line with exit 1", () => {
    const r = ouzo(["regen", "--root", "/nonexistent-ouzo-root"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("ouzo: no repositories are configured in /nonexistent-ouzo-root/etc/portage/repos.conf\n");
  });
});

describe("the ouzo command (bin/ouzo)", () => {
  const command = path.join(REPO_ROOT, "bin", "ouzo");

  it("runs bin/ouzo.js through the relative links a package manager makes, and from its own directory", () => {
    const prefix = tmpdir();
    fs.mkdirSync(path.join(prefix, "node_modules/.bin"), { recursive: true });
    fs.symlinkSync(path.relative(path.join(prefix, "node_modules/.bin"), command), path.join(prefix, "node_modules/.bin/ouzo"));
    fs.symlinkSync("node_modules/.bin/ouzo", path.join(prefix, "ouzo-again"));
    for (const [cwd, file] of [[prefix, "node_modules/.bin/ouzo"], [prefix, "./ouzo-again"], [path.dirname(command), "./ouzo"]] as const) {
      const r = spawnSync(file, ["vercmp", "1.0", "1.0_rc1"], { cwd, encoding: "utf8" });
      expect([r.status, r.stdout, r.stderr]).toEqual([0, ">\n", ""]);
    }
  });

  it("keeps NODE_EXTRA_CA_CERTS from node's start (node would read the file before any code runs)", () => {
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: "/nonexistent/ca.pem" };
    const viaNode = spawnSync(process.execPath, [path.join(REPO_ROOT, "bin", "ouzo.js"), "--version"], { env, encoding: "utf8" });
    expect(viaNode.stderr).toContain("Ignoring extra certs from `/nonexistent/ca.pem`");
    const viaCommand = spawnSync(command, ["--version"], { env, encoding: "utf8" });
    expect([viaCommand.status, viaCommand.stdout, viaCommand.stderr]).toEqual([0, "0.1.0\n", ""]);
  });
});

describe("start-up from V8's code cache", () => {
  /** A copy of the installed CLI (bin, the bundles, package.json, profiles) in a temporary directory. */
  function install(): string {
    const dir = tmpdir();
    for (const p of ["bin", "dist/bundle", "profiles", "package.json"]) fs.cpSync(path.join(REPO_ROOT, p), path.join(dir, p), { recursive: true });
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
  }
  const run = (dir: string, args: string[]) => spawnSync(process.execPath, [path.join(dir, "bin", "ouzo.js"), ...args], { encoding: "utf8" });

  it("the build leaves a cache that this node accepts", async () => {
    const { loadCore } = await import("../bin/ouzo.js" as string);
    expect(loadCore().cacheUsed).toBe(true);
  });

  it("loads a CommonJS part of the bundle once, however often it is asked for", async () => {
    const { importHeavy } = await import("../bin/ouzo.js" as string);
    const [a, b] = await Promise.all([importHeavy("./heavy/anise.cjs"), importHeavy("./heavy/anise.cjs")]);
    expect(typeof a.aniseInstallCommand).toBe("function");
    expect(b).toBe(a);
    expect(await importHeavy("./heavy/anise.cjs")).toBe(a);
  });

  it("ignores a corrupt or missing cache, answers all the same, and makes a new one", () => {
    const dir = install();
    const cache = path.join(dir, "dist/bundle/ouzo.cjs.cache");
    fs.writeFileSync(cache, "not a code cache");
    const r = run(dir, ["vercmp", "1.0", "1.0_rc1"]);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, ">\n", ""]);
    expect(fs.statSync(cache).size).toBeGreaterThan(10_000);
    fs.rmSync(cache);
    expect(run(dir, ["atom", "--json", "a/b"]).status).toBe(0);
    expect(fs.existsSync(cache)).toBe(true);
    // and heavy parts still load from a core compiled with the cache
    const help = run(dir, ["--help"]);
    expect([help.status, help.stdout.split("\n")[0]]).toEqual([0, "ouzo <command>"]);
  });

  it("loads yargs (help, usage errors) with a cache of its own, remade when corrupt", () => {
    const dir = install();
    const cache = path.join(dir, "dist/bundle/yargs.cjs.cache");
    expect(fs.statSync(cache).size).toBeGreaterThan(10_000);
    const good = run(dir, ["sync", "--help"]);
    fs.writeFileSync(cache, "not a code cache");
    const help = run(dir, ["sync", "--help"]);
    expect([help.status, help.stdout, help.stderr]).toEqual([good.status, good.stdout, good.stderr]);
    expect(help.stdout).toMatch(/^ouzo sync\b/);
    expect(fs.statSync(cache).size).toBeGreaterThan(10_000);
    const bad = run(dir, ["profile", "show", "--bogus"]);
    expect([bad.status, bad.stderr.split("\n")[0]]).toEqual([2, "ouzo: Unknown argument: bogus"]);
  });

  it("runs the anise commands from a bundle with a cache of its own, warmed by an install at build time, remade when corrupt", () => {
    const dir = install();
    const cache = path.join(dir, "dist/bundle/heavy/anise.cjs.cache");
    // the build ran an anise install: the cache holds far more than the file's top level
    expect(fs.statSync(cache).size).toBeGreaterThan(500_000);
    const target = tmpdir();
    const good = run(dir, ["anise", "upgrade", "-y", "--system-target", target]);
    fs.writeFileSync(cache, "not a code cache");
    const again = run(dir, ["anise", "upgrade", "-y", "--system-target", target]);
    expect([again.status, again.stdout, again.stderr]).toEqual([good.status, good.stdout, good.stderr]);
    expect([good.status, good.stdout]).toEqual([0, "No anise packages are installed: nothing to upgrade.\n"]);
    expect(fs.statSync(cache).size).toBeGreaterThan(10_000);
  });
});

describe("--json when a command fails", () => {
  it("prints a JSON error document on stdout, with the exit code, as well as the line on stderr", () => {
    const r = ouzo(["vercmp", "--json", "1.0", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("ouzo: invalid version 'x'");
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: "BAD_VERSION", message: "invalid version 'x'", exit: 1 } });
  });

  it("names the file and line of a configuration error", () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, "etc/portage/repos.conf"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/portage/make.conf"), "\nOUZO_REGEN_TIMEOUT=soon\n");
    fs.writeFileSync(path.join(root, "etc/portage/repos.conf/x"), `[x]\nlocation = ${root}\n`);
    const r = ouzo(["regen", "--json", "--root", root]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toEqual({ code: "BAD_TIMEOUT", message: "OUZO_REGEN_TIMEOUT takes a number of seconds greater than 0, not 'soon'", file: path.join(root, "etc/portage/make.conf"), line: 2, exit: 1 });
  });

  it("answers a usage error with exit 2 and a document", () => {
    const r = ouzo(["regen", "--json", "--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "USAGE", exit: 2 });
  });
});
