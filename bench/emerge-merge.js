// ouzo emerge carrying out a plan (issue #13): 20 packages whose phases do almost nothing, built
// and merged into an empty ROOT with --jobs 2. All of the time is ouzo's own: resolving, sourcing
// each ebuild for its metadata, a sandboxed bash per phase, the image step, the transactional
// merge, the vdb and world updates. Target: <= 10 s for the whole run (Portage spends several
// seconds per package). Median of 3 runs.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { figure, median, OUZO, REPO } from "./util.js";

const N = Number(process.env.OUZO_BENCH_PACKAGES ?? 20);
const RUNS = Number(process.env.OUZO_BENCH_RUNS ?? 3);
const base = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-emerge-merge-"));

function system(i) {
  const root = path.join(base, `root${i}`);
  fs.cpSync(path.join(REPO, "fixtures/build/root"), root, { recursive: true });
  const tmp = path.join(base, `tmp${i}`);
  fs.mkdirSync(tmp);
  for (let p = 0; p < N; p++) {
    const dir = path.join(root, "var/db/repos/build-kit/app-misc", `trivial${p}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, `trivial${p}-1.0.ebuild`),
      `EAPI=8
DESCRIPTION="a package whose phases do almost nothing"
HOMEPAGE="https://example.invalid/trivial"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"
S=\${WORKDIR}
src_install() {
	insinto /usr/share/\${PN}
	newins - data.txt <<<"\${PF}"
}
`,
    );
  }
  fs.writeFileSync(path.join(root, "etc/portage/make.conf"), `PORTAGE_TMPDIR="${tmp}"\n`);
  return root;
}

const times = [];
for (let i = 0; i < RUNS; i++) {
  const root = system(i);
  const atoms = Array.from({ length: N }, (_, p) => `app-misc/trivial${p}`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(OUZO, ["emerge", "--root", root, "--jobs", "2", "--quiet-build", "-q", ...atoms], { encoding: "utf8" });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ouzo emerge failed: ${r.stderr}`);
  const merged = fs.readdirSync(path.join(root, "var/db/pkg/app-misc")).length;
  if (merged !== N) throw new Error(`${merged} of ${N} merged`);
  times.push(s);
}
const m = median(times);
figure(`ouzo emerge --jobs 2 of ${N} trivial packages, whole run`, m.toFixed(2), "s", "<= 10 s");
figure("  per package", ((m / N) * 1000).toFixed(0), "ms");
fs.rmSync(base, { recursive: true, force: true });
