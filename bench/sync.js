// Sync of a generated 30-kit release from local mirrors (issue: sync): cold sync and no-op sync.
// Targets on 2 cores: cold sync at least 4x faster than ego (ego takes about 40 s for a 30-kit
// MARK release from local mirrors, cloning one kit after another: so <= 10 s), no-op sync < 1 s.
// ouzo's cold sync is timed twice: by default (a local mirror on the same file system is cloned
// by hard-linking its objects) and with --no-link (shallow packs through git's transport, which
// is what a sync from a server costs the client, plus the packing a server would do). A floor is
// timed beside them: the same work trees written by tar alone, which is what creating the files
// costs on that file system whatever writes them.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ebuild, manifestLine, metadataXml, patch, prng, seedOf } from "./kitShape.js";
import { figure, median, OUZO } from "./util.js";

/** Kits in the release (OUZO_BENCH_KITS: fewer for a quick check of the bench itself). */
const KITS = Number(process.env.OUZO_BENCH_KITS ?? 30);
/** Packages per kit: about 4,000 files at the pin (see kitShape.js). */
const PACKAGES = 850;
const CATEGORIES = Array.from({ length: 40 }, (_, i) => `cat-${i}`);
const COMMITS = 40;
/** Packages bumped by each commit after the first. */
const BUMPS = 12;
/** Turns of (ouzo cold sync, baseline): medians of these are compared. */
const ROUNDS = Number(process.env.OUZO_BENCH_ROUNDS ?? 3);
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };

/**
 * One kit mirror built with git fast-import: PACKAGES packages in 40 categories, shaped like a
 * real kit (kitShape.js), then COMMITS - 1 commits that each bump BUMPS packages (a new ebuild,
 * its Manifest line, and now and then the oldest ebuild removed). Returns the head commit and
 * the number of files at the head.
 */
export function buildKit(dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync("git", ["init", "--quiet", "--bare", dir], { env: ENV });
  const r = prng(seedOf(name));
  const chunks = [];
  let mark = 0;
  const blob = (content) => {
    mark++;
    chunks.push(`blob\nmark :${mark}\ndata ${Buffer.byteLength(content)}\n${content}\n`);
    return mark;
  };
  const packages = Array.from({ length: PACKAGES }, (_, p) => ({ cat: CATEGORIES[p % CATEGORIES.length], pkg: `pkg-${p}`, versions: [], manifest: "" }));
  let files = 0;
  const addVersion = (changes, p, revision) => {
    const version = `1.${p.versions.length ? Number(p.versions.at(-1).split(".")[1]) + 1 : Math.floor(r() * 20)}`;
    p.versions.push(version);
    p.manifest += manifestLine(p.pkg, version, name);
    const text = ebuild(r, { kit: name, cat: p.cat, pkg: p.pkg, version, revision, categories: CATEGORIES });
    changes.push(`M 100644 :${blob(text)} ${p.cat}/${p.pkg}/${p.pkg}-${version}.ebuild`);
    files++;
  };
  let previous;
  for (let c = 0; c < COMMITS; c++) {
    const changes = [];
    if (c === 0) {
      for (const p of packages) {
        changes.push(`M 100644 :${blob(metadataXml(r, `dev${Math.floor(r() * 50)}`))} ${p.cat}/${p.pkg}/metadata.xml`);
        files++;
        const n = 1 + Math.floor(r() * r() * 3);
        for (let v = 0; v < n; v++) addVersion(changes, p, c);
        if (r() < 0.25) {
          for (let i = 0, k = 1 + Math.floor(r() * 3); i < k; i++) {
            changes.push(`M 100644 :${blob(patch(r, p.pkg))} ${p.cat}/${p.pkg}/files/${p.pkg}-fix-${i}.patch`);
            files++;
          }
        }
        changes.push(`M 100644 :${blob(p.manifest)} ${p.cat}/${p.pkg}/Manifest`);
        files++;
      }
    } else {
      for (let i = 0; i < BUMPS; i++) {
        const p = packages[(c * 97 + i * 31) % PACKAGES];
        addVersion(changes, p, c);
        if (p.versions.length > 3) {
          const old = p.versions.shift();
          changes.push(`D ${p.cat}/${p.pkg}/${p.pkg}-${old}.ebuild`);
          p.manifest = p.manifest.split("\n").filter((l) => l && !l.includes(`${p.pkg}-${old}.tar`)).join("\n") + "\n";
          files--;
        }
        changes.push(`M 100644 :${blob(p.manifest)} ${p.cat}/${p.pkg}/Manifest`);
      }
    }
    mark++;
    const t = 1700000000 + c * 3600;
    chunks.push(`commit refs/heads/mark-v\nmark :${mark}\ncommitter bench <bench@ouzo.invalid> ${t} +0000\ndata 12\ncommit ${String(c).padStart(4, "0")}\n${previous ? `from :${previous}\n` : ""}${changes.join("\n")}\n\n`);
    previous = mark;
  }
  chunks.push("done\n");
  execFileSync("git", ["--git-dir", dir, "fast-import", "--quiet", "--done"], { input: chunks.join(""), env: ENV, maxBuffer: 1 << 28 });
  const pin = execFileSync("git", ["--git-dir", dir, "rev-parse", "refs/heads/mark-v"], { env: ENV, encoding: "utf8" }).trim();
  return { pin, files };
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
function runOn(tmp, mirrors, kits, prefix, tars) {
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
    // The floor: the same work trees written by tar from archives in memory, as many at once as
    // there are cores, with no git at all. Creating the files is the kernel's share, which any
    // sync pays; baseline / floor bounds the speed-up any implementation could show here.
    const floor = (dir) => {
      fs.mkdirSync(dir);
      settle();
      const f0 = process.hrtime.bigint();
      const r = spawnSync("sh", ["-c", 'for k; do echo "$k"; done | xargs -P "$JOBS" -I{} sh -c \'mkdir "$DEST/{}" && tar -xf "$TARS/{}.tar" -C "$DEST/{}"\'', "floor", ...kits.map((k) => k.name)], {
        env: { ...process.env, JOBS: String(os.availableParallelism()), DEST: dir, TARS: tars },
        stdio: ["ignore", "ignore", "pipe"],
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
      return Number(process.hrtime.bigint() - f0) / 1e9;
    };
    const colds = [];
    const baselines = [];
    const floors = [];
    let root;
    for (let round = 0; round < ROUNDS; round++) {
      root = newRoot(`root-${round}`);
      const cold = sync(root);
      if (cold.report.kits.length !== KITS) throw new Error("not every kit synced");
      colds.push(cold.seconds);
      baselines.push(egoSync(path.join(base, `ego-root-${round}`)));
      floors.push(floor(path.join(base, `floor-${round}`)));
    }
    const noop = [sync(root), sync(root), sync(root)];
    if (noop.some((n) => n.report.kits.some((k) => k.changed))) throw new Error("a no-op sync changed something");
    // Through git's transport (--no-link: shallow packs, as from a server) rather than by
    // hard-linking the objects of a mirror on the same file system.
    const transport = sync(newRoot("root-no-link"), "--no-link");
    if (transport.report.kits.length !== KITS) throw new Error("not every kit synced");
    const cold = { seconds: median(colds) };
    const baseline = median(baselines);
    return { colds, baselines, floors, floor: median(floors), cold: cold.seconds, transport: transport.seconds, noop: Math.min(...noop.map((n) => n.seconds)), baseline };
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
      return { name, ...buildKit(path.join(mirrors, name), name) };
    });
    buildMetaRepo(path.join(mirrors, "meta-repo"), kits);
    const files = kits.reduce((n, k) => n + k.files, 0);
    const packed = Number(execFileSync("du", ["-sb", mirrors], { encoding: "utf8" }).split("\t")[0]);
    console.log(`release: ${KITS} kits of ${PACKAGES} packages and ${COMMITS} commits each, ${files} files at the pins (${Math.round(files / KITS)} a kit), mirrors ${(packed / 2 ** 20).toFixed(0)} MiB (generated in ${((Date.now() - t0) / 1000).toFixed(1)} s), kits_depth 2, mirrors as ${process.env.OUZO_BENCH_URL === "path" ? "plain paths" : "file:// URLs"}`);
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
        const tars = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : place, "ouzo-bench-tars-"));
        let r;
        try {
          for (const k of kits) execFileSync("git", ["--git-dir", path.join(here, k.name), "archive", "--format=tar", "-o", path.join(tars, `${k.name}.tar`), k.pin], { env: ENV });
          r = runOn(place, here, kits, prefix, tars);
        } finally {
          fs.rmSync(tars, { recursive: true, force: true });
        }
        console.log(`mirrors and work trees in ${place} (${filesystemOf(place)}):`);
        const list = (xs) => xs.map((x) => x.toFixed(2)).join(", ");
        console.log(`  in turns: cold syncs ${list(r.colds)} s; baselines ${list(r.baselines)} s; floors ${list(r.floors)} s`);
        figure(`  cold sync of ${KITS} kits (whole process, median of ${ROUNDS})`, r.cold.toFixed(2), "s", "<= 10 s (4x faster than ego's ~40 s)");
        figure("  cold sync with --no-link (git's transport, shallow)", r.transport.toFixed(2), "s");
        figure("  no-op sync (whole process, best of 3)", r.noop.toFixed(3), "s", "< 1 s");
        figure(`  baseline: ego's git commands in turn (median of ${ROUNDS})`, r.baseline.toFixed(2), "s");
        figure("  cold sync speed-up over that baseline", (r.baseline / r.cold).toFixed(2), "x", ">= 4x");
        figure("  the same with --no-link", (r.baseline / r.transport).toFixed(2), "x");
        figure(`  floor: the trees written by tar alone (median of ${ROUNDS})`, r.floor.toFixed(2), "s");
        figure("  cold sync over the floor", (r.cold / r.floor).toFixed(2), "x");
        figure("  baseline / floor: the most any sync could gain", (r.baseline / r.floor).toFixed(2), "x");
      } finally {
        if (here !== mirrors) fs.rmSync(here, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
