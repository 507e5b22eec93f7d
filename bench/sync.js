// Sync of a generated 30-kit release from local mirrors (issue: sync): cold sync and no-op sync.
// Targets on 2 cores: cold sync at least 4x faster than ego (ego takes about 40 s for a 30-kit
// MARK release from local mirrors, cloning one kit after another: so <= 10 s), no-op sync < 1 s.
// ouzo's cold sync is timed twice: by default (a local mirror on the same file system is cloned
// by hard-linking its objects) and with --no-link (shallow packs through git's transport, which
// is what a sync from a server costs the client, plus the packing a server would do).
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { figure, median, OUZO } from "./util.js";

const KITS = 30;
const FILES = 3000;
const COMMITS = 40;
/** Turns of (ouzo cold sync, baseline): medians of these are compared. */
const ROUNDS = Number(process.env.OUZO_BENCH_ROUNDS ?? 3);
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };

/**
 * One kit mirror built with git fast-import: FILES files in the shape of a kit (1,000 packages in
 * 40 categories, each with a Manifest and two ebuilds), then COMMITS commits that each bump a
 * few packages (a new ebuild and its Manifest).
 */
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
      const p = Math.floor(f / 3);
      const cat = `cat-${p % 40}`;
      const pkg = `pkg-${p}`;
      const ebuild = `# ${name} ${cat}/${pkg} revision ${c}\nEAPI=7\nDESCRIPTION="package ${p} of ${name}"\nSLOT=0\nKEYWORDS="*"\n`;
      if (c === 0 && f % 3 === 0) changes.push(`M 100644 :${blob(`DIST ${pkg}-1.tar.gz 1000 BLAKE2B ${name}\n`)} ${cat}/${pkg}/Manifest`);
      else changes.push(`M 100644 :${blob(ebuild)} ${cat}/${pkg}/${pkg}-${1 + (f % 3)}.${c}.ebuild`);
      if (c > 0) changes.push(`M 100644 :${blob(`DIST ${pkg}-${c}.tar.gz 1000 BLAKE2B ${name}\n`)} ${cat}/${pkg}/Manifest`);
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

/**
 * Flush what earlier steps wrote and wait (up to 90 s) for the disk to be idle, so that their
 * writeback is not charged to the next timing: Linux reports the share of time tasks stalled on
 * I/O in /proc/pressure/io.
 */
function settle() {
  spawnSync("sync");
  const deadline = Date.now() + 90_000;
  for (;;) {
    let avg10 = 0;
    try {
      avg10 = Number(/some avg10=([\d.]+)/.exec(fs.readFileSync("/proc/pressure/io", "utf8"))?.[1] ?? 0);
    } catch {
      return; // no pressure information: sync(1) is all we can do
    }
    if (avg10 < 1 || Date.now() > deadline) return;
    spawnSync("sleep", ["2"]);
  }
}

/** Cold sync, no-op sync and the ego baseline in a fresh directory under `tmp`; returns the figures. */
function runOn(tmp, mirrors, kits, prefix) {
  const base = fs.mkdtempSync(path.join(tmp, "ouzo-bench-sync-"));
  try {
    // Every run gets its own ROOT and nothing is deleted before the end: on a virtual disk,
    // deleting 90,000 files can slow the next writes down for a long while.
    const newRoot = (name) => {
      const root = path.join(base, name);
      fs.mkdirSync(path.join(root, "etc"), { recursive: true });
      fs.writeFileSync(path.join(root, "etc/ego.conf"), `[global]\nrelease = mark-v\nsync_base_url = ${prefix}${mirrors}/{repo}\n`);
      return root;
    };
    const sync = (root, ...extra) => {
      settle();
      const s = process.hrtime.bigint();
      const r = spawnSync(OUZO, ["sync", "--root", root, "--no-regen", "--json", ...extra, ...(process.env.OUZO_BENCH_JOBS ? ["--jobs", process.env.OUZO_BENCH_JOBS] : [])], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`sync failed: ${r.stderr}`);
      return { seconds: Number(process.hrtime.bigint() - s) / 1e9, report: JSON.parse(r.stdout) };
    };
    // Baseline: the git commands ego runs for a first sync (meta-repo.md §5), one kit after
    // another, on the same mirrors and the same disk. ego itself is not available here, and its
    // Python start-up and per-kit child processes are left out, so ego would be slower than this.
    const git = (args) => execFileSync("git", args, { env: ENV, stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" });
    const egoSync = (egoRoot) => {
      const kitsDir = path.join(egoRoot, "meta-repo", "kits");
      fs.mkdirSync(kitsDir, { recursive: true });
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
      return Number(process.hrtime.bigint() - b0) / 1e9;
    };
    // The state of a virtual disk drifts while the bench runs (writeback, blocks freed earlier),
    // so ouzo's cold sync and the baseline take turns, twice, and the median pairs are compared.
    const colds = [];
    const baselines = [];
    let root;
    for (let round = 0; round < ROUNDS; round++) {
      root = newRoot(`root-${round}`);
      const cold = sync(root);
      if (cold.report.kits.length !== KITS) throw new Error("not every kit synced");
      colds.push(cold.seconds);
      baselines.push(egoSync(path.join(base, `ego-root-${round}`)));
    }
    const noop = [sync(root), sync(root), sync(root)];
    if (noop.some((n) => n.report.kits.some((k) => k.changed))) throw new Error("a no-op sync changed something");
    // Through git's transport (--no-link: shallow packs, as from a server) rather than by
    // hard-linking the objects of a mirror on the same file system.
    const transport = sync(newRoot("root-no-link"), "--no-link");
    if (transport.report.kits.length !== KITS) throw new Error("not every kit synced");
    const cold = { seconds: median(colds) };
    const baseline = median(baselines);
    return { colds, baselines, cold: cold.seconds, transport: transport.seconds, noop: Math.min(...noop.map((n) => n.seconds)), baseline };
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
    console.log(`release: ${KITS} kits of ${FILES} files (about 4,000 at the pin, 1,040 directories) and ${COMMITS} commits each (generated in ${((Date.now() - t0) / 1000).toFixed(1)} s), kits_depth 2, mirrors as ${process.env.OUZO_BENCH_URL === "path" ? "plain paths" : "file:// URLs"}`);
    // file:// makes git pack and transfer as it would from a git server (and honours --depth);
    // OUZO_BENCH_URL=path uses plain paths (ego's clones then hard-link objects too).
    const prefix = process.env.OUZO_BENCH_URL === "path" ? "" : "file://";
    // Writing 90,000 files is what a cold sync costs, so the file system decides the figures. The
    // disk of a virtual machine can swing several-fold between runs (block discards of files
    // deleted earlier, writeback); a tmpfs shows what ouzo and git themselves cost.
    const places = [os.tmpdir()];
    if (process.env.OUZO_BENCH_TMPFS !== "0" && fs.existsSync("/dev/shm") && filesystemOf("/dev/shm") === "tmpfs" && filesystemOf(os.tmpdir()) !== "tmpfs") places.push("/dev/shm");
    for (const place of places) {
      // the mirrors live on the same file system as the work trees, as local mirrors usually do
      let here = mirrors;
      if (place !== os.tmpdir()) {
        here = fs.mkdtempSync(path.join(place, "ouzo-bench-mirrors-"));
        fs.cpSync(mirrors, here, { recursive: true });
      }
      try {
        const r = runOn(place, here, kits, prefix);
        console.log(`mirrors and work trees in ${place} (${filesystemOf(place)}):`);
        console.log(`  in turns: cold syncs ${r.colds.map((x) => x.toFixed(2)).join(", ")} s; baselines ${r.baselines.map((x) => x.toFixed(2)).join(", ")} s`);
        figure(`  cold sync of 30 kits (whole process, median of ${ROUNDS})`, r.cold.toFixed(2), "s", "<= 10 s (4x faster than ego's ~40 s)");
        figure("  cold sync with --no-link (git's transport, shallow)", r.transport.toFixed(2), "s");
        figure("  no-op sync (whole process, best of 3)", r.noop.toFixed(3), "s", "< 1 s");
        figure(`  baseline: ego's git commands, one kit after another (median of ${ROUNDS})`, r.baseline.toFixed(2), "s");
        figure("  cold sync speed-up over that baseline", (r.baseline / r.cold).toFixed(2), "x", ">= 4x");
        figure("  the same with --no-link", (r.baseline / r.transport).toFixed(2), "x");
      } finally {
        if (here !== mirrors) fs.rmSync(here, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
