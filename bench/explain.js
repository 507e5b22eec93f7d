// Failures explained, autounmask and depclean at release scale (issue: explanations). The tree is
// the generated release of bench/emerge.js (6,000 packages, ~22,000 ebuilds in 30 repositories,
// a 75-entry profile stack), made by running that bench with OUZO_BENCH_ONLY_GENERATE; three
// packages are added to it:
//   explain-a needs >=D-2 and explain-b needs <D-2, D being the desktop-sized target (~900
//   packages reached): `D explain-a explain-b` has no plan, and the explanation names those two;
//   explain-c needs D's newest version, which is keyworded ~amd64 only: autounmask proposes it.
// Figures, each the median of 3 whole `ouzo` processes:
//  * explained failure of a 900-package request (-p, exit 1)         target <= 2 s
//  * autounmask suggestions for a 900-package request (--autounmask=y) target <= 3 s
//  * --depclean -p of a 900-package installed system                  target <= 1.5 s
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { figure, median, OUZO, REPO, writePlannedEntry } from "./util.js";

function generate(root) {
  const r = spawnSync(process.execPath, [path.join(REPO, "bench", "emerge.js")], { encoding: "utf8", env: { ...process.env, OUZO_BENCH_KEEP: root, OUZO_BENCH_ONLY_GENERATE: "1" }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench/emerge.js could not generate the tree: ${r.stderr.slice(-1500)}`);
  const m = /desktop target (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`bench/emerge.js said nothing of its desktop target: ${r.stdout}`);
  process.stdout.write(r.stdout.split("\n").filter((l) => l.startsWith("tree:") || l.startsWith("metadata:")).join("\n") + "\n");
  return m[1];
}

/** The versions of a package of the generated tree (its ebuilds, in whichever kit has them). */
function versionsOf(root, cp) {
  const [cat, pn] = cp.split("/");
  for (const kit of fs.readdirSync(path.join(root, "var/db/repos"))) {
    const dir = path.join(root, "var/db/repos", kit, cat, pn);
    if (fs.existsSync(dir)) return fs.readdirSync(dir).filter((f) => f.endsWith(".ebuild")).map((f) => f.slice(pn.length + 1, -".ebuild".length)).sort((a, b) => Number.parseFloat(a) - Number.parseFloat(b));
  }
  throw new Error(`no ebuild of ${cp}`);
}

function addPackages(root, desktop, newest) {
  const w = (name, rdepend, keywords = "amd64") => {
    const dir = path.join(root, "var/db/repos/bench-kit0/cat-0", name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${name}-1.0.ebuild`), `EAPI=7\nDESCRIPTION="${name}"\nSLOT="0"\nKEYWORDS="${keywords}"\nRDEPEND="${rdepend}"\n`);
  };
  w("explain-a", `>=${desktop}-2.0`);
  w("explain-b", `<${desktop}-2.0`);
  w("explain-c", `>=${desktop}-${newest}`);
}

function run(root, args, expectCode) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(OUZO, [...args.slice(0, 1), "--root", root, ...args.slice(1)], { encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== expectCode) throw new Error(`ouzo ${args.join(" ")} exited ${r.status}, not ${expectCode}: ${r.stderr.slice(-2000)}`);
  return { seconds, stdout: r.stdout, stderr: r.stderr };
}

const time = (root, args, code) => {
  const rs = [0, 1, 2].map(() => run(root, args, code));
  return { s: median(rs.map((r) => r.seconds)), last: rs[2] };
};

const keep = process.env.OUZO_BENCH_KEEP;
const root = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-explain-"));
try {
  const desktop = generate(root);
  const versions = versionsOf(root, desktop);
  addPackages(root, desktop, versions.at(-1));
  // the three new ebuilds into the cache once (what a sync's regen does)
  run(root, ["emerge", "-p", "cat-0/explain-a"], 0);

  const failed = time(root, ["emerge", "-p", desktop, "cat-0/explain-a", "cat-0/explain-b"], 1);
  const steps = failed.last.stderr.split("\n").filter((l) => /^ {2}\d+\. /.test(l));
  if (!steps.some((l) => l.includes("explain-a")) || !steps.some((l) => l.includes("explain-b"))) throw new Error(`the explanation does not name the conflict:\n${failed.last.stderr}`);
  console.log(`the explanation (${steps.length} steps):\n${failed.last.stderr.trim()}`);
  figure("explained failure of a 900-package request", failed.s.toFixed(2), "s", "<= 2 s");

  const au = time(root, ["emerge", "-p", "--autounmask=y", desktop, "cat-0/explain-c"], 1);
  const line = `=${desktop}-${versions.at(-1)} ~amd64`;
  if (!au.last.stdout.includes(line)) throw new Error(`autounmask did not propose ${line}:\n${au.last.stdout.slice(-2000)}\n${au.last.stderr.slice(-2000)}`);
  const planned = au.last.stdout.split("\n").filter((l) => l.startsWith("[ebuild")).length;
  figure(`autounmask suggestion, ${planned} packages in the plan that follows`, au.s.toFixed(2), "s", "<= 3 s");

  // the desktop closure installed (as bench/emerge.js installs it), with the world file naming it
  const plan = JSON.parse(spawnSync(OUZO, ["emerge", "--root", root, "-p", "--json", "--emptytree", desktop], { encoding: "utf8", maxBuffer: 1 << 26 }).stdout);
  let counter = 0;
  for (const e of plan.plan) writePlannedEntry(root, e, e.cpv, ++counter);
  // and a few packages nothing needs any more
  for (let i = 0; i < 5; i++) {
    const dir = path.join(root, "var/db/pkg", `cat-0/orphan${i}-1.0`);
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, v] of [["SLOT", "0"], ["repository", "bench-kit0"], ["COUNTER", "1"], ["EAPI", "7"], ["IUSE", ""], ["USE", ""]]) fs.writeFileSync(path.join(dir, f), `${v}\n`);
  }
  fs.mkdirSync(path.join(root, "var/lib/portage"), { recursive: true });
  fs.writeFileSync(path.join(root, "var/lib/portage/world"), `${desktop}\n`);
  const dc = time(root, ["emerge", "--depclean", "-p"], 0);
  const removed = /All selected packages: (.*)/.exec(dc.last.stdout)?.[1].split(" ").length ?? 0;
  if (removed !== 5) throw new Error(`depclean should remove the 5 orphans, not ${removed}:\n${dc.last.stdout.slice(-2000)}`);
  figure(`--depclean -p, ${plan.plan.length + 5} installed (${removed} to remove)`, dc.s.toFixed(2), "s", "<= 1.5 s");
} finally {
  if (!keep) fs.rmSync(root, { recursive: true, force: true });
}
