import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildKitMirror, commitAll, commitMetaRepo, git, type BuiltKit, type ReleaseKit } from "../src/sync/mirrorBuilder.js";
import { Git } from "../src/sync/git.js";
import { lookupUser } from "../src/sync/identity.js";
import { FIXTURES } from "./vectors.js";
import { FileLock } from "../src/core/lock.js";
import { ouzo, ouzoAsync, ouzoLive, REPO_ROOT, tmpdir, writeTree } from "./helpers.js";

interface World {
  mirrors: string;
  root: string;
  kits: Record<string, BuiltKit>;
  release: (overrides?: Partial<Record<string, Partial<ReleaseKit>>>) => string;
  kitsDir: string;
  reposConf: string;
}

/**
 * Mirrors of three kits (core-kit from the demo fixture with two branches, one containing '/';
 * dev-kit with 30 commits so an old pin needs a deeper clone; python-kit), a meta-repo branch
 * mark-v pinning them, and a ROOT with an ego.conf pointing at the mirrors.
 */
function world(): World {
  const mirrors = tmpdir("ouzo-mirrors-");
  const root = tmpdir("ouzo-root-");
  const kits = {
    "core-kit": buildKitMirror(mirrors, { name: "core-kit", tree: path.join(FIXTURES, "demo/kits/core-kit"), branches: [{ name: "mark-v" }, { name: "next/5.27-release" }], extraCommits: 2 }),
    "dev-kit": buildKitMirror(mirrors, { name: "dev-kit", tree: path.join(FIXTURES, "demo/kits/dev-kit"), branches: [{ name: "mark-v" }], extraCommits: 30 }),
    "python-kit": buildKitMirror(mirrors, { name: "python-kit", tree: path.join(FIXTURES, "demo/kits/python-kit"), branches: [{ name: "mark-v" }], extraCommits: 1 }),
  };
  const last = (k: BuiltKit, b: string) => k.commits.get(b)![k.commits.get(b)!.length - 1]!;
  const release = (overrides: Partial<Record<string, Partial<ReleaseKit>>> = {}) => {
    const base: ReleaseKit[] = [
      { name: "core-kit", stability: { "mark-v": "prime", "next/5.27-release": "deprecated" }, defs: ["mark-v"], pins: { "mark-v": last(kits["core-kit"], "mark-v"), "next/5.27-release": last(kits["core-kit"], "next/5.27-release") } },
      // an old pin: 26 commits behind the branch head, out of reach of a depth-2 clone
      { name: "dev-kit", stability: { "mark-v": "prime" }, defs: ["mark-v"], pins: { "mark-v": kits["dev-kit"].commits.get("mark-v")![4]! } },
      { name: "python-kit", stability: { "mark-v": "prime" }, defs: ["mark-v"], pins: { "mark-v": { sha1: last(kits["python-kit"], "mark-v"), depth: 1 } } },
    ];
    return commitMetaRepo(path.join(mirrors, "meta-repo"), "mark-v", base.map((k) => ({ ...k, ...(overrides[k.name] ?? {}) })));
  };
  release();
  writeTree(root, {
    "etc/ego.conf": `[global]\nrelease = mark-v\nsync_base_url = file://${mirrors}/{repo}\npython_kit_profile = mark\n`,
  });
  return { mirrors, root, kits, release, kitsDir: path.join(root, "var/git/meta-repo/kits"), reposConf: path.join(root, "etc/portage/repos.conf") };
}

const sync = (w: World, ...args: string[]) => ouzo(["sync", "--root", w.root, "--no-regen", ...args]);
const heads = (w: World) => Object.fromEntries(["core-kit", "dev-kit", "python-kit"].map((k) => [k, Git.headOf(path.join(w.kitsDir, k))]));

/** Everything a failed sync must leave untouched. */
function snapshot(w: World) {
  const conf = fs.existsSync(w.reposConf) ? Object.fromEntries(fs.readdirSync(w.reposConf).map((f) => [f, fs.readFileSync(path.join(w.reposConf, f), "utf8")])) : {};
  return { heads: heads(w), meta: Git.headOf(path.join(w.root, "var/git/meta-repo")), conf };
}

describe("ouzo sync: meta-repo and kits", () => {
  it("clones every kit at its pin, deepening a shallow clone to reach an old pin, and writes repos.conf as ego does", () => {
    const w = world();
    // --no-link: shallow clones through git's transport, as from a server
    const r = sync(w, "--json", "--no-link");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kits.map((k: { kit: string; changed: boolean }) => [k.kit, k.changed])).toEqual([["core-kit", true], ["dev-kit", true], ["python-kit", true]]);
    expect(heads(w)).toEqual({
      "core-kit": w.kits["core-kit"].commits.get("mark-v")![2],
      "dev-kit": w.kits["dev-kit"].commits.get("mark-v")![4],
      "python-kit": w.kits["python-kit"].commits.get("mark-v")![1],
    });
    expect(fs.readFileSync(path.join(w.reposConf, "ego-core-kit"), "utf8")).toBe("[DEFAULT]\nmain-repo = core-kit\n\n[core-kit]\nlocation = /var/git/meta-repo/kits/core-kit\nauto-sync = no\npriority = 1\n");
    expect(fs.readFileSync(path.join(w.reposConf, "ego-dev-kit"), "utf8")).toBe("[dev-kit]\nlocation = /var/git/meta-repo/kits/dev-kit\nauto-sync = no\npriority = 1\n");
    expect(git(path.join(w.root, "var/git/meta-repo"), ["rev-parse", "--abbrev-ref", "HEAD"])).toBe("mark-v");
    expect(fs.existsSync(path.join(w.kitsDir, ".ouzo-staging"))).toBe(false);
    const kits = JSON.parse(ouzo(["kits", "--root", w.root, "--json"]).stdout);
    expect(kits.kits.every((k: { matches: boolean }) => k.matches)).toBe(true);
  });

  it("hard-links the objects of a local mirror on the same file system, and keeps the configured URL", () => {
    const w = world();
    const r = sync(w, "--json");
    expect(r.code).toBe(0);
    const dev = path.join(w.kitsDir, "dev-kit");
    // the old pin is there without deepening: the clone has the mirror's whole history, shared
    expect(heads(w)["dev-kit"]).toBe(w.kits["dev-kit"].commits.get("mark-v")![4]);
    expect(fs.existsSync(path.join(dev, ".git/shallow"))).toBe(false);
    const objects = path.join(dev, ".git/objects");
    const files = fs.readdirSync(objects).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => fs.readdirSync(path.join(objects, d)).map((f) => path.join(objects, d, f)));
    expect(files.length).toBeGreaterThan(30);
    for (const f of files) expect(fs.statSync(f).nlink).toBe(2);
    expect(git(dev, ["remote", "get-url", "origin"])).toBe(`file://${w.mirrors}/dev-kit`);
    expect(fs.readFileSync(path.join(dev, ".git/config"), "utf8")).not.toMatch(/insteadof/i);
    // a later release is fetched from that URL as usual
    const newDev = w.kits["dev-kit"].commits.get("mark-v")![20]!;
    w.release({ "dev-kit": { pins: { "mark-v": newDev } } });
    expect(sync(w).code).toBe(0);
    expect(heads(w)["dev-kit"]).toBe(newDev);
  });

  it("follows a sync with an import of the caches kits ship, and sources only the kits that ship none", () => {
    const w = world();
    const r = ouzo(["sync", "--root", w.root, "--no-anise", "--json"]);
    expect(r.code).toBe(0);
    // dev-kit ships metadata/md5-cache (as Funtoo-era kits do); core-kit and python-kit ship none
    expect(JSON.parse(r.stdout).regen).toMatchObject({ kits: ["core-kit", "dev-kit", "python-kit"], imported: 2, generated: 12, failed: 0 });
    // the metadata is complete for the next command: nothing left to import or source
    const after = JSON.parse(ouzo(["regen", "--root", w.root, "--json"]).stdout);
    expect(after).toMatchObject({ imported: 0, generated: 0, unchanged: 14, failed: 0 });
  });

  it("fills in the metadata an earlier sync left out (--no-regen), then has nothing to do", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    const second = ouzo(["sync", "--root", w.root, "--no-anise"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^metadata cache of 3 kits \(0 changed, 3 left incomplete before\): 2 imported from shipped md5-cache, 12 generated, 0 unchanged, 0 removed, 0 failed in [\d.]+ s$/m);
    const third = ouzo(["sync", "--root", w.root, "--no-anise", "--json"]);
    expect(JSON.parse(third.stdout).regen).toMatchObject({ kits: [] });
  });

  it("names the kits whose metadata cannot be made because ego.conf skips their master", () => {
    const w = world();
    fs.appendFileSync(path.join(w.root, "etc/ego.conf"), "[kits]\ncore-kit = skip\n");
    const r = ouzo(["sync", "--root", w.root, "--no-anise"]);
    expect(r.stderr).toContain(`warning: dev-kit needs core-kit (its master), which is not synced (skipped in ${w.root}/etc/ego.conf?): dev-kit's metadata cannot be generated until it is`);
    expect(r.code).toBe(0);
  });

  it("says in plain words what the regen after a sync did", () => {
    const w = world();
    const r = ouzo(["sync", "--root", w.root, "--no-anise"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^metadata cache of 3 changed kits: 2 imported from shipped md5-cache, 12 generated, 0 unchanged, 0 removed, 0 failed in [\d.]+ s$/m);
  });

  it("a second sync with nothing new changes nothing", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    const before = snapshot(w);
    const r = sync(w, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).kits.every((k: { changed: boolean }) => !k.changed)).toBe(true);
    expect(snapshot(w)).toEqual(before);
  });

  it("moves kits to the new pins of a new release, on a branch whose name contains '/'", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    fs.appendFileSync(path.join(w.root, "etc/ego.conf"), "[kits]\ncore-kit = next/5.27-release\n");
    const newDev = w.kits["dev-kit"].commits.get("mark-v")![20]!;
    w.release({ "dev-kit": { pins: { "mark-v": newDev } } });
    const r = sync(w);
    expect(r.code).toBe(0);
    expect(heads(w)["dev-kit"]).toBe(newDev);
    expect(heads(w)["core-kit"]).toBe(w.kits["core-kit"].commits.get("next/5.27-release")![2]);
    expect(r.stderr).toContain("core-kit: branch 'next/5.27-release' is deprecated");
    expect(r.stdout).toContain("not prime: core-kit (next/5.27-release: deprecated)");
    // a long branch name widens its column: every row's columns still line up
    const kitLines = r.stdout.split("\n").filter((l) => /^  (core|dev|python)-kit /.test(l));
    expect(kitLines).toHaveLength(3);
    const third = (l: string) => /^  \S+\s+\S+\s+/.exec(l)![0].length;
    expect(new Set(kitLines.map(third)).size).toBe(1);
    expect(kitLines[0]).toMatch(/^  core-kit    next\/5\.27-release  [0-9a-f]{12} -> [0-9a-f]{12}$/);
    const kits = ouzo(["kits", "--root", w.root]).stdout.trim().split("\n");
    expect(kits[0]).toBe("kit         branch             stability   pinned        current       match");
    for (const l of kits.slice(1)) expect(l.indexOf(l.split(/\s+/)[2]!)).toBe(kits[0]!.indexOf("stability"));
  });

  it("writes the python-kit profile lines and applies the package moves to installed packages and the world file", () => {
    const w = world();
    writeTree(w.root, { "etc/portage/make.profile/parent": "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit\ncore-kit:funtoo/kits/python-kit/old\n", "var/db/pkg/app-misc/oldname-1.0/SLOT": "0\n", "var/lib/portage/world": "app-misc/oldname\n" });
    const r = sync(w, "--json");
    expect(r.code).toBe(0);
    const lines = fs.readFileSync(path.join(w.root, "etc/portage/make.profile/parent"), "utf8").trim().split("\n");
    expect(lines).toEqual(["core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit", "core-kit:funtoo/kits/python-kit/mark", "dev-kit:funtoo/kits/python-kit/mark", "python-kit:funtoo/kits/python-kit/mark"]);
    expect(JSON.parse(r.stdout).package_moves).toEqual({ total: 3, applicable: ["app-misc/oldname-1.0 -> app-misc/hello"], applied: { renamed: 1, slots: 0, world: 1 } });
    expect(fs.existsSync(path.join(w.root, "var/db/pkg/app-misc/hello-1.0/SLOT"))).toBe(true);
    expect(fs.existsSync(path.join(w.root, "var/db/pkg/app-misc/oldname-1.0"))).toBe(false);
    expect(fs.readFileSync(path.join(w.root, "var/lib/portage/world"), "utf8")).toBe("app-misc/hello\n");
  });

  it("removes stale ego-* files and symlinks from repos.conf and keeps the user's own files", () => {
    const w = world();
    writeTree(w.root, { "etc/portage/repos.conf/ego-old-kit": "[old-kit]\nlocation = /x\n", "etc/portage/repos.conf/my-overlay": "[mine]\nlocation = /y\n" });
    fs.symlinkSync("/nonexistent", path.join(w.reposConf, "funtoo"));
    expect(sync(w).code).toBe(0);
    expect(fs.readdirSync(w.reposConf).sort()).toEqual(["ego-core-kit", "ego-dev-kit", "ego-python-kit", "my-overlay"]);
  });

  it("with --dest syncs into the directory and changes no configuration", () => {
    const w = world();
    const dest = path.join(tmpdir(), "mirror-copy");
    const r = sync(w, "--dest", dest);
    expect(r.code).toBe(0);
    expect(Git.headOf(path.join(dest, "kits", "dev-kit"))).toBe(w.kits["dev-kit"].commits.get("mark-v")![4]);
    expect(fs.existsSync(w.reposConf)).toBe(false);
  });

  it("with --offline checks out pins already fetched, without touching the network", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    fs.renameSync(w.mirrors, `${w.mirrors}-gone`);
    try {
      expect(sync(w, "--offline").code).toBe(0);
      expect(sync(w).code).toBe(1);
    } finally {
      fs.renameSync(`${w.mirrors}-gone`, w.mirrors);
    }
  });
});

/**
 * ouzo in a pseudo-terminal of `cols` columns (util-linux script), its whole terminal output.
 * TERM is set: ora draws Braille frames on a terminal emulator and ASCII ones on the Linux console.
 * CI is unset unless `env` sets it: in a CI log ouzo does not redraw, and this may run in CI.
 */
function inTerminal(cols: number, args: string[], term = "xterm-256color", env: Record<string, string> = {}): { code: number; screen: string } {
  // The variables are set on ouzo's own command line: `script` starts $SHELL, and whatever that
  // shell does at start must not decide how ouzo draws.
  const vars = Object.entries({ TERM: term, NO_COLOR: "1", ...env }).map(([k, v]) => `${k}=${v}`);
  const cmd = ["env", "-u", "CI", ...vars, process.execPath, path.join(REPO_ROOT, "bin", "ouzo.js"), ...args].map((a) => `'${a}'`).join(" ");
  const r = spawnSync("script", ["-qec", `stty cols ${cols} rows 40; exec ${cmd}`, "/dev/null"], { encoding: "utf8", input: "", timeout: 60_000, env: { ...process.env, SHELL: "/bin/sh" } });
  return { code: r.status ?? -1, screen: r.stdout };
}

describe.skipIf(spawnSync("script", ["--version"]).error !== undefined)("sync's progress on a terminal", () => {
  it("draws a spinner line per task on a terminal and leaves only the summary", () => {
    const w = world();
    const { code, screen } = inTerminal(100, ["sync", "--root", w.root, "--no-regen", "--no-anise"]);
    expect(code).toBe(0);
    // each task starts its spinner line at once (progress redraws it at the next frame)
    expect(screen).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] sync kits/);
    expect(screen).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] check out kits/);
    // the spinner line is gone before the summary, and the cursor is shown again
    const summary = screen.indexOf("sync: 3 kits in alignment with the meta-repo (3 changed)");
    expect(summary).toBeGreaterThan(0);
    expect(screen.slice(summary)).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(screen.lastIndexOf("\x1b[?25h")).toBeGreaterThan(screen.lastIndexOf("\x1b[?25l"));
  });

  it("draws an ASCII spinner on the Linux console, which has no Braille glyphs", () => {
    const w = world();
    const { code, screen } = inTerminal(100, ["sync", "--root", w.root, "--no-regen", "--no-anise"], "linux");
    expect(code).toBe(0);
    // a frame drawn in place (ora's disabled mode would print "- sync kits" as a line instead)
    expect(screen).toMatch(/\x1b\[\?25l/);
    expect(screen).toMatch(/[-\\|/] sync kits/);
    expect(screen).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(screen).toContain("sync: 3 kits in alignment with the meta-repo (3 changed)");
  });

  for (const [what, term, env] of [["in a CI log", "xterm-256color", { CI: "true" }], ["on a dumb terminal", "dumb", {}]] as const) {
    it(`does not redraw ${what}: no spinner, no progress line, the summary as plain lines`, () => {
      const w = world();
      const { code, screen } = inTerminal(100, ["sync", "--root", w.root, "--no-regen", "--no-anise"], term, env);
      expect(code).toBe(0);
      expect(screen).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
      expect(screen).not.toContain("\r\x1b[K");
      expect(screen).not.toContain("\x1b[?25l");
      expect(screen).not.toMatch(/^- /m);
      expect(screen).toMatch(/^ {2}dev-kit +mark-v +[0-9a-f]{12} \(new\)\r?$/m);
      expect(screen).toContain("sync: 3 kits in alignment with the meta-repo (3 changed)");
    });
  }

  it("falls back to plain progress on a terminal too narrow to draw on (0 columns)", () => {
    const w = world();
    const { code, screen } = inTerminal(0, ["sync", "--root", w.root, "--no-regen", "--no-anise"]);
    expect(code).toBe(0);
    expect(screen).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(screen.length).toBeLessThan(20_000);
    expect(screen).toContain("sync: 3 kits in alignment");
  });
});

// ego's sync children drop from root to the meta-repo's owner, or to sync_user for a first sync.
describe.skipIf(process.getuid?.() !== 0)("ouzo sync as root runs git as another user", () => {
  const SYNCER = 4242;
  const owned = (w: World, ...uidOf: string[]) => uidOf.map((p) => fs.statSync(path.join(w.root, p)).uid);
  const asSyncer = (w: World, syncUser = "syncer") => {
    // the user must be able to reach the mirrors and ROOT (temporary directories are 0700)
    for (const d of [w.mirrors, w.root]) fs.chmodSync(d, 0o755);
    writeTree(w.root, { "etc/passwd": `root:x:0:0:root:/root:/bin/sh\nsyncer:x:${SYNCER}:${SYNCER}::/nonexistent:/bin/false\n` });
    fs.appendFileSync(path.join(w.root, "etc/ego.conf"), `sync_user = ${syncUser}\n`);
  };

  it("a first sync runs git as sync_user from ROOT's passwd; configuration stays root's", () => {
    const w = world();
    asSyncer(w);
    const r = sync(w, "--verbose");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`git runs as syncer (uid ${SYNCER}, gid ${SYNCER})`);
    expect(owned(w, "var/git/meta-repo", "var/git/meta-repo/.git/HEAD", "var/git/meta-repo/kits/core-kit/profiles/repo_name", "var/git/meta-repo/kits/dev-kit/.git/index")).toEqual([SYNCER, SYNCER, SYNCER, SYNCER]);
    expect(owned(w, "var/git", "etc/portage/repos.conf/ego-core-kit")).toEqual([0, 0]);
    expect(heads(w)["dev-kit"]).toBe(w.kits["dev-kit"].commits.get("mark-v")![4]);
  });

  it("later syncs run git as the meta-repo's owner, whatever sync_user says", () => {
    const w = world();
    asSyncer(w);
    expect(sync(w).code).toBe(0);
    fs.appendFileSync(path.join(w.root, "etc/ego.conf"), "sync_user = nobody-here\n");
    const newDev = w.kits["dev-kit"].commits.get("mark-v")![20]!;
    w.release({ "dev-kit": { pins: { "mark-v": newDev } } });
    const r = sync(w, "--verbose");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`git runs as uid ${SYNCER}`);
    expect(heads(w)["dev-kit"]).toBe(newDev);
    expect(owned(w, "var/git/meta-repo/kits/dev-kit/.git/HEAD")).toEqual([SYNCER]);
  });

  it("a sync_user that does not exist is an error naming ego.conf, before anything is written", () => {
    const w = world();
    asSyncer(w, "nobody-here");
    const r = sync(w);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`ouzo: ${path.join(w.root, "etc/ego.conf")}: sync_user 'nobody-here' does not exist in ${path.join(w.root, "etc/passwd")}`);
    expect(fs.existsSync(path.join(w.root, "var/git"))).toBe(false);
  });
});

describe("one sync of a ROOT at a time", () => {
  it("a sync waits, saying for whom, while another holds the ROOT's sync lock, then runs", async () => {
    const w = world();
    const lock = new FileLock(path.join(w.root, "var/lib/ouzo/sync.lock"));
    await lock.acquire();
    const child = ouzoLive(["sync", "--root", w.root, "--no-regen"]);
    await child.stderrMatches(/waiting for the ouzo sync/);
    // nothing moved while it waited
    expect(fs.existsSync(path.join(w.root, "var/git"))).toBe(false);
    lock.release();
    const r = await child.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`waiting for the ouzo sync or profile change of process ${process.pid} already running on ${w.root} to finish`);
    expect(Object.values(heads(w)).every(Boolean)).toBe(true);
  });

  it("a profile change waits for a sync too: both rewrite make.profile/parent", async () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    const parent = path.join(w.root, "etc/portage/make.profile/parent");
    const lock = new FileLock(path.join(w.root, "var/lib/ouzo/sync.lock"));
    await lock.acquire();
    const child = ouzoLive(["profile", "flavor", "desktop", "--root", w.root]);
    await child.stderrMatches(/waiting for the ouzo sync/);
    expect(fs.existsSync(parent)).toBe(false);
    lock.release();
    const r = await child.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`of process ${process.pid} already running on ${w.root} to finish`);
    expect(fs.readFileSync(parent, "utf8")).toContain("core-kit:funtoo/1.0/linux-gnu/flavor/desktop\n");
  });

  it("a sync ended by SIGTERM ends the git it runs, and the next sync finishes the job", async () => {
    const w = world();
    // a git whose clones hang, under a name to look for
    const bin = tmpdir("ouzo-slow-git-");
    const marker = `ouzo-slow-git-${process.pid}-${Date.now()}`;
    const realGit = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim();
    fs.writeFileSync(path.join(bin, "git"), `#!/bin/bash\ncase " $* " in *" clone "*) exec -a ${marker} sleep 60 ;; esac\nexec ${realGit} "$@"\n`, { mode: 0o755 });
    const running = () =>
      fs.readdirSync("/proc").some((p) => {
        try {
          return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith(marker);
        } catch {
          return false;
        }
      });
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "ouzo.js"), "sync", "--root", w.root, "--no-regen"], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    // polled: the slow git leaves no other trace to wait on (bounded at 60 s for a loaded machine)
    for (let i = 0; i < 1200 && !running(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(running()).toBe(true);
    child.kill("SIGTERM");
    expect(await exited).toBe("SIGTERM");
    // the git it ran was waited for before ouzo ended, and what it had cloned is gone: said in one line
    expect(running()).toBe(false);
    expect(stderr.trim()).toBe("ouzo: interrupted (SIGTERM): nothing was switched: every kit stays at its previous commit, and the partial clones were removed");
    expect(fs.existsSync(path.join(w.root, "var/git/meta-repo.ouzo-staging"))).toBe(false);
    expect(fs.existsSync(path.join(w.kitsDir, ".ouzo-staging"))).toBe(false);
    expect(sync(w).code).toBe(0);
    expect(JSON.parse(ouzo(["kits", "--root", w.root, "--json"]).stdout).kits.every((k: { matches: boolean }) => k.matches)).toBe(true);
  });

  it("two syncs started together both succeed, and only the first changes anything", async () => {
    const w = world();
    const [a, b] = await Promise.all([ouzoAsync(["sync", "--root", w.root, "--no-regen", "--json"]), ouzoAsync(["sync", "--root", w.root, "--no-regen", "--json"])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const changed = [a, b].map((r) => JSON.parse(r.stdout).kits.filter((k: { changed: boolean }) => k.changed).length).sort();
    expect(changed).toEqual([0, 3]);
    const kits = JSON.parse(ouzo(["kits", "--root", w.root, "--json"]).stdout);
    expect(kits.kits.every((k: { matches: boolean }) => k.matches)).toBe(true);
  });
});

/** `nobody`, when this process may run ouzo as that user (root, and the checkout readable by all). */
const nobody = (() => {
  const user = process.getuid?.() === 0 ? lookupUser("/etc/passwd", "nobody") : undefined;
  if (!user) return undefined;
  const probe = spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(path.join(REPO_ROOT, "dist/bundle/ouzo.cjs"))})`], { uid: user.uid, gid: user.gid });
  return probe.status === 0 ? user : undefined;
})();

describe("another user than the one who syncs", () => {
  it.skipIf(!nobody)("reads the kits of a root-owned tree, and a sync of theirs fails at the lock, naming it", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    fs.chmodSync(w.root, 0o755); // mkdtemp made it private
    const as = (args: string[]) => ouzo(args, { as: nobody });
    const kits = as(["kits", "--root", w.root, "--json"]);
    expect(kits.stderr).toBe("");
    expect(kits.code).toBe(0);
    expect(JSON.parse(kits.stdout).kits.map((k: { kit: string; matches: boolean }) => [k.kit, k.matches])).toEqual([["core-kit", true], ["dev-kit", true], ["python-kit", true]]);
    const before = snapshot(w);
    const s = as(["sync", "--root", w.root, "--no-regen"]);
    expect(s.code).toBe(1);
    const lock = path.join(w.root, "var/lib/ouzo/sync.lock");
    expect(s.stderr).toBe(`ouzo: ${lock}: cannot take the lock: this user may not write it\n`);
    expect(snapshot(w)).toEqual(before);
  });

  it("hears git's own error, not the hint that follows it", () => {
    const stderr = "fatal: detected dubious ownership in repository at '/var/git/meta-repo'\nTo add an exception for this directory, call:\n\n\tgit config --global --add safe.directory /var/git/meta-repo\n";
    expect(Git.errorOf(stderr, 128)).toBe("detected dubious ownership in repository at '/var/git/meta-repo'");
    expect(Git.errorOf("warning: something\nerror: pathspec 'x' did not match\n", 1)).toBe("pathspec 'x' did not match");
    expect(Git.errorOf("remote: Counting objects\n", 1)).toBe("remote: Counting objects");
    expect(Git.errorOf("", 3)).toBe("exit status 3");
  });
});

describe("ouzo sync says which configuration it uses", () => {
  it("without /etc/ego.conf: names the file and the defaults in effect", () => {
    const root = tmpdir("ouzo-root-");
    const r = ouzo(["sync", "--root", root, "--no-anise"], { env: { EGO_SYNC_BASE_URL: `file://${root}/mirrors/{repo}` } });
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(`no ${root}/etc/ego.conf: using ego's defaults (release master, sync_base_url file://${root}/mirrors/{repo}, meta-repo ${root}/var/git/meta-repo); write that file to choose`);
  });

  it("a ROOT that does not exist is a typo until proven otherwise: nothing is created", () => {
    const root = path.join(tmpdir("ouzo-root-"), "mnt", "stgae");
    const r = ouzo(["sync", "--root", root]);
    expect([r.code, r.stderr.trim()]).toEqual([1, `ouzo: ROOT ${root} does not exist: check --root (or ROOT), or create the directory to sync a new system into it`]);
    expect(fs.existsSync(root)).toBe(false);
  });

  it("a sync_base_url without {repo}: one line, with the fix", () => {
    const root = tmpdir("ouzo-root-");
    writeTree(root, { "etc/ego.conf": "[global]\nrelease = mark-v\nsync_base_url = file:///srv/mirrors/\n" });
    const r = ouzo(["sync", "--root", root]);
    expect([r.code, r.stderr.trim()]).toEqual([1, `ouzo: ${root}/etc/ego.conf: sync_base_url 'file:///srv/mirrors/' has no {repo}, where each repository's name goes: write it as file:///srv/mirrors/{repo}`]);
  });
});

describe("ouzo sync failures leave the previous tree usable", () => {
  const failing = (w: World, mutate: () => void, ...args: string[]) => {
    expect(sync(w).code).toBe(0);
    mutate();
    const before = snapshot(w);
    const r = sync(w, ...args);
    expect(r.code).toBe(1);
    expect(snapshot(w)).toEqual(before);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    return r.stderr;
  };

  it("a first sync that fails leaves no partial clone behind", () => {
    const w = world();
    // a meta-repo without the release's metadata: cloned, then refused
    const bare = path.join(w.mirrors, "meta-repo");
    git(bare, ["checkout", "--quiet", "mark-v"]);
    git(bare, ["rm", "--quiet", "metadata/kit-info.json"]);
    commitAll(bare, "lose kit-info.json");
    const r = sync(w);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has no metadata/kit-info.json or metadata/kit-sha1.json");
    expect(fs.existsSync(path.join(w.root, "var/git/meta-repo.ouzo-staging"))).toBe(false);
    expect(fs.existsSync(path.join(w.root, "var/git/meta-repo"))).toBe(false);
  });

  it("a pin missing upstream", () => {
    const w = world();
    const err = failing(w, () => w.release({ "dev-kit": { pins: { "mark-v": "0123456789abcdef0123456789abcdef01234567" } } }));
    expect(err).toContain("dev-kit (branch mark-v, commit 0123456789abcdef0123456789abcdef01234567): the pinned commit is not on branch 'mark-v' upstream");
    expect(err).toContain("sync failed before changing anything");
  });

  it("a mirror that disappears halfway through the kit list", () => {
    const w = world();
    const err = failing(w, () => {
      // new commits upstream for every kit, pinned by a new release; then python-kit's mirror vanishes
      const pins: Record<string, string> = {};
      for (const k of ["core-kit", "dev-kit", "python-kit"]) {
        const dir = path.join(w.mirrors, k);
        git(dir, ["checkout", "--quiet", "mark-v"]);
        fs.appendFileSync(path.join(dir, "ChangeLog"), "one more\n");
        pins[k] = commitAll(dir, "one more");
      }
      w.release(Object.fromEntries(Object.entries(pins).map(([k, sha]) => [k, { pins: { "mark-v": sha } }])));
      fs.rmSync(path.join(w.mirrors, "python-kit"), { recursive: true });
    });
    expect(err).toMatch(/python-kit \(branch mark-v, commit [0-9a-f]{40}\): fetching branch 'mark-v' from file:\/\/.*python-kit/);
  });

  it("a kit directory that is not a git repository", () => {
    const w = world();
    const err = failing(w, () => {
      fs.rmSync(path.join(w.kitsDir, "python-kit"), { recursive: true });
      writeTree(w.kitsDir, { "python-kit/README": "not a repository\n" });
    });
    expect(err).toContain(`${path.join(w.kitsDir, "python-kit")} exists but is not a git repository`);
  });

  it("a branch not allowed by kit_settings", () => {
    const w = world();
    const err = failing(w, () => fs.appendFileSync(path.join(w.root, "etc/ego.conf"), "[kits]\ndev-kit = mark-bogus\n"));
    expect(err).toContain("dev-kit: branch 'mark-bogus' is not allowed by kit_settings (allowed: mark-v)");
  });

  it("rolls back to the recorded commits after an interrupted switch", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    const first = snapshot(w);
    const newDev = w.kits["dev-kit"].commits.get("mark-v")![10]!;
    w.release({ "dev-kit": { pins: { "mark-v": newDev } } });
    expect(sync(w).code).toBe(0);
    // pretend the last sync died while switching: its journal names the commits before it
    writeTree(w.root, {
      "var/lib/ouzo/sync-journal.json": JSON.stringify({
        metaRepo: { path: path.join(w.root, "var/git/meta-repo"), old: first.meta, branch: "mark-v", created: false },
        kits: Object.entries(first.heads).map(([kit, old]) => ({ kit, path: path.join(w.kitsDir, kit), old, created: false })),
      }),
    });
    const r = sync(w, "--offline");
    expect(r.stderr).toContain("a previous sync was interrupted while switching; rolling back");
    expect(r.code).toBe(0);
    expect(heads(w)["dev-kit"]).toBe(newDev);
    expect(fs.existsSync(path.join(w.root, "var/lib/ouzo/sync-journal.json"))).toBe(false);
  });
});

describe("ouzo profile", () => {
  it("says what each change did, shows the selection above the stack, lists symlinked choices, and points at the next step", () => {
    const w = world();
    const p = (...a: string[]) => ouzo(["profile", ...a, "--root", w.root]);
    // before any sync: nothing to choose from, and the way out
    const unsynced = p("list");
    expect([unsynced.code, unsynced.stderr.trim()]).toEqual([1, `ouzo: no repositories are configured in ${w.root}/etc/portage/repos.conf: run 'ouzo sync' first`]);
    expect(sync(w).code).toBe(0);
    const none = p("show");
    expect([none.code, none.stderr.trim()]).toEqual([1, `ouzo: ${w.root}/etc/portage/make.profile: no profile selected (make.profile does not exist): choose one with 'ouzo profile arch NAME', after 'ouzo profile list'`]);
    const parent = path.join(w.root, "etc/portage/make.profile/parent");
    const arch = p("arch", "x86-64bit");
    expect(arch.stdout.split("\n")[0]).toBe("arch: (none) -> x86-64bit");
    expect(arch.stdout.trim().split("\n").pop()).toBe(`wrote ${parent}`);
    expect(p("flavor", "desktop").stdout).toBe(`flavor: (none) -> desktop\nwrote ${parent}\n`);
    expect(p("flavor", "desktop").stdout).toBe(`${parent}: unchanged\n`);
    expect(p("flavor", "core").stdout).toBe(`flavor: desktop -> core\nwrote ${parent}\n`);
    // a mix-in that is a symlink to another is listed and can be chosen
    fs.symlinkSync("X", path.join(w.kitsDir, "core-kit/profiles/funtoo/1.0/linux-gnu/mix-ins/kde-plasma-5"));
    expect(JSON.parse(p("list", "--json").stdout)["mix-ins"].map((m: { name: string }) => m.name)).toContain("kde-plasma-5");
    expect(p("mix-ins", "+kde-plasma-5", "+media").stdout).toBe(`mix-ins: +kde-plasma-5 +media\nwrote ${parent}\n`);
    expect(p("mix-ins", "-media").stdout).toBe(`mix-ins: -media\nwrote ${parent}\n`);
    const show = p("show").stdout.split("\n");
    expect(show.slice(0, 7)).toEqual(["Selected:", "  arch:     x86-64bit", "  subarch:  (none)", "  build:    (none)", "  flavor:   core", "  mix-ins:  kde-plasma-5", ""]);
    expect(show[7]).toMatch(/^Profile stack \(\d+ entries\):$/);
  });

  it("sets arch, subarch, build, flavor and mix-ins in ego's order, python-kit lines last", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    const p = (...a: string[]) => ouzo(["profile", ...a, "--root", w.root]);
    expect(p("arch", "x86-64bit").code).toBe(0);
    expect(p("flavor", "desktop").code).toBe(0);
    expect(p("build", "next").code).toBe(0);
    expect(p("subarch", "generic_64").code).toBe(0);
    expect(p("mix-ins", "+X", "+audio", "-audio", "+media").code).toBe(0);
    const parent = fs.readFileSync(path.join(w.root, "etc/portage/make.profile/parent"), "utf8");
    expect(parent).toBe(
      [
        "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit",
        "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit/subarch/generic_64",
        "core-kit:funtoo/1.0/linux-gnu/build/next",
        "core-kit:funtoo/1.0/linux-gnu/flavor/desktop",
        "core-kit:funtoo/1.0/linux-gnu/mix-ins/X",
        "core-kit:funtoo/1.0/linux-gnu/mix-ins/media",
        "core-kit:funtoo/kits/python-kit/mark",
        "dev-kit:funtoo/kits/python-kit/mark",
        "python-kit:funtoo/kits/python-kit/mark",
      ].join("\n") + "\n",
    );
    const list = JSON.parse(p("list", "--json").stdout);
    expect(list.arch).toEqual([{ name: "arm-64bit", selected: false }, { name: "x86-64bit", selected: true }, { name: "x86-64bit-papa", selected: false }]);
    expect(list.flavor.find((f: { name: string }) => f.name === "desktop").selected).toBe(true);
    const bad = p("flavor", "gamer");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("no flavor named 'gamer' (choices: core, desktop, minimal, workstation)");
  });

  it("rewrites gentoo: to core-kit:, keeps the first of a doubled arch with a warning, drops the subarch with a new arch", () => {
    const w = world();
    expect(sync(w).code).toBe(0);
    writeTree(w.root, {
      "etc/portage/make.profile/parent": "gentoo:funtoo/1.0/linux-gnu/arch/x86-64bit\ncore-kit:funtoo/1.0/linux-gnu/arch/arm-64bit\ncore-kit:funtoo/1.0/linux-gnu/arch/x86-64bit/subarch/generic_64\ngentoo:funtoo/1.0/linux-gnu/build/next\ncore-kit:funtoo/1.0/linux-gnu/flavor/core\n",
    });
    const r = ouzo(["profile", "mix-ins", "+X", "--root", w.root]);
    expect(r.stderr).toContain("more than one arch in make.profile/parent; keeping x86-64bit, dropping arm-64bit");
    expect(fs.readFileSync(path.join(w.root, "etc/portage/make.profile/parent"), "utf8").split("\n").slice(0, 3)).toEqual([
      "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit",
      "core-kit:funtoo/1.0/linux-gnu/arch/x86-64bit/subarch/generic_64",
      "core-kit:funtoo/1.0/linux-gnu/build/next",
    ]);
    ouzo(["profile", "arch", "arm-64bit", "--root", w.root]);
    expect(fs.readFileSync(path.join(w.root, "etc/portage/make.profile/parent"), "utf8")).not.toContain("subarch");
  });
});
