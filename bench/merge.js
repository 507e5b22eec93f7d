// Merging and unmerging (issue #13): a 5,000-file image (30 MB in 50 directories) merged into an
// empty ROOT (target <= 1.5 s); the same image again over itself (a reinstall: identical files
// only get their mtime); an upgrade to a version whose every file changed (every file replaced,
// the old entry removed); and the unmerge of it (target <= 1 s). Each merge is the whole
// transaction of src/merge: plan (every image file hashed for CONTENTS), journal, staging,
// renames, the replaced version's removal, the vdb entry. With FEATURES=merge-sync (MARK's
// default) each merge and unmerge also syncfs's the filesystem, which flushes whatever is dirty
// on it: those figures are given apart. Images are copied into place before each run, untimed.
// Medians of OUZO_BENCH_RUNS (default 5) runs.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { mergePackage } from "../dist/merge/merge.js";
import { unmergePackage } from "../dist/merge/unmerge.js";
import { readInstalled } from "../dist/vdb/installed.js";
import { figure, median } from "./util.js";

const RUNS = Number(process.env.OUZO_BENCH_RUNS ?? 5);
const FILES = 5000;
const DIRS = 50;
const MARK = ["protect-owned", "config-protect-if-modified", "unmerge-orphans"];
const base = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-merge-"));

/** A pristine image: FILES files of 1..12,000 bytes (30 MB in all), a few symlinks, fixed mtimes. */
function makeImage(dir, version) {
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  const pool = crypto.randomBytes(12_000 + 4096);
  let total = 0;
  for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(dir, "usr/share/bench", `d${String(d).padStart(2, "0")}`), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const size = 1 + (next() % 12_000);
    const off = next() % 4096;
    const f = path.join(dir, "usr/share/bench", `d${String(i % DIRS).padStart(2, "0")}`, `f${i}.dat`);
    const data = Buffer.concat([Buffer.from(`v${version} ${i}\n`), pool.subarray(off, off + size)]);
    fs.writeFileSync(f, data);
    fs.utimesSync(f, 1_600_000_000 + version, 1_600_000_000 + version);
    total += data.length;
  }
  fs.mkdirSync(path.join(dir, "usr/bin"), { recursive: true });
  fs.symlinkSync("../share/bench/d00/f0.dat", path.join(dir, "usr/bin/bench"));
  return total;
}

function buildInfo(dir, pf) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries({ CATEGORY: "app-misc", PF: pf, SLOT: "0", EAPI: "8", USE: "", repository: "core-kit" })) fs.writeFileSync(path.join(dir, k), `${v}\n`);
}

const pristine = { 1: path.join(base, "pristine-1"), 2: path.join(base, "pristine-2") };
const bytes = makeImage(pristine[1], 1);
makeImage(pristine[2], 2);
buildInfo(path.join(base, "bi-1"), "bench-1.0");
buildInfo(path.join(base, "bi-2"), "bench-2.0");

function freshImage(version) {
  const image = path.join(base, "image");
  fs.rmSync(image, { recursive: true, force: true });
  const r = spawnSync("cp", ["-a", pristine[version], image]);
  if (r.status !== 0) throw new Error("cp -a failed");
  return image;
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function mergeReq(root, pf, version, features) {
  return {
    root,
    category: "app-misc",
    pf,
    slot: "0",
    imageDir: freshImage(version),
    buildInfoDir: path.join(base, `bi-${version}`),
    configProtect: ["/etc"],
    configProtectMask: [],
    features: new Set(features),
    replacing: readInstalled(root).filter((p) => p.package === "bench"),
  };
}

async function series(features) {
  const t = { fresh: [], reinstall: [], upgrade: [], unmerge: [] };
  for (let i = 0; i < RUNS; i++) {
    const root = path.join(base, `root-${i}`);
    fs.mkdirSync(root);
    for (const [key, pf, version] of [
      ["fresh", "bench-1.0", 1],
      ["reinstall", "bench-1.0", 1],
      ["upgrade", "bench-2.0", 2],
    ]) {
      const req = mergeReq(root, pf, version, features);
      // settle what the image copy left dirty, so that each figure pays for its own writes only
      spawnSync("sync", ["-f", base]);
      t[key].push(await timed(() => mergePackage(req)));
    }
    const pkg = readInstalled(root).find((p) => p.package === "bench");
    t.unmerge.push(await timed(() => unmergePackage({ root, pkg, configProtect: ["/etc"], configProtectMask: [], features: new Set(features) })));
    if (readInstalled(root).length !== 0 || fs.existsSync(path.join(root, "usr/share/bench"))) throw new Error("the unmerge left files behind");
    fs.rmSync(root, { recursive: true, force: true });
  }
  return t;
}

console.log(`image: ${FILES} files + 1 symlink in ${DIRS} directories, ${(bytes / 1e6).toFixed(1)} MB; medians of ${RUNS} runs`);
for (const [label, features] of [
  ["", MARK],
  [" (merge-sync)", [...MARK, "merge-sync"]],
]) {
  const t = await series(features);
  figure(`merge into an empty ROOT${label}`, median(t.fresh).toFixed(0), "ms", "<= 1500 ms");
  figure(`reinstall over itself (identical files)${label}`, median(t.reinstall).toFixed(0), "ms");
  figure(`upgrade, every file changed${label}`, median(t.upgrade).toFixed(0), "ms");
  figure(`unmerge${label}`, median(t.unmerge).toFixed(0), "ms", "<= 1000 ms");
}
fs.rmSync(base, { recursive: true, force: true });
