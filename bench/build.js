// The build stage's own overhead (issue #12): `ouzo ebuild x.ebuild clean instprep` on an ebuild
// whose phases do almost nothing, from the fetch step (its distfile already in DISTDIR, so the
// fetch is a verification) through setup, unpack, prepare, configure, compile, install and the
// image step. Whole processes, so the figure includes node's start, the configuration, sourcing
// the ebuild for its metadata and every phase's bash. Target: <= 0.5 s per package (Portage spends
// several seconds per package in its own machinery here). Medians of 11 runs; the phase split is
// that of the median run. Also without the sandbox, to show what it costs.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeManifestDist } from "../dist/build/manifestWrite.js";
import { figure, median, OUZO, REPO } from "./util.js";

const RUNS = Number(process.env.OUZO_BENCH_RUNS ?? 11);
const base = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-build-"));
const root = path.join(base, "root");
const distdir = path.join(base, "distfiles");
const tmp = path.join(base, "tmp");
fs.cpSync(path.join(REPO, "fixtures/build/root"), root, { recursive: true });
fs.mkdirSync(distdir);
fs.mkdirSync(tmp);

// a trivial package: one small distfile, phases that do almost nothing
const pkgDir = path.join(root, "var/db/repos/build-kit/app-misc/trivial");
fs.mkdirSync(path.join(base, "src/trivial-1.0"), { recursive: true });
fs.writeFileSync(path.join(base, "src/trivial-1.0/data.txt"), "data\n");
spawnSync("tar", ["-C", path.join(base, "src"), "-czf", path.join(distdir, "trivial-1.0.tar.gz"), "trivial-1.0"]);
fs.mkdirSync(pkgDir, { recursive: true });
fs.writeFileSync(
  path.join(pkgDir, "trivial-1.0.ebuild"),
  `EAPI=8
DESCRIPTION="a package whose phases do almost nothing"
HOMEPAGE="https://example.invalid/trivial"
SRC_URI="https://example.invalid/\${P}.tar.gz"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"
src_install() {
	insinto /usr/share/trivial
	doins data.txt
}
`,
);
await writeManifestDist(pkgDir, distdir, ["trivial-1.0.tar.gz"]);
const ebuild = path.join(pkgDir, "trivial-1.0.ebuild");

function measure(features) {
  fs.writeFileSync(path.join(root, "etc/portage/make.conf"), `PORTAGE_TMPDIR="${tmp}"\nDISTDIR="${distdir}"\nFEATURES="${features}"\n`);
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(OUZO, ["ebuild", "--root", root, "--json", ebuild, "clean", "instprep"], { encoding: "utf8", env: { ...process.env, OUZO_CACHE_DIR: path.join(base, "cache") } });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`ouzo ebuild failed: ${r.stderr}`);
    runs.push({ ms, phases: JSON.parse(r.stdout).phases });
  }
  runs.sort((a, b) => a.ms - b.ms);
  return runs[Math.floor(runs.length / 2)];
}

const nodeFloor = median(Array.from({ length: RUNS }, () => {
  const t0 = process.hrtime.bigint();
  spawnSync(process.execPath, ["-e", "0"]);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}));

for (const [label, features] of [["sandboxed (FEATURES=sandbox network-sandbox)", "sandbox network-sandbox"], ["without the sandbox (FEATURES=-sandbox -network-sandbox)", "-sandbox -network-sandbox"]]) {
  const m = measure(features);
  console.log(`\n${label}`);
  figure("ouzo ebuild clean instprep, whole process", m.ms.toFixed(0), "ms", "<= 500 ms");
  for (const p of m.phases) figure(`  ${p.phase}`, String(p.ms), "ms");
  const inPhases = m.phases.reduce((a, p) => a + p.ms, 0);
  figure("  start, configuration, metadata, clean (the rest)", (m.ms - inPhases).toFixed(0), "ms");
}
figure("\nnode -e 0 (the floor under any whole process)", nodeFloor.toFixed(0), "ms");
fs.rmSync(base, { recursive: true, force: true });
