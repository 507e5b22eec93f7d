// Resolution at release scale (issue: resolve). A generated tree shaped like a release: 6,000
// packages with about 22,000 ebuilds in 30 repositories, dependency fan-out and depth, || groups, USE conditionals,
// slot operators and blockers, and a profile stack of 75 entries with a few hundred USE flags,
// package.use lines and thousands of mask lines. The kit ships its md5-cache (written by the generator), so the cache is warm after one
// import. Figures, each the median of 3 whole `ouzo emerge` processes:
//  * -p --emptytree of a desktop-sized target (~900 packages reached)   target <= 1.3 s
//  * -p of a @system-sized target (~450 packages)                        target <= 0.4 s
//  * -p of a leaf package with no dependencies                           target <= 0.15 s
//  * -puDN @world with nothing to do, 900 packages installed             target <= 1.0 s
//  * peak memory                                                         target <= 300 MB
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { figure, median, OUZO, writePlannedEntry } from "./util.js";

const PACKAGES = Number(process.env.OUZO_BENCH_PACKAGES ?? 6000);
const CATS = 60;

/** A deterministic pseudo-random sequence (the same tree every run). */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

const REPOS = 30;

function generate(root) {
  // 30 repositories, as MARK's kits: bench-kit0 holds the profile, the others name it as master;
  // each category lives in one repository
  const repoOf = (cat) => `bench-kit${cat % REPOS}`;
  const wr = (repoName, rel, text) => {
    const p = path.join(root, "var/db/repos", repoName, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  const w = (rel, text) => wr("bench-kit0", rel, text);
  const rand = rng(42);
  const cats = Array.from({ length: CATS }, (_, i) => `cat-${i}`);
  const name = (i) => `${cats[i % CATS]}/pkg${i}`;
  for (let r = 0; r < REPOS; r++) {
    const rn = `bench-kit${r}`;
    wr(rn, "profiles/repo_name", `${rn}\n`);
    wr(rn, "metadata/layout.conf", `repo-name = ${rn}\nmasters = ${r ? "bench-kit0" : ""}\nprofile-formats = portage-2\n`);
    wr(rn, "profiles/categories", cats.filter((_, i) => i % REPOS === r).join("\n") + "\n");
  }
  const flags = Array.from({ length: 300 }, (_, i) => `flag${i}`);
  w("profiles/base/make.defaults", `ARCH="amd64"\nACCEPT_KEYWORDS="amd64"\nUSE="${flags.filter((_, i) => i % 2 === 0).join(" ")} ssl"\nUSE_EXPAND="PYTHON_TARGETS"\nPYTHON_TARGETS="python3_11"\n`);
  // thousands of mask lines, on versions nobody asks for
  w("profiles/base/package.mask", Array.from({ length: 4000 }, (_, i) => `=${name(i % PACKAGES)}-0.${i}`).join("\n") + "\n");
  w("profiles/base/packages", [0, 1, 2, 3, 4].map((i) => `*${name(i)}`).join("\n") + "\n");
  // a stack as deep as MARK's (75 entries): each layer adds flags, package.use and package.use.mask
  // lines for a few packages, and a use.mask; the selected profile is the last layer
  for (let l = 1; l < 75; l++) {
    const dir = `profiles/layer${l}`;
    if (l === 1) w(`${dir}/parent`, "../base\n");
    w(`${dir}/make.defaults`, `USE="layer${l} -flag${l * 3}"\n`);
    w(`${dir}/package.use`, `${name(l * 37 % PACKAGES)} doc\n>=${name(l * 53 % PACKAGES)}-2 -ssl\n`);
    w(`${dir}/package.use.mask`, `${name(l * 71 % PACKAGES)} doc\n`);
    w(`${dir}/use.mask`, `masked${l}\n`);
  }
  // wide, as MARK's is (arch, subarch, build, flavors, mix-ins, python-kit lines): one parent file
  w("profiles/selected/parent", Array.from({ length: 74 }, (_, i) => `../layer${i + 1}`).join("\n") + "\n");
  const depsOf = [];
  let ebuilds = 0;
  for (let i = 0; i < PACKAGES; i++) {
    // dependencies point at lower numbers: a DAG with fan-out and depth, like a real tree
    const n = i < 10 ? 0 : 2 + Math.floor(rand() * 4);
    const deps = new Set();
    // half to recent packages (depth), half to popular low-numbered ones (fan-in)
    for (let k = 0; k < n; k++) deps.add(rand() < 0.5 ? Math.max(0, i - 1 - Math.floor(rand() * Math.min(i, 400))) : Math.floor(rand() * rand() * i));
    depsOf.push([...deps]);
    const parts = [...deps].map((d, k) => {
      if (k === 0 && rand() < 0.2) return `${name(d)}:=`;
      if (k === 1 && rand() < 0.3) return `ssl? ( ${name(d)} )`;
      if (k === 2 && rand() < 0.2) return `|| ( ${name(d)} ${name(Math.floor(d / 2))} )`;
      return `>=${name(d)}-1`;
    });
    if (rand() < 0.02 && i > 20) parts.push(`!<${name(i - 1)}-0.1`);
    const rdepend = parts.join(" ");
    const versions = 2 + Math.floor(rand() * 4);
    for (let v = 1; v <= versions; v++) {
      const pn = `pkg${i}`;
      const text = `EAPI=7\nDESCRIPTION="package ${i}"\nSLOT="0/${v}"\nKEYWORDS="${v === versions ? "~amd64" : "amd64"}"\nIUSE="ssl doc +flag${i % 300}"\nRDEPEND="${rdepend}"\nDEPEND="\${RDEPEND}"\n`;
      const rel = `${cats[i % CATS]}/${pn}/${pn}-${v}.0.ebuild`;
      const kit = repoOf(i % CATS);
      wr(kit, rel, text);
      const md5 = createHash("md5").update(text).digest("hex");
      const cache = [
        rdepend ? `DEPEND=${rdepend}` : "",
        `DESCRIPTION=package ${i}`,
        "EAPI=7",
        `IUSE=ssl doc +flag${i % 300}`,
        `KEYWORDS=${v === versions ? "~amd64" : "amd64"}`,
        rdepend ? `RDEPEND=${rdepend}` : "",
        `SLOT=0/${v}`,
        `_md5_=${md5}`,
      ].filter(Boolean);
      wr(kit, `metadata/md5-cache/${cats[i % CATS]}/${pn}-${v}.0`, "DEFINED_PHASES=-\n" + cache.join("\n") + "\n");
      ebuilds++;
    }
  }
  const etc = path.join(root, "etc/portage");
  fs.mkdirSync(path.join(etc, "repos.conf"), { recursive: true });
  fs.writeFileSync(path.join(etc, "repos.conf/bench"), `[DEFAULT]\nmain-repo = bench-kit0\n\n${Array.from({ length: REPOS }, (_, r) => `[bench-kit${r}]\nlocation = /var/db/repos/bench-kit${r}\n`).join("\n")}`);
  fs.mkdirSync(path.join(etc, "make.profile"), { recursive: true });
  fs.writeFileSync(path.join(etc, "make.profile/parent"), "bench-kit0:selected\n");
  return { ebuilds, depsOf, name };
}

function closure(depsOf, start) {
  const seen = new Set([start]);
  const stack = [start];
  while (stack.length) for (const d of depsOf[stack.pop()]) if (!seen.has(d)) seen.add(d), stack.push(d);
  return seen;
}

function run(root, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", OUZO, "emerge", "--root", root, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ouzo emerge ${args.join(" ")} failed (${r.status}): ${r.stderr.slice(-1500)}`);
  const maxMb = Number(r.stderr.trim().split("\n").pop()) / 1024;
  return { seconds, maxMb, lines: r.stdout.split("\n").filter((l) => l.startsWith("[ebuild")).length };
}

// OUZO_BENCH_KEEP=DIR generates the tree into DIR and keeps it (for profiling)
const keep = process.env.OUZO_BENCH_KEEP;
const root = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-emerge-"));
try {
  const { ebuilds, depsOf, name } = generate(root);
  // pick targets by the size of their dependency closure
  const sizes = depsOf.map((_, i) => i).filter((i) => i % 7 === 3).map((i) => [i, closure(depsOf, i).size]);
  const near = (n) => sizes.reduce((best, x) => (Math.abs(x[1] - n) < Math.abs(best[1] - n) ? x : best));
  const [desktop, desktopSize] = near(900);
  const [system, systemSize] = near(450);
  const leaf = 0;
  console.log(`tree: ${PACKAGES} packages, ${ebuilds} ebuilds; desktop target ${name(desktop)} reaches ${desktopSize}, system-sized ${name(system)} reaches ${systemSize}`);
  // warm the cache: the kit's md5-cache is imported once (what a sync does)
  const imp = spawnSync(OUZO, ["regen", "--root", root, "--json"], { encoding: "utf8" });
  if (imp.status !== 0) throw new Error(`regen: ${imp.stderr}`);
  const doc = JSON.parse(imp.stdout);
  console.log(`metadata: ${doc.imported} imported from the shipped md5-cache in ${doc.seconds} s`);

  const time = (args) => {
    const rs = [0, 1, 2].map(() => run(root, args));
    return { s: median(rs.map((r) => r.seconds)), mb: Math.max(...rs.map((r) => r.maxMb)), lines: rs[0].lines };
  };
  if (process.env.OUZO_BENCH_ONLY_GENERATE) {
    console.log(`generated into ${root}; desktop target ${name(desktop)}`);
    process.exit(0);
  }
  const d = time(["-p", "--emptytree", name(desktop)]);
  figure(`-p --emptytree desktop target (${d.lines} packages in the plan)`, d.s.toFixed(2), "s", "<= 1.3 s");
  const s = time(["-p", "--emptytree", name(system)]);
  figure(`-p --emptytree @system-sized target (${s.lines} packages)`, s.s.toFixed(2), "s", "<= 0.4 s");
  const l = time(["-p", name(leaf)]);
  figure(`-p leaf package (${l.lines} package)`, l.s.toFixed(3), "s", "<= 0.15 s");

  // install the desktop closure (the versions the plan chose) and ask for updates: nothing to do
  const plan = JSON.parse(spawnSync(OUZO, ["emerge", "--root", root, "-p", "--json", "--emptytree", name(desktop)], { encoding: "utf8", maxBuffer: 1 << 26 }).stdout);
  // each with the dependencies it was built with, as Portage records them (USE-reduced)
  let counter = 0;
  const vdbEntry = (e, cpv) => writePlannedEntry(root, e, cpv, ++counter);
  for (const e of plan.plan) vdbEntry(e, e.cpv);
  fs.mkdirSync(path.join(root, "var/lib/portage"), { recursive: true });
  fs.writeFileSync(path.join(root, "var/lib/portage/world"), `${name(desktop)}\n`);
  const u = time(["-puDN", "@world"]);
  figure(`-puDN @world, ${plan.plan.length} installed (${u.lines} to merge)`, u.s.toFixed(2), "s", "<= 1.0 s");

  // one installed package a version behind, with installed packages depending on it: -pu of it
  // changes an installed version, so ouzo completes the graph with @world (a second pass)
  const parents = new Map();
  for (const e of plan.plan) for (const x of e.deps) parents.set(x.index, (parents.get(x.index) ?? 0) + 1);
  const older = (e) => {
    const [cat, pn] = e.cpv.split("/");
    const dir = path.join(root, "var/db/repos", e.repo, cat, pn.replace(/-\d.*$/, ""));
    const versions = fs.readdirSync(dir).filter((f) => f.endsWith(".ebuild")).map((f) => `${cat}/${f.slice(0, -7)}`);
    const ver = (cpv) => cpv.slice(cat.length + 1).replace(/^.*?-(?=\d)/, "");
    return versions.find((v) => v !== e.cpv && spawnSync(OUZO, ["vercmp", ver(v), ver(e.cpv)], { encoding: "utf8" }).stdout.trim() === "<");
  };
  const behind = plan.plan.filter((e) => (parents.get(e.index) ?? 0) >= 3 && older(e))[0];
  let c = { s: NaN, mb: 0, lines: 0 };
  if (behind) {
    const old = older(behind);
    fs.rmSync(path.join(root, "var/db/pkg", behind.cpv), { recursive: true });
    vdbEntry(behind, old);
    const [cat, pf] = behind.cpv.split("/");
    c = time(["-pu", `${cat}/${pf.replace(/-\d.*$/, "")}`]);
    figure(`-pu of one package ${parents.get(behind.index)} installed packages need (${c.lines} to merge; complete mode)`, c.s.toFixed(3), "s", "—");
  }
  figure("peak memory of one emerge process (max RSS)", Math.max(d.mb, s.mb, l.mb, u.mb, c.mb).toFixed(0), "MB", "<= 300 MB");
} finally {
  if (!keep) fs.rmSync(root, { recursive: true, force: true });
}
