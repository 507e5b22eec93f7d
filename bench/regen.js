// Metadata generation (issue: metadata cache): cold regen rate, no-op regen time, reading 20,000
// cached cpvs, peak memory. Targets: >= 170 ebuilds/s cold with 2 jobs; no-op < 0.3 s; 20,000
// cpvs read < 0.5 s; peak memory < 300 MB.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MetadataCache } from "../dist/metadata/MetadataCache.js";
import { figure, OUZO } from "./util.js";

const LAYERS = 5;
const PER_LAYER = 44; // 5 x 44 = 220 eclasses

/**
 * A repository shaped like a real kit: eclasses in chains of depth 5 (each inherits the one below,
 * every fourth also a shared utility eclass, as toolchain-funcs or multilib are shared), with guards,
 * arrays and associative arrays, EXPORT_FUNCTIONS, and functions called at global scope that build
 * dependency strings. As in real eclasses (python-r1, cmake, …) those functions assign with
 * `declare -g`; one eclass in five also uses a command substitution at global scope, and every
 * ebuild calls `$(ver_cut …)`: each `$(…)` forks bash, which is the dominant cost of the depend
 * phase.
 */
export function generateRepository(root, ebuilds = 1250, { name = "bench-kit", masters = "", eclasses = true, prefix = "pkg" } = {}) {
  const w = (rel, text) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  w("metadata/layout.conf", `repo-name = ${name}\nmasters = ${masters}\nprofile-formats = portage-2\n`);
  w("profiles/repo_name", `${name}\n`);
  const cats = Array.from({ length: 25 }, (_, i) => `bench-cat${i}`);
  w("profiles/categories", cats.join("\n") + "\n");
  for (let l = 0; l < (eclasses ? LAYERS : 0); l++) {
    for (let i = 0; i < PER_LAYER; i++) {
      const name = `ec${l}-${i}`;
      const id = `${l}_${i}`;
      const parents = l > 0 ? [`ec${l - 1}-${i}`, ...(i % 4 === 0 ? [`ec0-${(i + 3) % PER_LAYER}`] : [])] : [];
      const subst = i % 5 === 0 ? `_EC${id}_VER=$(_ec${id}_ver)\n` : "";
      w(`eclass/${name}.eclass`, `# generated eclass, layer ${l}
if [[ -z \${_EC${id}_ECLASS} ]]; then
_EC${id}_ECLASS=1
${parents.length ? `inherit ${parents.join(" ")}\n` : ""}declare -ga _EC${id}_IMPLS=(a${l} b${l} c${l})
declare -gA _EC${id}_MAP=([a${l}]="dev-libs/a${l}" [b${l}]="dev-libs/b${l}")
_ec${id}_ver() { echo "\${PV%%.*}"; }
_ec${id}_globals() {
	local x out=()
	for x in "\${_EC${id}_IMPLS[@]}"; do
		[[ -n \${_EC${id}_MAP[\${x}]} ]] && out+=("flag_\${x}? ( \${_EC${id}_MAP[\${x}]} )")
	done
	declare -g _EC${id}_DEPS="\${out[*]}"
}
_ec${id}_globals
${subst}IUSE="flag_a${l} flag_b${l}"
DEPEND="\${_EC${id}_DEPS}"
RDEPEND="\${DEPEND//dev-libs/sys-libs}"
${name}_src_compile() { :; }
EXPORT_FUNCTIONS src_compile
fi
`);
    }
  }
  for (let n = 0; n < ebuilds; n++) {
    const cat = cats[n % cats.length];
    const pkg = `${prefix}${Math.floor(n / 2)}`;
    const ver = `${1 + (n % 2)}.${n % 10}.${n % 7}`;
    const top = `ec${LAYERS - 1}-${n % PER_LAYER} ec${LAYERS - 1}-${(n * 7 + 1) % PER_LAYER}`;
    w(`${cat}/${pkg}/${pkg}-${ver}.ebuild`, `# generated
EAPI=${n % 3 === 0 ? 8 : 7}
inherit ${top}
DESCRIPTION="Benchmark package ${n}"
HOMEPAGE="https://example.org/${pkg}"
SRC_URI="https://example.org/\${P}.tar.xz"
LICENSE="MIT"
SLOT="0/\$(ver_cut 1-2)"
KEYWORDS="*"
IUSE="doc +ssl"
RDEPEND="ssl? ( dev-libs/openssl:0= ) doc? ( app-doc/doxygen )"
src_install() { :; }
`);
  }
}

function ouzo(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", OUZO, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ouzo ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const maxKb = Number(r.stderr.trim().split("\n").pop());
  return { seconds, maxMb: maxKb / 1024, stdout: r.stdout };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-regen-"));
  try {
    const repo = path.join(root, "repo");
    generateRepository(repo);
    fs.mkdirSync(path.join(root, "etc/portage/repos.conf"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/portage/repos.conf/bench"), `[DEFAULT]\nmain-repo = bench-kit\n\n[bench-kit]\nlocation = ${repo}\n`);
    const args = ["regen", "--config-root", root, "--cache-dir", path.join(root, "cache"), "--jobs", "2", "--json"];
    // regen needs repos.conf only, no profile (as egencache)
    const cold = ouzo(args);
    const s = JSON.parse(cold.stdout);
    console.log(`repository: ${s.generated} ebuilds generated, ${LAYERS * PER_LAYER} eclasses in chains of depth ${LAYERS}, ${s.failed} failed; ${process.env.OUZO_BENCH_INHERITED ?? ""}`);
    figure("cold regen, 2 jobs (whole process)", (s.generated / cold.seconds).toFixed(0), "ebuilds/s", ">= 170");
    figure("cold regen time", cold.seconds.toFixed(2), "s");
    figure("cold regen peak memory of the ouzo process (max RSS)", cold.maxMb.toFixed(0), "MB", "< 300 MB");
    const noop = [0, 1, 2].map(() => ouzo(args));
    const noopMin = Math.min(...noop.map((r) => r.seconds));
    const ns = JSON.parse(noop[0].stdout);
    figure(`no-op regen (${ns.unchanged} unchanged, whole process, best of 3)`, noopMin.toFixed(3), "s", "< 0.3 s");
    figure("no-op regen, time inside ouzo", ns.seconds.toFixed(3), "s");

    // Reading: 20,000 cpvs in the cache, read back in one pass.
    const cache = new MetadataCache(path.join(root, "read.db"));
    const id = cache.repoId("big-kit", "/nonexistent");
    const values = { DEPEND: "dev-libs/a flag? ( dev-libs/b )", RDEPEND: "dev-libs/a", SLOT: "0", SRC_URI: "https://example.org/x.tar.gz", RESTRICT: "", HOMEPAGE: "https://example.org", LICENSE: "MIT", DESCRIPTION: "A package", KEYWORDS: "*", INHERITED: "ec1 ec2", IUSE: "flag doc", REQUIRED_USE: "", PDEPEND: "", BDEPEND: "", IDEPEND: "", EAPI: "7", PROPERTIES: "", DEFINED_PHASES: "compile install", _PY_COMPAT: "" };
    cache.transaction(() => {
      for (let i = 0; i < 20000; i++) cache.store(id, { cpv: `cat${i % 100}/p${i}-1.${i}`, category: `cat${i % 100}`, package: `p${i}`, version: `1.${i}`, md5: "0".repeat(32), mtimeNs: 1n, size: 1, eclasses: [["ec1", "1".repeat(32)]], values });
    });
    cache.close();
    const reads = [];
    for (let k = 0; k < 3; k++) {
      const t0 = process.hrtime.bigint();
      const c = new MetadataCache(path.join(root, "read.db"));
      const n = c.entries("big-kit").length;
      c.close();
      reads.push(Number(process.hrtime.bigint() - t0) / 1e9);
      if (n !== 20000) throw new Error(`read ${n} entries`);
    }
    figure("read metadata of 20,000 cpvs from the cache (best of 3)", Math.min(...reads).toFixed(3), "s", "< 0.5 s");
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
