// The installed-package database (issue #13): a VDB of 1,000 installed packages owning 200,000
// paths in a temporary ROOT. Figures: the cold build of the owner index (no owners.sqlite yet),
// opening the warm index (the staleness check: a stat per category), the owner query of a few
// paths and of a 5,000-file image (what a merge's collision check asks), and drawing a COUNTER,
// staging and committing one entry with its fsyncs (the VDB part of a merge). Medians.
// Target: owner query <= 50 ms with the index warm.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OwnerIndex } from "../dist/vdb/ownerIndex.js";
import { nextCounter } from "../dist/vdb/counter.js";
import { commitVdbEntry, stageVdbEntry } from "../dist/vdb/vdbWrite.js";
import { withVdbLock } from "../dist/vdb/vdbLock.js";
import { figure, median } from "./util.js";

const PACKAGES = 1000;
const FILES_PER_PACKAGE = 200;
const RUNS = Number(process.env.OUZO_BENCH_RUNS ?? 7);
const base = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-vdb-"));
const root = path.join(base, "root");
const cache = path.join(base, "cache");
const MD5 = "0123456789abcdef0123456789abcdef";
const CATEGORIES = ["app-misc", "dev-libs", "sys-apps", "media-libs", "net-misc", "x11-libs", "dev-python", "sys-libs", "app-text", "dev-util"];

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** CONTENTS of one package: its directories, then FILES_PER_PACKAGE objects and links spread over a few of them. */
function contentsOf(pn, n) {
  const lines = ["dir /usr", "dir /usr/bin", "dir /usr/lib64", "dir /usr/share", `dir /usr/share/${pn}`, `dir /usr/share/doc/${pn}-1.0`];
  for (let d = 0; d < 4; d++) lines.push(`dir /usr/share/${pn}/d${d}`);
  lines.push(`obj /usr/bin/${pn} ${MD5} 1700000000`, `obj /usr/lib64/lib${pn}.so.1.0 ${MD5} 1700000000`, `sym /usr/lib64/lib${pn}.so -> lib${pn}.so.1.0 1700000000`);
  for (let i = 0; lines.length < n; i++) lines.push(`obj /usr/share/${pn}/d${i % 4}/file${i}.dat ${MD5} 1700000000`);
  return lines.join("\n") + "\n";
}

// the VDB, written directly (the figures are about reading it)
let paths = 0;
const samples = [];
for (let p = 0; p < PACKAGES; p++) {
  const cat = CATEGORIES[p % CATEGORIES.length];
  const pn = `pkg${p}`;
  const dir = path.join(root, "var/db/pkg", cat, `${pn}-1.0`);
  fs.mkdirSync(dir, { recursive: true });
  const contents = contentsOf(pn, FILES_PER_PACKAGE);
  paths += contents.split("\n").length - 1;
  for (const [f, v] of Object.entries({ CATEGORY: `${cat}\n`, PF: `${pn}-1.0\n`, SLOT: "0\n", EAPI: "8\n", USE: "amd64\n", repository: "core-kit\n", COUNTER: String(p + 1), CONTENTS: contents })) fs.writeFileSync(path.join(dir, f), v);
  if (p % 97 === 0) samples.push(`/usr/share/${pn}/d1/file5.dat`, `/usr/lib64/lib${pn}.so`);
}
samples.push("/usr/bin", "/not/owned/at/all");

const cold = [];
let size;
for (let i = 0; i < Math.max(3, Math.floor(RUNS / 2)); i++) {
  for (const s of ["", "-wal", "-shm"]) fs.rmSync(path.join(cache, `owners.sqlite${s}`), { force: true });
  const t0 = process.hrtime.bigint();
  const idx = OwnerIndex.open(root, cache);
  cold.push(ms(t0));
  size = idx.size();
  idx.close();
}
if (size.packages !== PACKAGES || size.files !== paths) throw new Error(`the index holds ${size.packages} packages and ${size.files} paths, expected ${PACKAGES} and ${paths}`);

const opens = [];
let idx;
for (let i = 0; i < RUNS; i++) {
  idx?.close();
  const t0 = process.hrtime.bigint();
  idx = OwnerIndex.open(root, cache);
  opens.push(ms(t0));
}

const queries = [];
let found;
for (let i = 0; i < RUNS * 3; i++) {
  const t0 = process.hrtime.bigint();
  found = idx.owners(samples);
  queries.push(ms(t0));
}
if (found.size !== samples.length - 1 || found.get("/usr/bin").length !== PACKAGES) throw new Error(`owner query found ${found.size} of ${samples.length - 1} owned paths`);

// a merge's collision check: every path of a 5,000-file image, half of them owned
const image = [];
for (let i = 0; i < 5000; i++) image.push(i % 2 ? `/usr/share/pkg${i % PACKAGES}/d${i % 4}/file${(i * 7) % 150}.dat` : `/usr/share/new-image/sub${i % 50}/file${i}`);
const imageQueries = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = process.hrtime.bigint();
  idx.owners(image);
  imageQueries.push(ms(t0));
}

// the VDB part of one merge: COUNTER, stage (every file fsynced), commit, index update
const bi = path.join(base, "build-info");
fs.mkdirSync(bi);
for (const [f, v] of Object.entries({
  CATEGORY: "app-misc\n", SLOT: "0\n", EAPI: "8\n", USE: "amd64 ssl\n", IUSE: "+ssl test\n", IUSE_EFFECTIVE: "amd64 ssl test\n", KEYWORDS: "*\n", LICENSE: "MIT\n",
  RDEPEND: "dev-libs/openssl:0/3=\n", DEPEND: "dev-libs/openssl:0/3=\n", DEFINED_PHASES: "compile install\n", INHERITED: "toolchain-funcs\n", DESCRIPTION: "bench\n",
  HOMEPAGE: "https://example.invalid\n", repository: "core-kit\n", BUILD_TIME: "1700000000\n", SIZE: "12345\n", CFLAGS: "-O2 -pipe\n", CXXFLAGS: "-O2 -pipe\n",
  LDFLAGS: "-Wl,-O1\n", CHOST: "x86_64-pc-linux-gnu\n", CBUILD: "x86_64-pc-linux-gnu\n", FEATURES: "sandbox userpriv\n", "environment.bz2": Buffer.alloc(20000, 7),
})) fs.writeFileSync(path.join(bi, f), v);
const contents = Array.from({ length: FILES_PER_PACKAGE }, (_, i) => ({ type: "obj", path: `/usr/share/bench/f${i}`, md5: MD5, mtime: 1700000000 }));
const merges = [];
for (let i = 0; i < RUNS * 2; i++) {
  const pf = `bench-${i + 1}.0`;
  fs.writeFileSync(path.join(bi, "PF"), `${pf}\n`);
  fs.writeFileSync(path.join(bi, `${pf}.ebuild`), "EAPI=8\n");
  const t0 = process.hrtime.bigint();
  await withVdbLock(root, () => {
    const counter = nextCounter(root);
    stageVdbEntry(root, { category: "app-misc", pf, buildInfoDir: bi, contents, counter });
    commitVdbEntry(root, "app-misc", pf);
    idx.update(`app-misc/${pf}`, contents);
  });
  merges.push(ms(t0));
  fs.rmSync(path.join(bi, `${pf}.ebuild`));
}
idx.close();

console.log(`VDB: ${PACKAGES} packages, ${paths} paths in CONTENTS, ${CATEGORIES.length} categories`);
figure("owner index, cold build (no owners.sqlite)", median(cold).toFixed(0), "ms");
figure("owner index, open when warm (staleness check)", median(opens).toFixed(1), "ms");
figure(`owner query of ${samples.length} paths, warm`, median(queries).toFixed(2), "ms", "<= 50 ms");
figure("owner query of a 5,000-file image, warm", median(imageQueries).toFixed(1), "ms");
figure("nextCounter + stage + commit + index update, one entry", median(merges).toFixed(1), "ms");
fs.rmSync(base, { recursive: true, force: true });
