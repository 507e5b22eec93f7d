// Sync of a generated 30-kit release from local mirrors (issue: sync): cold sync and no-op sync.
// Targets on 2 cores: cold sync at least 4x faster than ego (ego takes about 40 s for a 30-kit
// MARK release from local mirrors, cloning one kit after another: so <= 10 s), no-op sync < 1 s.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { figure, OUZO } from "./util.js";

const KITS = 30;
const FILES = 3000;
const COMMITS = 40;
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };

/** One kit mirror built with git fast-import: FILES files, COMMITS commits each touching a few. */
export function buildKit(dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync("git", ["init", "--quiet", "--bare", dir], { env: ENV });
  let stream = "";
  let mark = 0;
  const blob = (content) => {
    mark++;
    stream += `blob\nmark :${mark}\ndata ${Buffer.byteLength(content)}\n${content}\n`;
    return mark;
  };
  const commits = [];
  for (let c = 0; c < COMMITS; c++) {
    const changes = [];
    const count = c === 0 ? FILES : 25;
    for (let i = 0; i < count; i++) {
      const f = c === 0 ? i : (c * 97 + i * 31) % FILES;
      const cat = `cat-${f % 40}`;
      const pkg = `pkg-${Math.floor(f / 3)}`;
      const content = `# ${name} ${cat}/${pkg} revision ${c}\nEAPI=7\nDESCRIPTION="package ${f} of ${name}"\nSLOT=0\nKEYWORDS="*"\n`;
      changes.push(`M 100644 :${blob(content)} ${cat}/${pkg}/${pkg}-${1 + (f % 3)}.${c === 0 ? 0 : c}.ebuild`);
    }
    mark++;
    const t = 1700000000 + c * 3600;
    stream += `commit refs/heads/mark-v\nmark :${mark}\ncommitter bench <bench@ouzo.invalid> ${t} +0000\ndata 12\ncommit ${String(c).padStart(4, "0")}\n${c ? `from :${commits[c - 1]}\n` : ""}${changes.join("\n")}\n\n`;
    commits.push(mark);
  }
  stream += "done\n";
  execFileSync("git", ["--git-dir", dir, "fast-import", "--quiet", "--done"], { input: stream, env: ENV, maxBuffer: 1 << 28 });
  return execFileSync("git", ["--git-dir", dir, "rev-parse", "refs/heads/mark-v"], { env: ENV, encoding: "utf8" }).trim();
}

export function buildMetaRepo(dir, kits) {
  const work = `${dir}-work`;
  fs.mkdirSync(path.join(work, "metadata"), { recursive: true });
  const info = {
    kit_order: kits.map((k) => k.name),
    kit_settings: Object.fromEntries(kits.map((k) => [k.name, { stability: { "mark-v": "prime" }, type: "auto" }])),
    release_defs: Object.fromEntries(kits.map((k) => [k.name, ["mark-v"]])),
    release_info: { required: [{ ego: "2.7.2" }], version: 11 },
  };
  fs.writeFileSync(path.join(work, "metadata/kit-info.json"), JSON.stringify(info));
  fs.writeFileSync(path.join(work, "metadata/kit-sha1.json"), JSON.stringify(Object.fromEntries(kits.map((k) => [k.name, { "mark-v": k.pin }]))));
  const g = (args) => execFileSync("git", ["-C", work, ...args], { env: { ...ENV, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@x", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@x" } });
  g(["init", "--quiet", "-b", "mark-v"]);
  g(["add", "-A"]);
  g(["commit", "--quiet", "-m", "release"]);
  execFileSync("git", ["clone", "--quiet", "--bare", work, dir], { env: ENV });
}

/** `sync(1)`: flush what earlier steps wrote so that their writeback is not charged to the next timing. */
function settle() {
  spawnSync("sync");
}

/** Cold sync, no-op sync and the ego baseline in a fresh directory under `tmp`; returns the figures. */
function runOn(tmp, mirrors, kits, prefix) {
  const base = fs.mkdtempSync(path.join(tmp, "ouzo-bench-sync-"));
  try {
    const root = path.join(base, "root");
    fs.mkdirSync(path.join(root, "etc"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/ego.conf"), `[global]\nrelease = mark-v\nsync_base_url = ${prefix}${mirrors}/{repo}\n`);
    const sync = () => {
      settle();
      const s = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [OUZO, "sync", "--root", root, "--no-regen", "--json", ...(process.env.OUZO_BENCH_JOBS ? ["--jobs", process.env.OUZO_BENCH_JOBS] : [])], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`sync failed: ${r.stderr}`);
      return { seconds: Number(process.hrtime.bigint() - s) / 1e9, report: JSON.parse(r.stdout) };
    };
    const cold = sync();
    if (cold.report.kits.length !== KITS) throw new Error("not every kit synced");
    const noop = [sync(), sync(), sync()];
    if (noop.some((n) => n.report.kits.some((k) => k.changed))) throw new Error("a no-op sync changed something");

    // Baseline: the git commands ego runs for a first sync (meta-repo.md §5), one kit after
    // another, on the same mirrors and the same disk. ego itself is not available here, and its
    // Python start-up and per-kit child processes are left out, so ego would be slower than this.
    const egoRoot = path.join(base, "ego-root");
    const kitsDir = path.join(egoRoot, "meta-repo", "kits");
    fs.mkdirSync(kitsDir, { recursive: true });
    const git = (args) => execFileSync("git", args, { env: ENV, stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" });
    settle();
    const b0 = process.hrtime.bigint();
    git(["clone", "--quiet", "-b", "mark-v", "--single-branch", prefix + path.join(mirrors, "meta-repo"), path.join(egoRoot, "meta-repo-clone")]);
    for (const k of kits) {
      const dir = path.join(kitsDir, k.name);
      git(["clone", "--quiet", "-b", "mark-v", "--depth=2", "--single-branch", prefix + path.join(mirrors, k.name), dir]);
      git(["-C", dir, "checkout", "--quiet", "mark-v"]);
      git(["-C", dir, "reset", "--quiet", "--hard"]);
      git(["-C", dir, "clean", "--quiet", "-fd"]);
      git(["-C", dir, "pull", "--quiet", "-f", "--no-commit"]);
      if (git(["-C", dir, "rev-parse", "HEAD"]).trim() !== k.pin) {
        git(["-C", dir, "fetch", "--quiet"]);
        git(["-C", dir, "checkout", "--quiet", k.pin]);
      }
    }
    const baseline = Number(process.hrtime.bigint() - b0) / 1e9;
    return { cold: cold.seconds, noop: Math.min(...noop.map((n) => n.seconds)), baseline };
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

function filesystemOf(dir) {
  const r = spawnSync("df", ["--output=fstype", dir], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().split("\n").pop() : "unknown";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-mirrors-"));
  try {
    const mirrors = path.join(base, "mirrors");
    const t0 = Date.now();
    const kits = Array.from({ length: KITS }, (_, i) => {
      const name = `kit${String(i).padStart(2, "0")}-kit`;
      return { name, pin: buildKit(path.join(mirrors, name), name) };
    });
    buildMetaRepo(path.join(mirrors, "meta-repo"), kits);
    console.log(`release: ${KITS} kits of ${FILES} files and ${COMMITS} commits each (generated in ${((Date.now() - t0) / 1000).toFixed(1)} s), kits_depth 2, mirrors as ${process.env.OUZO_BENCH_URL === "path" ? "plain paths" : "file:// URLs"}`);
    // file:// makes git pack and transfer as it would from a git server (and honours --depth);
    // OUZO_BENCH_URL=path uses plain paths, which git clones by hard-linking objects.
    const prefix = process.env.OUZO_BENCH_URL === "path" ? "" : "file://";
    // Writing 90,000 files is what a cold sync costs, so the file system decides the figures. The
    // disk of a virtual machine can swing several-fold between runs (block discards of files
    // deleted earlier, writeback); a tmpfs shows what ouzo and git themselves cost.
    const places = [os.tmpdir()];
    if (process.env.OUZO_BENCH_TMPFS !== "0" && fs.existsSync("/dev/shm") && filesystemOf("/dev/shm") === "tmpfs" && filesystemOf(os.tmpdir()) !== "tmpfs") places.push("/dev/shm");
    for (const place of places) {
      const r = runOn(place, mirrors, kits, prefix);
      const where = `${place} (${filesystemOf(place)})`;
      console.log(`work trees in ${where}:`);
      figure("  cold sync of 30 kits (whole process)", r.cold.toFixed(2), "s", "<= 10 s (4x faster than ego's ~40 s)");
      figure("  no-op sync (whole process, best of 3)", r.noop.toFixed(3), "s", "< 1 s");
      figure("  baseline: ego's git commands, one kit after another", r.baseline.toFixed(2), "s");
      figure("  cold sync speed-up over that baseline", (r.baseline / r.cold).toFixed(2), "x", ">= 4x");
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
