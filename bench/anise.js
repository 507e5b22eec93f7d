// anise packages (issue #14): 200 packages, ~40,000 files, ~400 MB unpacked, published with
// ouzo's own create-repo and served on 127.0.0.1, installed into an empty ROOT by
// `ouzo anise install` (download, sha256, unpack, merge through the merge stage with its journal,
// one /var/db/pkg entry each). Printed against the floor: the same archives unpacked by
// `tar --zstd -x` in parallel (one per core) into an empty directory, no download, no database.
// Then `q belongs` against an owner index of 200,000 files, and an `upgrade` with nothing to do.
// Targets: install <= 1.5x the floor; q belongs <= 50 ms; no-op upgrade <= 0.5 s.
// The anise commands run as users run them: `ouzo anise …` (bin/ouzo.js, the bundled CLI with its
// code cache; bin/ouzo only keeps NODE_EXTRA_CA_CERTS from node's start, and the bench leaves it
// out, the repository being plain HTTP). Beside each time, the
// CPU seconds it took (user + system, of the process and its threads or children): on a machine
// with few cores, the ratio of times follows the ratio of work. OUZO_BENCH_PACKAGES and
// OUZO_BENCH_FILES scale it down.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { createRepository } from "../dist/anise/createRepo.js";
import { OwnerIndex } from "../dist/vdb/ownerIndex.js";
import { ENV_WITHOUT_EXTRA_CA, figure, median, REPO } from "./util.js";

const PACKAGES = Number(process.env.OUZO_BENCH_PACKAGES ?? 200);
const FILES = Number(process.env.OUZO_BENCH_FILES ?? 40_000);
const BYTES = Number(process.env.OUZO_BENCH_BYTES ?? 400 * 1024 * 1024);
const CLI = path.join(REPO, "bin", "ouzo.js");
const base = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-anise-"));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
/** CPU seconds (user + system) of the children this process has waited for, so far (Linux: /proc/self/stat). */
function childrenCpu() {
  const f = fs.readFileSync("/proc/self/stat", "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  // fields from the third on (state is fields[0]): cutime and cstime are the 16th and 17th, in
  // clock ticks: USER_HZ, which Linux fixes at 100 for what it shows user space
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

// --- the packages: text-like content (compresses about 3:1, as real packages do) ---
const WORDS = "the of and to in is that for it as with was on be by at this from or have an are not but which one all were when we there can more if out so what up about into than them".split(" ");
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
function content(size, salt) {
  const parts = [];
  let n = 0;
  while (n < size) {
    const w = rand() < 0.15 ? `${salt}${Math.floor(rand() * 1e9).toString(36)}` : WORDS[Math.floor(rand() * WORDS.length)];
    parts.push(w);
    n += w.length + 1;
  }
  return Buffer.from(parts.join(" ").slice(0, size));
}
// one block of text reused with a per-file offset keeps generation fast
const BLOCK = content(4 << 20, "x");

const stage = path.join(base, "stage");
const pkgs = path.join(base, "packages");
fs.mkdirSync(pkgs, { recursive: true });
const perPkgFiles = Math.round(FILES / PACKAGES);
const perFile = Math.round(BYTES / FILES);
let t0 = process.hrtime.bigint();
let totalFiles = 0;
let totalBytes = 0;
const artifacts = [];
for (let p = 0; p < PACKAGES; p++) {
  const name = `pkg${p}`;
  const cat = ["app-misc", "dev-libs", "sys-apps", "media-libs", "net-misc"][p % 5];
  const dir = path.join(stage, name);
  const files = [];
  for (let i = 0; i < perPkgFiles; i++) {
    // sizes spread from a few hundred bytes to ~8x the mean
    const size = Math.max(64, Math.floor(perFile * (i % 10 === 0 ? 4 : 0.67) * (0.5 + rand())));
    const rel = i === 0 ? `usr/bin/${name}` : `usr/share/${name}/d${i % 8}/f${i}.txt`;
    const abs = path.join(dir, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    // half random hex (about 2:1 for zstd), half text: about 3:1 overall, as real packages
    const off = Math.floor(rand() * (BLOCK.length - size - 1));
    const data = Buffer.concat([Buffer.from(`${name} ${i}\n`), Buffer.from(randomBytes(size >> 2).toString("hex")), BLOCK.subarray(off, off + (size >> 1))]);
    fs.writeFileSync(abs, data);
    files.push(rel);
    totalBytes += data.length;
  }
  totalFiles += files.length;
  const fp = `${name}-${cat}-1.0`;
  const art = path.join(pkgs, `${fp}.package.tar.zst`);
  const r = spawnSync("tar", ["--zstd", "-C", dir, "-cf", art, "usr"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  const sha = createHash("sha256").update(fs.readFileSync(art)).digest("hex");
  const runtime = { name, category: cat, version: "1.0", requires: p > 0 && p % 4 === 0 ? [{ name: `pkg${p - 1}`, category: ["app-misc", "dev-libs", "sys-apps", "media-libs", "net-misc"][(p - 1) % 5], version: ">=1.0" }] : null };
  fs.writeFileSync(path.join(pkgs, `${fp}.metadata.yaml`), YAML.stringify({ path: `${fp}.package.tar.zst`, checksums: { sha256: sha }, compressiontype: "zstd", files: files.sort(), runtime }));
  artifacts.push(art);
  fs.rmSync(dir, { recursive: true, force: true });
}
await createRepository({ packagesDir: pkgs, name: "bench", urls: [] });
const compressed = artifacts.reduce((n, a) => n + fs.statSync(a).size, 0);
console.log(`made ${PACKAGES} packages, ${totalFiles} files, ${(totalBytes / 1048576).toFixed(0)} MB unpacked, ${(compressed / 1048576).toFixed(0)} MB compressed, in ${(ms(t0) / 1000).toFixed(1)} s`);

// --- the floor: tar --zstd -x of every archive, one per core at a time ---
// Nothing is deleted between measurements: on this kind of disk (ext4 with online discard) a big
// deletion slows the file creations that follow it for seconds, and whichever measurement came
// next would pay for it. Every tree stays until the end.
// The tars are started by xargs, not by this process: node's spawn (a fork of this process, three
// pipes, an event-loop turn between one tar and the next) made the floor 10-25% slower in
// alternating hand runs, which would have flattered the ratio.
let floorNo = 0;
const artifactList = path.join(base, "artifacts.list");
async function floorRun() {
  const dest = path.join(base, `floor-${++floorNo}`);
  fs.mkdirSync(dest);
  fs.writeFileSync(artifactList, artifacts.join("\n") + "\n");
  // both measurements start with nothing left to write back
  spawnSync("sync");
  const cpu0 = childrenCpu();
  const start = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const c = spawn("xargs", ["-a", artifactList, "-d", "\n", "-P", String(os.cpus().length), "-n", "1", "tar", "--zstd", "-C", dest, "-xf"], { stdio: ["ignore", "ignore", "inherit"] });
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`xargs tar -x: exit ${code}`))));
  });
  const took = ms(start);
  const cpu = childrenCpu() - cpu0;
  // what tar leaves in the page cache, written to disk: the install (FEATURES=merge-sync, the
  // default) ends with its files on disk, tar does not
  spawnSync("sync", ["-f", dest]);
  return { ms: took, cpu, durableMs: ms(start) };
}

// --- the server ---
// A static file server sends a file with sendfile and next to no CPU; node cannot, and streaming
// each artifact in 64 KiB reads cost ~0.35 CPU-s per install, taken from the two cores the
// install runs on. Each file is sent in one write instead (measured: 0.14-0.23 CPU-s).
const server = http.createServer((req, res) => {
  const file = path.join(pkgs, decodeURIComponent(req.url ?? "/"));
  let data;
  try {
    data = fs.readFileSync(file);
  } catch {
    return res.writeHead(404).end();
  }
  res.writeHead(200, { "content-length": data.length });
  res.end(data);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}`;

function runAnise(args, env = {}) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    // OUZO_BENCH_PROFILE=DIR: a CPU profile of each install, for looking into it
    const prof = process.env.OUZO_BENCH_PROFILE && args[0] === "install" ? ["--cpu-prof", `--cpu-prof-dir=${process.env.OUZO_BENCH_PROFILE}`] : [];
    const cpu0 = childrenCpu();
    const c = spawn(process.execPath, [...prof, CLI, "anise", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...ENV_WITHOUT_EXTRA_CA, NO_COLOR: "1", ...env } });
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    c.on("close", (code) => resolve({ code, out, err, ms: ms(start), cpu: childrenCpu() - cpu0 }));
  });
}

function freshRoot() {
  const root = path.join(base, `root-${Date.now()}`);
  const d = path.join(root, "etc", "anise", "repos.conf.d");
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, "bench.yml"), YAML.stringify({ name: "bench", type: "http", urls: [url], priority: 1 }));
  return root;
}

const RUNS = Number(process.env.OUZO_BENCH_RUNS ?? 5);
const floors = [];
const installs = [];
const ratios = [];
const floorCpu = [];
const durableRatios = [];
const installCpu = [];
const names = Array.from({ length: PACKAGES }, (_, p) => `pkg${p}`);
let root;
async function installRun(env = {}) {
  root = freshRoot();
  const sync = await runAnise(["repo", "update", "--system-target", root]);
  if (sync.code !== 0) throw new Error(sync.err);
  spawnSync("sync");
  // the repository's HTTP server is this process: what it spends serving shares the two cores
  const served = process.cpuUsage();
  const r = await runAnise(["install", "-y", "-v", ...names, "--system-target", root], env);
  if (r.code !== 0) throw new Error(`install failed: ${r.err}`);
  const u = process.cpuUsage(served);
  return { ...r, serverCpu: (u.user + u.system) / 1e6 };
}
// The speed of file creation on a shared virtual disk drifts by several times within a minute, so
// each run measures the floor and the install back to back, in turns one first then the other,
// and the figure that counts is the median of the runs' ratios.
for (let i = 0; i < RUNS; i++) {
  let f;
  let r;
  if (i % 2 === 0) {
    f = await floorRun();
    r = await installRun();
  } else {
    r = await installRun();
    f = await floorRun();
  }
  floors.push(f.ms);
  installs.push(r.ms);
  ratios.push(r.ms / f.ms);
  floorCpu.push(f.cpu);
  durableRatios.push(r.ms / f.durableMs);
  installCpu.push(r.cpu + r.serverCpu);
  const split = /anise: downloads .*/.exec(r.err);
  console.log(`  run ${i + 1}: floor ${f.ms.toFixed(0)} ms (${f.cpu.toFixed(2)} CPU-s; ${f.durableMs.toFixed(0)} ms with its sync), install ${r.ms.toFixed(0)} ms (${r.cpu.toFixed(2)} CPU-s + the server ${r.serverCpu.toFixed(2)}), ${(r.ms / f.ms).toFixed(2)}x${split ? ` (${split[0].slice(7)})` : ""}`);
}
const floor = median(floors);
const install = median(installs);
figure("floor: tar --zstd -x of the archives, in parallel (median)", floor.toFixed(0), "ms");
figure(`ouzo anise install of ${PACKAGES} packages (median)`, install.toFixed(0), "ms");
figure("install / floor, median of the runs' ratios", median(ratios).toFixed(2), "x", "<= 1.50");
figure("  best and worst run", `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`, "x");
figure("  install / (the floor + writing it to disk), median", median(durableRatios).toFixed(2), "x");
figure("  CPU of the floor (median)", median(floorCpu).toFixed(2), "CPU-s");
figure("  CPU of the install, with serving it (median)", median(installCpu).toFixed(2), "CPU-s");
figure(`  the install's CPU over ${os.availableParallelism()} cores, / the floor's time`, (median(installCpu) / os.availableParallelism() / (median(floors) / 1000)).toFixed(2), "x");
// the JavaScript reader (worker threads), what ouzo falls back to when native/ouzo-unpack is not built
{
  const f = await floorRun();
  const r = await installRun({ OUZO_UNPACKER: "js" });
  const split = /anise: downloads .*/.exec(r.err);
  console.log(`  with OUZO_UNPACKER=js: floor ${f.ms.toFixed(0)} ms, install ${r.ms.toFixed(0)} ms (${(r.cpu + r.serverCpu).toFixed(2)} CPU-s)${split ? ` (${split[0].slice(7)})` : ""}`);
  figure("  the same with the JavaScript reader (OUZO_UNPACKER=js, one run)", (r.ms / f.ms).toFixed(2), "x");
}
const vdb = fs.readdirSync(path.join(root, "var/db/pkg")).reduce((n, c) => n + fs.readdirSync(path.join(root, "var/db/pkg", c)).length, 0);
console.log(`installed: ${vdb} VDB entries`);

// --- no-op upgrade ---
const noops = [];
for (let i = 0; i < 5; i++) {
  const r = await runAnise(["upgrade", "-y", "--system-target", root]);
  if (r.code !== 0 || !r.out.includes("Nothing to upgrade")) throw new Error(`upgrade: ${r.err}${r.out}`);
  noops.push(r.ms);
}
const t0n = process.hrtime.bigint();
spawnSync(process.execPath, ["-e", "0"]);
const nodeStart = ms(t0n);
figure(`ouzo anise upgrade with nothing to do (${PACKAGES} installed)`, median(noops).toFixed(0), "ms", "<= 500 ms");
figure("  node -e 0, for comparison", nodeStart.toFixed(0), "ms");

// --- q belongs over 200,000 files: an owner index of the installed packages plus 160,000 more paths ---
const big = path.join(base, "belongs-root");
let owned = 0;
for (let p = 0; p < 800; p++) {
  const dir = path.join(big, "var/db/pkg", "app-misc", `many${p}-1.0`);
  fs.mkdirSync(dir, { recursive: true });
  const lines = [];
  for (let i = 0; i < 250; i++) lines.push(`obj /usr/share/many${p}/f${i} 0123456789abcdef0123456789abcdef 1700000000`);
  owned += lines.length;
  for (const [f, v] of Object.entries({ CATEGORY: "app-misc\n", PF: `many${p}-1.0\n`, SLOT: "0\n", EAPI: "8\n", COUNTER: String(p + 1), CONTENTS: lines.join("\n") + "\n" })) fs.writeFileSync(path.join(dir, f), v);
}
const cache = path.join(base, "belongs-cache");
OwnerIndex.open(big, cache).close(); // built once, as any earlier command would have
const qs = [];
for (let i = 0; i < 21; i++) {
  const start = process.hrtime.bigint();
  const idx = OwnerIndex.open(big, cache);
  const found = idx.owners([`/usr/share/many${i * 37}/f${i}`]);
  idx.close();
  qs.push(ms(start));
  if (!found.size) throw new Error("q belongs found nothing");
}
figure(`q belongs over ${owned} files (open the index, one query)`, median(qs).toFixed(2), "ms", "<= 50 ms");
const qcli = [];
for (let i = 0; i < 5; i++) qcli.push((await runAnise(["q", "belongs", "/usr/share/many5/f5", "--system-target", big, "--cache-dir", cache])).ms);
figure("  the whole `ouzo anise q belongs` process", median(qcli).toFixed(0), "ms");

server.close();
// OUZO_BENCH_KEEP=1 keeps the packages and the ROOT for looking into them
if (process.env.OUZO_BENCH_KEEP) console.log(`kept: ${base}`);
else fs.rmSync(base, { recursive: true, force: true });
