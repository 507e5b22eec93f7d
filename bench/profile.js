// Resolving a MARK-sized profile stack through the CLI (issue: foundation): 75 stack entries over 30
// repositories, ~4,400 mask atoms, ~340 global USE flags, plus /etc/portage; target < 150 ms
// including process start.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { figure, timeOuzoAndNode } from "./util.js";

export function generateMarkSizedTree(root) {
  const kits = Array.from({ length: 30 }, (_, i) => (i === 0 ? "core-kit" : i === 1 ? "gnome-kit" : `kit${String(i).padStart(2, "0")}-kit`));
  const w = (rel, text) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  const kitsDir = "var/git/meta-repo/kits";
  const core = `${kitsDir}/core-kit/profiles`;
  const f = `${core}/funtoo/1.0/linux-gnu`;
  let n = 0;
  const maskLines = (count, cat) => Array.from({ length: count }, (_, i) => `${i % 3 ? ">=" : "<"}${cat}/pkg${n++}-${(i % 9) + 1}.${i % 5}${i % 4 ? "" : ":0"}`).join("\n") + "\n";
  for (const [i, k] of kits.entries()) {
    w(`${kitsDir}/${k}/profiles/repo_name`, `${k}\n`);
    w(`${kitsDir}/${k}/metadata/layout.conf`, `repo-name = ${k}\n${k === "core-kit" ? "aliases = gentoo\nmasters =\n" : "masters = core-kit\n"}profile-formats = portage-2\n`);
    w(`${kitsDir}/${k}/profiles/eapi`, "5\n");
    w(`${kitsDir}/${k}/profiles/package.mask`, k === "core-kit" ? maskLines(2000, "core-cat") : maskLines(75, `cat-${i}`));
    w(`${kitsDir}/${k}/profiles/funtoo/kits/python-kit/next/package.use`, `dev-python/mod${i} python_targets_python3_9\n`);
    w(`${kitsDir}/${k}/profiles/funtoo/kits/python-kit/next/eapi`, "5\n");
    const head = k === "core-kit" ? "[DEFAULT]\nmain-repo = core-kit\n\n" : "";
    w(`etc/portage/repos.conf/ego-${k}`, `${head}[${k}]\nlocation = ${path.join(root, kitsDir, k)}\nauto-sync = no\npriority = 1\n`);
  }
  w(`${core}/funtoo/kits/python-kit/next/make.defaults`, 'PYTHON_TARGETS="python3_9 None"\nPYTHON_SINGLE_TARGET="python3_9"\n');
  w(`${core}/license_groups`, "FREE GPL-2 MIT BSD\nEULA Some-EULA\n");
  const flags = (prefix, count) => Array.from({ length: count }, (_, i) => `${prefix}${i}`).join(" ");
  w(`${core}/base/eapi`, "5\n");
  w(`${core}/base/make.defaults`, `USE_EXPAND="ABI_X86 CPU_FLAGS_X86 INPUT_DEVICES L10N PYTHON_SINGLE_TARGET PYTHON_TARGETS VIDEO_CARDS"\nUSE_EXPAND_UNPREFIXED="ARCH"\nUSE="${flags("base", 120)}"\nL10N="${flags("l", 40)}"\nVIDEO_CARDS="${flags("v", 20)}"\nINPUT_DEVICES="evdev libinput"\nELIBC="glibc"\n`);
  w(`${core}/base/use.mask`, flags("m", 160).replace(/ /g, "\n") + "\n");
  w(`${core}/base/use.force`, "elibc_glibc\nkernel_linux\n");
  w(`${core}/base/packages`, Array.from({ length: 81 }, (_, i) => `*sys-base/sys${i}`).join("\n") + "\n");
  w(`${core}/base/package.use.mask`, Array.from({ length: 200 }, (_, i) => `app-misc/m${i} flag${i}`).join("\n") + "\n");
  w(`${core}/arch/base/eapi`, "5\n");
  w(`${core}/arch/base/use.mask`, "cpu_flags_x86_aes\n");
  w(`${f}/eapi`, "5\n");
  w(`${f}/parent`, ":base\n../../../arch/base\n");
  w(`${f}/make.defaults`, 'ACCEPT_LICENSE="* -@EULA"\n');
  w(`${f}/package.mask`, maskLines(150, "fun-cat"));
  w(`${f}/arch/x86-64bit-papa/parent`, "../..\n");
  w(`${f}/arch/x86-64bit-papa/make.defaults`, 'ARCH="amd64"\nACCEPT_KEYWORDS="${ARCH}"\nCHOST="x86_64-pc-linux-gnu"\nCPU_FLAGS_X86="mmx sse sse2"\n');
  w(`${f}/arch/x86-64bit/parent`, "../x86-64bit-papa\n");
  w(`${f}/arch/x86-64bit/subarch/generic_64/make.defaults`, 'CFLAGS="-O2 -pipe"\n');
  w(`${f}/build/next/make.defaults`, 'ACCEPT_KEYWORDS="-* ${ARCH} ~${ARCH}"\nTRACK_KEYWORDS="next"\n');
  // flavor/desktop chain: 17 entries
  const chain = ["flavor/minimal", "flavor/core", "mix-ins/X", "mix-ins/audio", "mix-ins/dvd", "mix-ins/mediadevice-base", "mix-ins/mediadevice-audio-consumer", "mix-ins/mediadevice-video-consumer", "mix-ins/mediaformat-audio-common", "mix-ins/mediaformat-gfx-common", "mix-ins/mediaformat-video-common", "mix-ins/media", "mix-ins/console-extras", "flavor/workstation", "mix-ins/print"];
  for (const [i, c] of chain.entries()) {
    w(`${f}/${c}/make.defaults`, `USE="${flags(c.replace(/\W/g, "") + "_", 12)}"\n`);
    w(`${f}/${c}/package.use`, `app-misc/u${i} foo\n`);
    w(`${f}/${c}/eapi`, "5\n");
  }
  w(`${f}/flavor/core/parent`, "../minimal\n");
  w(`${f}/mix-ins/mediadevice-audio-consumer/parent`, "../mediadevice-base\n");
  w(`${f}/mix-ins/mediadevice-video-consumer/parent`, "../mediadevice-base\n");
  w(`${f}/mix-ins/media/parent`, ["mediadevice-audio-consumer", "mediadevice-video-consumer", "mediaformat-audio-common", "mediaformat-gfx-common", "mediaformat-video-common"].map((x) => `../${x}`).join("\n") + "\n");
  w(`${f}/flavor/workstation/parent`, "../core\n../../mix-ins/X\n../../mix-ins/audio\n../../mix-ins/dvd\n../../mix-ins/media\n../../mix-ins/console-extras\n");
  w(`${f}/flavor/desktop/parent`, "../workstation\n../../mix-ins/print\n");
  w(`${f}/flavor/desktop/make.defaults`, 'USE="desktop"\n');
  w(`${f}/mix-ins/gnome/parent`, "gnome-kit:funtoo/mix-ins/gnome\n");
  w(`${kitsDir}/gnome-kit/profiles/funtoo/mix-ins/gnome/parent`, "core-kit:funtoo/1.0/linux-gnu/flavor/desktop\n");
  w(`${kitsDir}/gnome-kit/profiles/funtoo/mix-ins/gnome/make.defaults`, 'USE="gnome"\n');
  const parent = [
    "arch/x86-64bit", "arch/x86-64bit/subarch/generic_64", "build/next", "flavor/desktop", "mix-ins/X", "mix-ins/gnome",
  ].map((p) => `core-kit:funtoo/1.0/linux-gnu/${p}`);
  for (const k of kits) parent.push(`${k}:funtoo/kits/python-kit/next`);
  w("etc/portage/make.profile/parent", parent.join("\n") + "\n");
  w("etc/portage/make.conf", 'USE="${USE} vim-syntax"\nMAKEOPTS="-j2"\nL10N="en de"\n');
  w("etc/portage/package.use", Array.from({ length: 100 }, (_, i) => `app-misc/user${i} flag`).join("\n") + "\n");
  w("etc/portage/package.accept_keywords", "=app-misc/a-1 ~amd64\n");
  w("etc/portage/package.mask", maskLines(50, "user-cat"));
  w("etc/portage/package.license", "app-misc/x Some-EULA\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-profile-"));
  try {
    generateMarkSizedTree(root);
    const args = ["profile", "show", "--json", "--root", root];
    // The first command after a change evaluates the whole configuration; later ones read the
    // snapshot it left in ROOT/var/cache/ouzo. Both are timed: the evaluation with the snapshot
    // turned off, which is also every run of a user who cannot write the cache directory.
    const fresh = timeOuzoAndNode(args, 21, { ...process.env, OUZO_CONFIG_SNAPSHOT: "off" });
    const snap = timeOuzoAndNode(args, 21);
    const j = JSON.parse(snap.result.stdout);
    if (JSON.stringify(j) !== JSON.stringify(JSON.parse(fresh.result.stdout))) throw new Error("the snapshot gave another answer than the evaluation");
    console.log(`tree: ${j.profiles.length} stack entries, ${new Set(j.profiles).size} distinct, 30 repositories, ${j.package_mask.count} mask atoms, ${j.use.length} global USE flags`);
    figure("ouzo profile show --json, snapshot (median of 21)", snap.ms.toFixed(1), "ms", "< 150 ms");
    figure("for comparison: node -e 0 (median of 21, alternating)", snap.floor.toFixed(1), "ms");
    figure("ouzo profile show --json, evaluated afresh (median of 21)", fresh.ms.toFixed(1), "ms");
    figure("for comparison: node -e 0 (median of 21, alternating)", fresh.floor.toFixed(1), "ms");
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
