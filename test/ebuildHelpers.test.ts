import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, tmpdir } from "./helpers.js";

// The helpers of spec §3, run the way phase.sh runs them: a bash that sources ebuild.sh (library
// mode), eapi.sh, helpers.sh and helpers/_lib.sh, with the contract's environment and helpers/ first
// on PATH, against a real build directory. This harness stands in for phase.sh: the same shell
// settings (BASH_COMPAT per EAPI, umask), a `die` that ends in __ouzo_fatal, and a TERM trap the
// way the master shell must have one.

const EB = path.join(REPO_ROOT, "src", "ebuild");

const HARNESS = String.raw`
shopt -u patsub_replacement globskipdots 2>/dev/null
case $EAPI in 0 | 1 | 2 | 3 | 4 | 5) BASH_COMPAT=3.2 ;; 6 | 7) BASH_COMPAT=4.2 ;; 8) BASH_COMPAT=5.0 ;; esac
shopt -s extglob
umask 022
__OUZO_LIB_ONLY=1 source "$OUZO_EB/ebuild.sh" || exit 90
source "$OUZO_EB/eapi.sh" || exit 91
source "$OUZO_EB/helpers.sh" || exit 92
source "$OUZO_EB/helpers/_lib.sh" || exit 93
die() {
	if [[ $1 == -n ]]; then
		shift
		if [[ $PORTAGE_NONFATAL == 1 ]]; then echo "$*" >&2; return 1; fi
	fi
	echo "DIE: $*" >&2
	__ouzo_fatal "$*"
}
export EBUILD_MASTER_PID=$$
trap 'echo "PHASE FAILED: $(<"$T/.ouzo_die")" >&2; exit 1' TERM
if [[ $EBUILD_PHASE == install ]]; then __ouzo_reset_dest; __ouzo_init_lists; fi
cd "$S" || exit 94
eval "$1"
echo __END__
`;

/** Bash text: backslashes kept as written. Snippets avoid the dollar-brace form (JS would take it). */
const sh = (s: TemplateStringsArray, ...v: unknown[]): string => String.raw({ raw: s.raw }, ...v);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The build directory. */
  dir: string;
  /** The image directory (D). */
  image: string;
  /** The snippet ran to its end (the phase was not failed). */
  finished: boolean;
  /** What __ouzo_fatal recorded in ${T}/.ouzo_die. */
  died: string;
}

function run(eapi: string, body: string, o: { phase?: string; env?: Record<string, string> } = {}): Run {
  const dir = tmpdir("ouzo-helpers-");
  for (const d of ["work/foo-1.0", "temp", "image", "distdir", "real-distdir", "homedir", "cfg"]) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  const slash = /^[0-6]$/.test(eapi) ? "/" : "";
  const phase = o.phase ?? "install";
  const env: Record<string, string> = {
    PATH: `${EB}/helpers:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    OUZO_EB: EB,
    LC_ALL: "C",
    EAPI: eapi,
    CATEGORY: "app-misc",
    P: "foo-1.0",
    PN: "foo",
    PV: "1.0",
    PR: "r0",
    PVR: "1.0",
    PF: "foo-1.0",
    SLOT: "0/1",
    PORTAGE_BUILDDIR: dir,
    WORKDIR: `${dir}/work`,
    S: `${dir}/work/foo-1.0`,
    T: `${dir}/temp`,
    TMPDIR: `${dir}/temp`,
    HOME: `${dir}/homedir`,
    D: `${dir}/image${slash}`,
    ED: `${dir}/image${slash}`,
    EPREFIX: "",
    ROOT: slash,
    EROOT: slash,
    SYSROOT: "",
    ESYSROOT: "",
    BROOT: "",
    DISTDIR: `${dir}/distdir`,
    PORTAGE_ACTUAL_DISTDIR: `${dir}/real-distdir`,
    PORTAGE_CONFIGROOT: `${dir}/cfg`,
    USE: "a b",
    IUSE_EFFECTIVE: "a b c",
    EBUILD_PHASE: phase,
    EBUILD_PHASE_FUNC: phase === "install" ? "src_install" : `src_${phase}`,
    MERGE_TYPE: "source",
    CHOST: "x86_64-pc-linux-gnu",
    MAKEOPTS: "",
    FEATURES: "",
    NO_COLOR: "1",
    ...o.env,
  };
  const r = spawnSync("bash", ["-c", HARNESS, "harness", body], { env, encoding: "utf8", timeout: 60_000 });
  const dieFile = path.join(dir, "temp", ".ouzo_die");
  return {
    code: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    dir,
    image: path.join(dir, "image"),
    finished: r.stdout.includes("__END__"),
    died: fs.existsSync(dieFile) ? fs.readFileSync(dieFile, "utf8") : "",
  };
}

const mode = (p: string): string => (fs.lstatSync(p).mode & 0o7777).toString(8);
const read = (p: string): string => fs.readFileSync(p, "utf8");
const isLink = (p: string): boolean => fs.lstatSync(p).isSymbolicLink();
/** Lines of stdout that start with `key=`, as a map. */
function values(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0 && /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(line.slice(0, i))) m[line.slice(0, i)] = line.slice(i + 1);
  }
  return m;
}

describe("the failure protocol (§1.7, §3.0)", () => {
  it("a failing external helper in EAPI 7 terminates the master shell, even when its status is ignored", () => {
    const r = run("7", sh`dobin missing || true; echo after`);
    expect(r.finished).toBe(false);
    expect(r.stdout).not.toContain("after");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("!!! dobin: missing does not exist");
    expect(r.died.trim()).toBe("dobin failed");
    expect(r.stderr).toContain("PHASE FAILED: dobin failed");
  });

  it("a helper run by xargs or in a subshell still fails the phase", () => {
    const r = run("8", sh`echo missing | xargs dodir /ok >/dev/null; ( : ); (echo x | doins /nonexistent-file) ; echo after`);
    expect(r.stdout).not.toContain("after");
    expect(r.died).toContain("doins failed");
    const d = run("8", sh`( use zzz ); echo after`);
    expect(d.stdout).not.toContain("after");
    expect(d.died).toContain("USE flag 'zzz' not in IUSE");
  });

  it("under nonfatal (function, and the EAPI 7 external for xargs) a failing helper returns 1", () => {
    const r = run("7", sh`
      nonfatal dobin missing; echo "fn=$?"
      echo missing | xargs nonfatal dobin; echo "xargs=$?"
      nonfatal emake -f /nonexistent/Makefile >/dev/null 2>&1; echo "emake=$?"
    `);
    expect(r.finished).toBe(true);
    const v = values(r.stdout);
    expect(v.fn).toBe("1");
    expect(v.xargs).toBe("123");
    expect(v.emake).toBe("1");
    expect(r.stderr).toContain("!!! dobin: missing does not exist");
    expect(r.died).toBe("");
  });

  it("in EAPI ≤3 helpers return non-zero instead of dying, and nonfatal does not exist", () => {
    const r = run("3", sh`dobin missing; echo "rc=$?"; nonfatal true; echo after`);
    expect(values(r.stdout).rc).toBe("1");
    expect(r.stdout).not.toContain("after");
    expect(r.died).toContain("nonfatal is not available in EAPI 3");
  });
});

describe("USE queries (§3.2)", () => {
  it("use, usev, usex, use_with, use_enable, in_iuse in EAPI 8", () => {
    const r = run("8", sh`
      use a && echo "a=yes"; use c || echo "c=no"; use !c && echo "notc=yes"
      echo "usev_a=$(usev a)"; echo "usev_word=$(usev a word)"; usev c >/dev/null; echo "usev_c=$?"
      echo "usex1=$(usex a)"; echo "usex2=$(usex c)"; echo "usex3=$(usex a "" no)"; echo "usex4=$(usex !a y n -s1 -s2)"
      echo "uw1=$(use_with a)"; echo "uw2=$(use_with c foo)"; echo "uw3=$(use_with a foo "")"; echo "uw4=$(use_with a foo bar)"
      echo "ue1=$(use_enable !a x)"; echo "ue2=$(use_enable b "" v)"
      use_with; echo "noargs=$?"
      in_iuse c && echo "iuse_c=yes"; in_iuse zzz || echo "iuse_zzz=no"
    `);
    expect(r.finished).toBe(true);
    expect(values(r.stdout)).toMatchObject({
      a: "yes", c: "no", notc: "yes", usev_a: "a", usev_word: "word", usev_c: "1",
      usex1: "yes", usex2: "no", usex3: "", usex4: "n-s2",
      uw1: "--with-a", uw2: "--without-foo", uw3: "--with-foo=", uw4: "--with-foo=bar",
      ue1: "--disable-x", ue2: "--enable-b=v", noargs: "1", iuse_c: "yes", iuse_zzz: "no",
    });
    expect(r.stderr).toContain("use_with: a USE flag is needed");
  });

  it("an empty third argument: --with-opt= in EAPI 4, treated as absent in EAPI 3", () => {
    const e3 = run("3", sh`echo "w=$(use_with a foo "")"; echo "e=$(use_enable a foo "")"`);
    const e4 = run("4", sh`echo "w=$(use_with a foo "")"; echo "e=$(use_enable a foo "")"`);
    expect(values(e3.stdout)).toEqual({ w: "--with-foo", e: "--enable-foo" });
    expect(values(e4.stdout)).toEqual({ w: "--with-foo=", e: "--enable-foo=" });
  });

  it("a flag outside IUSE_EFFECTIVE dies in EAPI 5+ and is a QA notice in EAPI 4 and for binary packages", () => {
    const e5 = run("5", sh`use zzz; echo after`);
    expect(e5.stdout).not.toContain("after");
    expect(e5.died).toContain("USE flag 'zzz' not in IUSE for app-misc/foo-1.0");
    const e4 = run("4", sh`use zzz || echo "rc=1"`);
    expect(e4.finished).toBe(true);
    expect(e4.stderr).toContain("QA Notice: USE flag 'zzz' not in IUSE");
    const bin = run("6", sh`use zzz || echo "rc=1"`, { env: { MERGE_TYPE: "binary" } });
    expect(bin.finished).toBe(true);
    expect(bin.stderr).toContain("QA Notice");
  });

  it("usex needs EAPI 5, in_iuse EAPI 6; useq is deprecated in 7 and banned in 8, like hasv and hasq", () => {
    const e4 = run("4", sh`type usex >/dev/null 2>&1 || echo "usex=none"; type in_iuse >/dev/null 2>&1 || echo "in_iuse=none"`);
    expect(values(e4.stdout)).toEqual({ usex: "none", in_iuse: "none" });
    const e7 = run("7", sh`useq a && echo "useq=yes"; hasv x a x; hasq x x && echo "hasq=yes"`);
    expect(e7.stdout).toContain("useq=yes");
    expect(e7.stdout).toContain("x\n");
    expect(e7.stderr).toContain("useq is deprecated");
    for (const cmd of ["useq a", "hasv x x", "hasq x x"]) {
      const e8 = run("8", `${cmd}; echo after`);
      expect(e8.stdout).not.toContain("after");
      expect(e8.died).toContain(`'${cmd.split(" ")[0]}' is banned in EAPI 8`);
    }
  });
});

describe("destination state (§3.8)", () => {
  it("into/insinto/exeinto/docinto create their directories and export the state the external helpers read", () => {
    const r = run("8", sh`
      echo "reset=$__E_DESTTREE|$__E_INSDESTTREE|$__E_EXEDESTTREE|$__E_DOCDESTTREE|$INSOPTIONS|$EXEOPTIONS|$LIBOPTIONS|$DIROPTIONS|$MOPREFIX"
      into /opt/foo; insinto /etc/foo; exeinto /usr/libexec/foo; docinto examples
      env | grep -E "^__E_(DEST|INSDEST|EXEDEST|DOCDEST)TREE=" | sort
      insinto /; echo "ins_root=[$__E_INSDESTTREE]"
      [[ -z $DESTTREE && -z $INSDESTTREE ]] && echo "no_desttree=1"
      insopts -m0600 -s; echo after
    `);
    for (const d of ["opt/foo", "etc/foo", "usr/libexec/foo", "usr/share/doc/foo-1.0/examples"]) {
      expect(fs.statSync(path.join(r.image, d)).isDirectory()).toBe(true);
    }
    const v = values(r.stdout);
    expect(v.reset).toBe("/usr||||-m0644|-m0755|-m0644|-m0755|foo");
    expect(v).toMatchObject({
      __E_DESTTREE: "/opt/foo", __E_INSDESTTREE: "/etc/foo", __E_EXEDESTTREE: "/usr/libexec/foo",
      __E_DOCDESTTREE: "examples", ins_root: "[]", no_desttree: "1",
    });
    expect(r.stdout).not.toContain("after");
    expect(r.died).toContain("insopts: -s is not allowed");
  });

  it("EAPI ≤6 honours DESTTREE/INSDESTTREE assigned by the ebuild; EAPI 7 dies when they are set", () => {
    const e6 = run("6", sh`echo x > f; DESTTREE=/opt; dobin f; INSDESTTREE=/srv; doins f`);
    expect(e6.finished).toBe(true);
    expect(fs.existsSync(path.join(e6.image, "opt/bin/f"))).toBe(true);
    expect(fs.existsSync(path.join(e6.image, "srv/f"))).toBe(true);
    const e7 = run("7", sh`echo x > f; export DESTTREE=/opt; dobin f; echo after`);
    expect(e7.stdout).not.toContain("after");
    expect(e7.died).toContain("DESTTREE and INSDESTTREE are banned in EAPI 7");
  });
});

describe("docompress and dostrip (§3.11)", () => {
  it("keep normalised include and exclude lists with the initial values of the EAPI", () => {
    const r = run("8", sh`
      docompress /usr/share/foo//x/ usr/share/bar /usr/share/doc; docompress -x /usr/share/doc/foo-1.0/examples/
      dostrip -x /usr/lib/debug/; dostrip /opt
      printf "%s\n" "DC=$PORTAGE_DOCOMPRESS" "DCS=$PORTAGE_DOCOMPRESS_SKIP" "DS=$PORTAGE_DOSTRIP" "DSS=$PORTAGE_DOSTRIP_SKIP" | tr "\n" "|"
      env | grep -c "^PORTAGE_DOSTRIP_SKIP="
    `);
    expect(r.stdout).toContain(
      "DC=/usr/share/doc|/usr/share/info|/usr/share/man|/usr/share/foo/x|/usr/share/bar|" +
        "DCS=/usr/share/doc/foo-1.0/html|/usr/share/doc/foo-1.0/examples|DS=/|/opt|DSS=/usr/lib/debug|",
    );
    expect(r.stdout).toMatch(/\|1\n/);
    const restricted = run("8", sh`echo "DS=[$PORTAGE_DOSTRIP]"`, { env: { RESTRICT: "mirror strip" } });
    expect(values(restricted.stdout).DS).toBe("[]");
  });

  it("only exist in their EAPIs and only in src_install", () => {
    const e3 = run("3", sh`type docompress >/dev/null 2>&1 || echo "dc=none"`);
    expect(values(e3.stdout).dc).toBe("none");
    const e6 = run("6", sh`docompress /x; type dostrip >/dev/null 2>&1 || echo "ds=none"`);
    expect(values(e6.stdout).ds).toBe("none");
    const c = run("8", sh`docompress /x; echo after`, { phase: "compile" });
    expect(c.stdout).not.toContain("after");
    expect(c.died).toContain("docompress: only allowed in src_install");
  });
});

describe("install helpers (§3.9)", () => {
  it("dobin, dosbin, doexe, doinfo, dolib.so, dolib.a: destinations, modes, symlinks", () => {
    const r = run("8", sh`
      echo bin > tool; chmod 600 tool; ln -s tool toollink
      dobin tool; dosbin tool; into /opt; dobin toollink; into /usr
      exeopts -m0750; exeinto /usr/libexec/foo; mkdir adir; doexe tool toollink adir
      echo info > foo.info; doinfo foo.info
      echo so > libfoo.so.1; ln -s libfoo.so.1 libfoo.so; echo a > libfoo.a
      dolib.so libfoo.so.1 libfoo.so; dolib.a libfoo.a
      nonfatal dobin adir; echo "bindir=$?"; dobin; echo after
    `, { env: { ABI: "amd64", LIBDIR_amd64: "lib64" } });
    const I = (p: string) => path.join(r.image, p);
    expect(mode(I("usr/bin/tool"))).toBe("755");
    expect(mode(I("usr/sbin/tool"))).toBe("755");
    expect(isLink(I("opt/bin/toollink"))).toBe(false);
    expect(read(I("opt/bin/toollink"))).toBe("bin\n");
    expect(mode(I("usr/libexec/foo/tool"))).toBe("750");
    expect(isLink(I("usr/libexec/foo/toollink"))).toBe(false);
    expect(fs.existsSync(I("usr/libexec/foo/adir"))).toBe(false);
    expect(r.stderr).toContain("doexe: adir is a directory, skipping it");
    expect(mode(I("usr/share/info/foo.info"))).toBe("644");
    expect(mode(I("usr/lib64/libfoo.so.1"))).toBe("755");
    expect(fs.readlinkSync(I("usr/lib64/libfoo.so"))).toBe("libfoo.so.1");
    expect(mode(I("usr/lib64/libfoo.a"))).toBe("644");
    expect(values(r.stdout).bindir).toBe("1");
    expect(r.stdout).not.toContain("after");
    expect(r.died).toContain("dobin: at least one argument needed");
  });

  it("doins: insopts, -r with empty directories, symlinks kept, DISTDIR symlinks copied, D in the tree refused", () => {
    const r = run("8", sh`
      mkdir -p tree/sub/empty; echo f > tree/f; ln -s f tree/rel; ln -s /abs/target tree/abs; echo g > tree/sub/g
      echo dist > "$PORTAGE_ACTUAL_DISTDIR/dist.txt"; ln -s "$PORTAGE_ACTUAL_DISTDIR/dist.txt" "$DISTDIR/dist.txt"
      insinto /usr/share/foo; insopts -m0600; doins tree/f "$DISTDIR/dist.txt"; insopts -m0644
      diropts -m0700; doins -r tree; diropts -m0755
      insinto /usr/share/dot; doins -r tree/.
      nonfatal doins tree; echo "dir_without_r=$?"
      insinto "$D/usr/share"; nonfatal doins tree/f; echo "double_d=$?"
    `);
    const I = (p: string) => path.join(r.image, p);
    expect(r.finished).toBe(true);
    expect(mode(I("usr/share/foo/f"))).toBe("600");
    expect(isLink(I("usr/share/foo/dist.txt"))).toBe(false);
    expect(read(I("usr/share/foo/dist.txt"))).toBe("dist\n");
    expect(mode(I("usr/share/foo/tree"))).toBe("700");
    expect(mode(I("usr/share/foo/tree/sub/empty"))).toBe("700");
    expect(fs.readlinkSync(I("usr/share/foo/tree/rel"))).toBe("f");
    expect(fs.readlinkSync(I("usr/share/foo/tree/abs"))).toBe("/abs/target");
    expect(read(I("usr/share/foo/tree/sub/g"))).toBe("g\n");
    expect(read(I("usr/share/dot/sub/g"))).toBe("g\n");
    const v = values(r.stdout);
    expect(v.dir_without_r).toBe("1");
    expect(r.stderr).toContain("!!! doins: nothing was installed");
    expect(v.double_d).toBe("1");
    expect(r.stderr).toContain("you should not use ${D} or ${ED} with helpers");
  });

  it("doins follows symlinks in EAPI ≤3", () => {
    const r = run("3", sh`echo f > f; ln -s f lnk; insinto /x; doins lnk`);
    expect(isLink(path.join(r.image, "x/lnk"))).toBe(false);
    expect(read(path.join(r.image, "x/lnk"))).toBe("f\n");
  });

  it("doheader, doconfd, doenvd, doinitd: fixed modes in EAPI 8, insopts/exeopts honoured in EAPI 7", () => {
    const body = sh`
      mkdir -p inc/sys; echo h > inc/a.h; echo s > inc/sys/s.h; echo c > conf
      insopts -m0600; exeopts -m0700
      doheader inc/a.h; doheader -r inc/sys; doconfd conf; doenvd conf; doinitd conf
    `;
    for (const [eapi, ins, exe] of [["8", "644", "755"], ["7", "600", "700"]]) {
      const r = run(eapi, body);
      const I = (p: string) => path.join(r.image, p);
      expect(r.finished).toBe(true);
      expect(mode(I("usr/include/a.h"))).toBe(ins);
      expect(mode(I("usr/include/sys/s.h"))).toBe(ins);
      expect(mode(I("etc/conf.d/conf"))).toBe(ins);
      expect(mode(I("etc/env.d/conf"))).toBe(ins);
      expect(mode(I("etc/init.d/conf"))).toBe(exe);
    }
    const e4 = run("4", sh`echo h > a.h; doheader a.h; echo after`);
    expect(e4.stdout).not.toContain("after");
    expect(e4.died).toContain("doheader: banned in EAPI 4");
  });

  it("dodoc: docinto, -r, a directory without -r fails, no arguments is only a QA notice", () => {
    const r = run("8", sh`
      mkdir -p docs/sub; echo r > README; : > EMPTY; echo s > docs/sub/s.txt
      dodoc README EMPTY; docinto extra; dodoc -r docs; docinto /
      dodoc; echo "noargs=$?"
      nonfatal dodoc docs; echo "dir=$?"
    `);
    const doc = path.join(r.image, "usr/share/doc/foo-1.0");
    expect(mode(path.join(doc, "README"))).toBe("644");
    expect(fs.existsSync(path.join(doc, "EMPTY"))).toBe(true);
    expect(read(path.join(doc, "extra/docs/sub/s.txt"))).toBe("s\n");
    expect(values(r.stdout)).toMatchObject({ noargs: "0", dir: "1" });
    expect(r.stderr).toContain("QA Notice: dodoc called without arguments");
    // for elog, like eqawarn: "<TYPE> <line>" in ${T}/logging/<phase>
    expect(read(path.join(r.dir, "temp/logging/install"))).toContain("QA QA Notice: dodoc called without arguments\n");
    expect(r.stderr).toContain("!!! dodoc: docs is a directory");
  });

  it("dodoc in EAPI ≤3 skips directories with a QA notice and empty files silently", () => {
    const r = run("3", sh`mkdir d; : > empty; echo f > f; dodoc d empty f; echo "rc=$?"`);
    const doc = path.join(r.image, "usr/share/doc/foo-1.0");
    expect(values(r.stdout).rc).toBe("0");
    expect(fs.readdirSync(doc)).toEqual(["f"]);
    expect(r.stderr).toContain("QA Notice: dodoc: d is a directory");
  });

  it("doman: sections, -i18n=, languages in names (EAPI 2+), compressed pages, not-a-man-page", () => {
    const r = run("8", sh`
      for f in foo.1 foo.de.1 bar.3pm baz.n qux.1x pt.pt_BR.8 it.de.1; do echo ".TH $f" > $f; done
      : > empty.1; echo x > notes.txt; echo z > zipped.1.gz; echo k > .keep_x
      doman foo.1 foo.de.1 bar.3pm baz.n qux.1x pt.pt_BR.8 empty.1 zipped.1.gz .keep_x -i18n=fr foo.1 it.de.1
      nonfatal doman notes.txt; echo "notman=$?"
    `);
    const M = (p: string) => path.join(r.image, "usr/share/man", p);
    for (const p of ["man1/foo.1", "de/man1/foo.1", "man3/bar.3pm", "mann/baz.n", "man1/qux.1x", "pt_BR/man8/pt.8", "man1/zipped.1.gz", "fr/man1/foo.1", "fr/man1/it.de.1"]) {
      expect(fs.existsSync(M(p)), p).toBe(true);
    }
    expect(mode(M("man1/foo.1"))).toBe("644");
    expect(fs.existsSync(M("man1/empty.1"))).toBe(false);
    expect(values(r.stdout).notman).toBe("1");
    expect(r.stderr).toContain("doman: 'notes.txt' is probably not a man page; skipping");
    expect(r.stderr).toContain("QA Notice: doman: zipped.1.gz is a compressed man page");
    // EAPI 3: the name's language wins over -i18n=; EAPI 1: names are never read for a language
    const e3 = run("3", sh`echo x > it.de.1; doman -i18n=fr it.de.1`);
    expect(fs.existsSync(path.join(e3.image, "usr/share/man/de/man1/it.1"))).toBe(true);
    const e1 = run("1", sh`echo x > it.de.1; doman it.de.1`);
    expect(fs.existsSync(path.join(e1.image, "usr/share/man/man1/it.de.1"))).toBe(true);
  });

  it("domo: DESTTREE in EAPI ≤6, /usr in 7+, banned in 9; MOPREFIX names the file", () => {
    const e6 = run("6", sh`echo mo > de.mo; into /opt; MOPREFIX=bar domo de.mo`);
    expect(fs.existsSync(path.join(e6.image, "opt/share/locale/de/LC_MESSAGES/bar.mo"))).toBe(true);
    const e8 = run("8", sh`echo mo > pt_BR.mo; into /opt; domo pt_BR.mo`);
    expect(mode(path.join(e8.image, "usr/share/locale/pt_BR/LC_MESSAGES/foo.mo"))).toBe("644");
    const e9 = run("9", sh`echo mo > de.mo; domo de.mo; echo after`);
    expect(e9.stdout).not.toContain("after");
    expect(e9.died).toContain("domo: banned in EAPI 9");
  });

  it("dohtml (EAPI ≤6): extensions, -r with skipped dirs, -A, -p, docinto; banned in 7", () => {
    const r = run("6", sh`
      mkdir -p html/img html/CVS; echo p > html/index.html; echo t > html/notes.txt; echo i > html/img/a.png; echo c > html/CVS/x.html
      echo s > style.css; echo x > x.txt; echo m > Makefile
      dohtml -r html; dohtml style.css x.txt; dohtml -A txt -p pre x.txt; dohtml -f Makefile Makefile
      docinto api; dohtml style.css
    `);
    const H = (p: string) => path.join(r.image, "usr/share/doc/foo-1.0", p);
    expect(r.finished).toBe(true);
    for (const p of ["html/html/index.html", "html/html/img/a.png", "html/style.css", "html/pre/x.txt", "html/Makefile", "api/style.css"]) {
      expect(fs.existsSync(H(p)), p).toBe(true);
    }
    for (const p of ["html/html/notes.txt", "html/html/CVS", "html/x.txt"]) expect(fs.existsSync(H(p)), p).toBe(false);
    expect(mode(H("html/style.css"))).toBe("644");
    const e7 = run("7", sh`echo s > a.html; dohtml a.html; echo after`);
    expect(e7.died).toContain("dohtml: banned in EAPI 7");
  });

  it("dolib and libopts (EAPI ≤6), banned in 7", () => {
    const r = run("6", sh`echo a > libx.a; libopts -m0640; dolib libx.a`);
    expect(mode(path.join(r.image, "usr/lib/libx.a"))).toBe("640");
    for (const cmd of ["dolib libx.a", "libopts -m0644"]) {
      const e7 = run("7", `echo a > libx.a; ${cmd}; echo after`);
      expect(e7.stdout).not.toContain("after");
      expect(e7.died).toMatch(/banned in EAPI 7/);
    }
  });

  it("new*: every form installs under the new name; '-' reads stdin in EAPI 5+; newins keeps symlinks", () => {
    const r = run("8", sh`
      echo s > src; ln -s src srclink
      newbin src b1; newsbin src s1; exeinto /usr/libexec; newexe src e1; insinto /etc/x; newins src i1; newins srclink i2
      newdoc src d1; newman src m1.5; newconfd src c1; newenvd src 50e1; newinitd src init1
      newlib.so src libn.so.1; newlib.a src libn.a; newheader src h1.h
      echo from-stdin | newins - stdin.conf
      newins src i3 extra 2>&1; nonfatal newins missing x; echo "missing=$?"
    `);
    const I = (p: string) => path.join(r.image, p);
    expect(r.finished).toBe(true);
    for (const [p, m] of [
      ["usr/bin/b1", "755"], ["usr/sbin/s1", "755"], ["usr/libexec/e1", "755"], ["etc/x/i1", "644"],
      ["usr/share/doc/foo-1.0/d1", "644"], ["usr/share/man/man5/m1.5", "644"], ["etc/conf.d/c1", "644"],
      ["etc/env.d/50e1", "644"], ["etc/init.d/init1", "755"], ["usr/lib/libn.so.1", "755"], ["usr/lib/libn.a", "644"],
      ["usr/include/h1.h", "644"],
    ]) {
      expect(mode(I(p)), p).toBe(m);
    }
    expect(fs.readlinkSync(I("etc/x/i2"))).toBe("src");
    expect(read(I("etc/x/stdin.conf"))).toBe("from-stdin\n");
    expect(r.stdout).toContain("QA Notice: newins called with more than two arguments: extra");
    expect(values(r.stdout).missing).toBe("1");
    expect(r.stderr).toContain("!!! newins: missing does not exist");
    expect(fs.readdirSync(path.join(r.dir, "temp")).filter((f) => f.startsWith(".ouzo_new"))).toEqual([]);
    const e4 = run("4", sh`echo x | newins - y; echo after`);
    expect(e4.stderr).toContain("!!! newins: - does not exist");
    expect(e4.stdout).not.toContain("after");
  });
});

describe("symlinks, directories, ownership (§3.10)", () => {
  it("dosym: plain links, -r relative links computed lexically like realpath -m -s, and the errors", () => {
    const cases: [string, string][] = [
      ["/usr/lib/foo/bar", "/usr/bin/bar"],
      ["/usr/bin/x", "/usr/bin/y"],
      ["/", "/a/b/c"],
      ["/a/./b/../c/", "/a/x/../d/e"],
      ["/usr/share/foo", "/usr/share/foo/link"],
      ["/opt//deep/./path/", "/link"],
    ];
    const body = cases.map(([t, l]) => `dosym -r ${t} ${l}; realpath -m -s --relative-to=$(dirname ${l}) ${t}`).join("\n");
    const r = run("8", `${body}
      dosym ../lib/libz.so usr/lib64/libz.so
      nonfatal dosym x /usr/bin/; echo "slash=$?"
      mkdir -p "$ED/usr/share/dir"; nonfatal dosym x /usr/share/dir; echo "isdir=$?"
      nonfatal dosym -r relative /usr/bin/r; echo "relative=$?"
      nonfatal dosym a b c; echo "three=$?"`);
    expect(r.finished).toBe(true);
    const expected = r.stdout.split("\n").slice(0, cases.length);
    cases.forEach(([, l], i) => expect(fs.readlinkSync(path.join(r.image, l)), l).toBe(expected[i]));
    expect(fs.readlinkSync(path.join(r.image, "usr/lib64/libz.so"))).toBe("../lib/libz.so");
    expect(values(r.stdout)).toMatchObject({ slash: "1", isdir: "1", relative: "1", three: "1" });
    expect(r.stderr).toContain("dosym: dosym target omits basename: '/usr/bin/'");
    // before EAPI 8 there is no -r: three arguments
    const e7 = run("7", sh`nonfatal dosym -r /a /b; echo "rc=$?"`);
    expect(values(e7.stdout).rc).toBe("1");
  });

  it("dodir and keepdir honour diropts; keepdir leaves .keep_CATEGORY_PN-SLOT", () => {
    const r = run("8", sh`dodir /usr/share/a /var/b; diropts -m0700; keepdir /var/lib/foo /var/log/foo`);
    expect(mode(path.join(r.image, "usr/share/a"))).toBe("755");
    expect(mode(path.join(r.image, "var/lib/foo"))).toBe("700");
    expect(fs.readdirSync(path.join(r.image, "var/log/foo"))).toEqual([".keep_app-misc_foo-0"]);
    expect(fs.statSync(path.join(r.image, "var/lib/foo/.keep_app-misc_foo-0")).size).toBe(0);
  });

  it("fperms: mode strings like -x are modes, -R passes through", () => {
    const r = run("8", sh`
      echo x > t; dobin t; fperms -x /usr/bin/t
      dodir /usr/share/tree/sub; insinto /usr/share/tree/sub; doins t; fperms -R go-rwx /usr/share/tree
      fperms 4711 usr/bin/t
    `);
    expect(r.finished).toBe(true);
    expect(mode(path.join(r.image, "usr/bin/t"))).toBe("4711");
    expect(mode(path.join(r.image, "usr/share/tree/sub"))).toBe("700");
    expect(mode(path.join(r.image, "usr/share/tree/sub/t"))).toBe("600");
  });

  it.skipIf(process.getuid?.() !== 0)("fowners resolves names against the target's passwd/group, the host's only without them", () => {
    const sysroot = tmpdir("ouzo-sysroot-");
    const r = run("8", sh`
      mkdir -p "$ESYSROOT/etc"
      printf "root:x:0:0::/root:/bin/sh\nalice:x:1234:2345::/home/alice:/bin/sh\n" > "$ESYSROOT/etc/passwd"
      printf "root:x:0:\nstaff:x:2345:\nwheel:x:10:alice\n" > "$ESYSROOT/etc/group"
      echo x > f; insinto /a; doins f; newins f g; newins f h; newins f i
      fowners alice:wheel /a/f; fowners alice: /a/g; fowners :staff /a/h; fowners 77:88 /a/i
      nonfatal fowners bob /a/f; echo "bob=$?"
      nonfatal fowners alice:nogroupx /a/f; echo "grp=$?"
    `, { env: { ESYSROOT: sysroot } });
    const own = (p: string) => {
      const s = fs.lstatSync(path.join(r.image, p));
      return `${s.uid}:${s.gid}`;
    };
    expect(r.finished).toBe(true);
    expect(own("a/f")).toBe("1234:10");
    expect(own("a/g")).toBe("1234:2345");
    expect(own("a/h")).toBe("0:2345");
    expect(own("a/i")).toBe("77:88");
    expect(values(r.stdout)).toMatchObject({ bob: "1", grp: "1" });
    expect(r.stderr).toContain("fowners: unknown user 'bob'");
    // no passwd in the target: the host's database answers
    const host = run("8", sh`echo x > f; insinto /a; doins f; fowners root:root /a/f; echo "ok=$?"`, { env: { ESYSROOT: tmpdir("ouzo-empty-root-") } });
    expect(values(host.stdout).ok).toBe("0");
  });
});

describe("unpack (§3.5)", () => {
  // Archives of one tree (d/f, modes 0600/0700 so the fix-up shows) made with the real programs.
  const MAKE_ARCHIVES = sh`
    cd "$WORKDIR"; mkdir -p src/d; echo hello > src/d/f; chmod 600 src/d/f; chmod 700 src/d
    tar -cf "$DISTDIR/t.tar" -C src d; tar -czf "$DISTDIR/tgz.tar.gz" -C src d; tar -czf "$DISTDIR/short.tgz" -C src d
    tar -cjf "$DISTDIR/tbz.tar.bz2" -C src d; tar -cJf "$DISTDIR/txz.tar.xz" -C src d; tar -cJf "$DISTDIR/short.txz" -C src d
    tar -cf - -C src d | xz -F lzma > "$DISTDIR/tl.tar.lzma"
    tar -cjf "$DISTDIR/UPPER.TAR.BZ2" -C src d
    echo plain > p; gzip -c p > "$DISTDIR/g.gz"; bzip2 -c p > "$DISTDIR/b.bz2"; xz -c p > "$DISTDIR/x.xz"; xz -F lzma -c p > "$DISTDIR/l.lzma"
    (cd src && zip -qr "$DISTDIR/z.zip" d); ar rc "$DISTDIR/arch.a" p; rm p
    echo zstd > "$DISTDIR/u.tar.zst"; : > "$DISTDIR/empty.tar"
    rm -rf src; mkdir -p out; cd out
  `;

  it("extracts every kind of the table with the real programs and fixes the modes", () => {
    const r = run("8", MAKE_ARCHIVES + sh`
      for a in t.tar tgz.tar.gz short.tgz tbz.tar.bz2 txz.tar.xz short.txz tl.tar.lzma g.gz b.bz2 x.xz l.lzma z.zip arch.a; do
        rm -rf d g b x l p; unpack $a
        if [[ -f d/f ]]; then echo "$a=$(cat d/f) $(stat -c %a d) $(stat -c %a d/f)"; else echo "$a=$(cat g b x l p 2>/dev/null)"; fi
      done
      unpack u.tar.zst; echo "zst=$?"
      unpack "$DISTDIR/g.gz" && echo "abs=$(cat g)"
    `, { phase: "unpack", env: { MAKEOPTS: "-j2" } });
    expect(r.finished).toBe(true);
    const v = values(r.stdout);
    for (const a of ["t.tar", "tgz.tar.gz", "short.tgz", "tbz.tar.bz2", "txz.tar.xz", "short.txz", "tl.tar.lzma", "z.zip"]) {
      expect(v[a], a).toBe("hello 755 644");
    }
    for (const a of ["g.gz", "b.bz2", "x.xz", "l.lzma", "arch.a"]) expect(v[a], a).toBe("plain");
    expect(v.zst).toBe("0");
    expect(r.stderr).toContain("unpack u.tar.zst: file format not recognized, skipping");
    expect(v.abs).toBe("plain");
    expect(r.stderr).toContain("QA Notice: unpack called with a redundant ${DISTDIR}");
  });

  it("suffix case: EAPI 6 ignores it, EAPI 5 extracts with a QA notice; xz needs EAPI 3, txz EAPI 6", () => {
    const e6 = run("6", MAKE_ARCHIVES + sh`unpack UPPER.TAR.BZ2; cat d/f`, { phase: "unpack" });
    expect(e6.stdout).toContain("hello");
    expect(e6.stderr).not.toContain("QA Notice");
    const e5 = run("5", MAKE_ARCHIVES + sh`unpack UPPER.TAR.BZ2; cat d/f; unpack short.txz; [[ -d d ]] && echo ok`, { phase: "unpack" });
    expect(e5.stdout).toContain("hello");
    expect(e5.stderr).toContain("QA Notice: unpack: the suffix of UPPER.TAR.BZ2 has the wrong case for EAPI 5");
    expect(e5.stderr).toContain("unpack short.txz: file format not recognized");
    const e2 = run("2", MAKE_ARCHIVES + sh`unpack txz.tar.xz x.xz; ls`, { phase: "unpack" });
    expect(e2.finished).toBe(true);
    expect(e2.stderr).toContain("unpack txz.tar.xz: file format not recognized");
    expect(e2.stderr).toContain("unpack x.xz: file format not recognized");
  });

  it("argument rules: ./ paths, absolute paths die before EAPI 6, missing and empty files die", () => {
    const rel = run("5", MAKE_ARCHIVES + sh`cp "$DISTDIR/g.gz" ./local.gz; unpack ./local.gz; cat local`, { phase: "unpack" });
    expect(rel.stdout).toContain("plain");
    const abs = run("5", MAKE_ARCHIVES + sh`unpack "$DISTDIR/g.gz"; echo after`, { phase: "unpack" });
    expect(abs.died).toContain("cannot begin with ${DISTDIR}");
    const rel5 = run("5", MAKE_ARCHIVES + sh`unpack sub/g.gz; echo after`, { phase: "unpack" });
    expect(rel5.died).toContain("must be prefixed with './'");
    const missing = run("8", sh`unpack nothere.tar.gz; echo after`, { phase: "unpack" });
    expect(missing.died).toContain("does not exist");
    const empty = run("8", MAKE_ARCHIVES + sh`unpack empty.tar; echo after`, { phase: "unpack" });
    expect(empty.died).toContain("is empty");
    const none = run("8", sh`unpack; echo after`, { phase: "unpack" });
    expect(none.died).toContain("unpack: at least one file needed");
    const broken = run("8", sh`echo junk > "$DISTDIR/bad.tar.gz"; unpack bad.tar.gz; echo after`, { phase: "unpack" });
    expect(broken.stdout).not.toContain("after");
    expect(broken.died).toContain("failed to unpack");
  });
});

describe("econf, einstall, emake (§3.6)", () => {
  // A configure that advertises options in --help and prints each argument it gets.
  const CONFIGURE = sh`
cat > configure <<'EOF'
#!/bin/sh
if [ "$1" = --help ]; then
cat <<'H'
  --disable-dependency-tracking  speeds up one-time build
  --enable-silent-rules   less verbose build output
  --disable-silent-rules  verbose build output
  --enable-shared[=PKGS]  build shared libraries
  --enable-static[=PKGS]  build static libraries
  --datarootdir=DIR       read-only arch.-independent data root
  --docdir=DIR            documentation root
  --htmldir=DIR           html documentation
  --with-sysroot-dir      not the sysroot option
H
exit 0
fi
for a in "$@"; do echo "ARG[$a]"; done
EOF
chmod +x configure
`;
  const args = (out: string) => [...out.matchAll(/^ARG\[(.*)\]$/gm)].map((m) => m[1]);

  it("passes the standard paths, the EAPI 8 extras found in --help, --libdir from the ABI, and EXTRA_ECONF with its quoting", () => {
    const r = run("8", CONFIGURE + sh`econf --enable-foo "two words"`, {
      phase: "configure",
      env: { ABI: "amd64", LIBDIR_amd64: "lib64", EXTRA_ECONF: `--with-x="a b" '--y=$HOME' --z=*`, CBUILD: "x86_64-pc-linux-gnu" },
    });
    expect(r.finished).toBe(true);
    expect(args(r.stdout)).toEqual([
      "--prefix=/usr", "--build=x86_64-pc-linux-gnu", "--host=x86_64-pc-linux-gnu", "--mandir=/usr/share/man",
      "--infodir=/usr/share/info", "--datadir=/usr/share", "--sysconfdir=/etc", "--localstatedir=/var/lib",
      "--datarootdir=/usr/share", "--disable-dependency-tracking", "--disable-silent-rules", "--disable-static",
      "--docdir=/usr/share/doc/foo-1.0", "--htmldir=/usr/share/doc/foo-1.0/html", "--libdir=/usr/lib64",
      "--enable-foo", "two words", "--with-x=a b", "--y=$HOME", "--z=*",
    ]);
    // the command is echoed first, quoted where needed
    expect(r.stdout).toContain("./configure --prefix=/usr --build=x86_64-pc-linux-gnu");
    expect(r.stdout).toContain("'two words' '--with-x=a b'");
  });

  it("the EAPI extras: none in 3, dependency tracking in 4, silent rules in 5, doc dirs in 6, sysroot in 7", () => {
    const extras = (eapi: string) =>
      args(run(eapi, CONFIGURE + sh`econf`, { phase: "configure" }).stdout).filter((a) => !/^--(prefix|host|mandir|infodir|datadir|sysconfdir|localstatedir)=/.test(a));
    expect(extras("3")).toEqual([]);
    expect(extras("4")).toEqual(["--disable-dependency-tracking"]);
    expect(extras("5")).toEqual(["--disable-dependency-tracking", "--disable-silent-rules"]);
    expect(extras("6")).toEqual(["--disable-dependency-tracking", "--disable-silent-rules", "--docdir=/usr/share/doc/foo-1.0", "--htmldir=/usr/share/doc/foo-1.0/html"]);
    // --with-sysroot only when --help has it as a whole option
    const e7 = run("7", CONFIGURE.replace("--with-sysroot-dir", "--with-sysroot[=DIR]") + sh`econf`, { phase: "configure", env: { ESYSROOT: "" } });
    expect(args(e7.stdout)).toContain("--with-sysroot=/");
    expect(args(run("7", CONFIGURE + sh`econf`, { phase: "configure" }).stdout).some((a) => a.startsWith("--with-sysroot"))).toBe(false);
  });

  it("--libdir follows --exec-prefix or --prefix, never overrides the caller's, and einstall (EAPI 5) uses it", () => {
    const env = { ABI: "amd64", LIBDIR_amd64: "lib64" };
    const e = run("5", CONFIGURE + sh`econf --exec-prefix=/opt/x "it's"`, { phase: "configure", env });
    expect(args(e.stdout)).toContain("--libdir=/opt/x/lib64");
    // the echoed command quotes like the shell would, also under EAPI 5's BASH_COMPAT=3.2
    expect(e.stdout).toContain(String.raw`--exec-prefix=/opt/x 'it'\''s'`);
    const p = run("5", CONFIGURE + sh`econf --prefix=opt/y`, { phase: "configure", env });
    expect(args(p.stdout)).toContain("--libdir=/opt/y/lib64");
    const own = run("5", CONFIGURE + sh`econf --libdir=/mine`, { phase: "configure", env });
    expect(args(own.stdout).filter((a) => a.startsWith("--libdir"))).toEqual(["--libdir=/mine"]);
    const noabi = run("5", CONFIGURE + sh`econf`, { phase: "configure" });
    expect(args(noabi.stdout).some((a) => a.startsWith("--libdir"))).toBe(false);
    const inst = run("5", CONFIGURE + sh`
      econf >/dev/null
      printf "install:\n\t@echo 'prefix=\$(prefix)'; echo 'libdir=\$(libdir)'; echo 'mandir=\$(mandir)'; echo 'MAKEFLAGS=\$(MAKEFLAGS)'\n" > Makefile
      einstall EXTRA=1
    `, { env: { ...env, MAKEOPTS: "-j4" } });
    const v = values(inst.stdout);
    expect(v.prefix).toBe(`${inst.image}/usr`);
    expect(v.libdir).toBe(`${inst.image}/usr/lib64`);
    expect(v.mandir).toBe(`${inst.image}/usr/share/man`);
    expect(v.MAKEFLAGS).toMatch(/EXTRA=1/);
    const e6 = run("6", sh`einstall; echo after`);
    expect(e6.died).toContain("'einstall' is banned in EAPI 6");
  });

  it("CONFIG_SHELL replaces a /bin/sh interpreter, keeping the mtime; gnuconfig files are refreshed", () => {
    const prefix = tmpdir("ouzo-eprefix-");
    fs.mkdirSync(path.join(prefix, "usr/share/gnuconfig"), { recursive: true });
    fs.writeFileSync(path.join(prefix, "usr/share/gnuconfig/config.sub"), "#!/bin/sh\necho new-sub\n", { mode: 0o755 });
    const r = run("7", CONFIGURE + sh`
      touch -d "2001-01-01 00:00:00" configure; before=$(stat -c %Y configure)
      mkdir -p aux; echo old > aux/config.sub; echo old > config.guess
      econf >/dev/null
      echo "first=$(head -n1 configure)"; [[ $(stat -c %Y configure) == "$before" ]] && echo "mtime=kept"
      echo "sub=$(tail -n1 aux/config.sub)"; echo "guess=$(cat config.guess)"
    `, { phase: "configure", env: { CONFIG_SHELL: "/bin/bash", EPREFIX: prefix } });
    const v = values(r.stdout);
    expect(v.first).toBe("#!/bin/bash");
    expect(v.mtime).toBe("kept");
    expect(v.sub).toBe("echo new-sub");
    expect(v.guess).toBe("old");
  });

  it("a failing configure points at config.log and dies; nonfatal returns 1; a missing configure dies", () => {
    const fail = sh`printf "#!/bin/sh\n[ \"\$1\" = --help ] && exit 0\nexit 3\n" > configure; chmod +x configure; echo log > config.log`;
    const nf = run("7", fail + sh`; nonfatal econf >/dev/null; echo "rc=$?"`, { phase: "configure" });
    expect(values(nf.stdout).rc).toBe("1");
    expect(nf.stderr).toMatch(/!!! .*\/work\/foo-1\.0\/config\.log/);
    const d = run("3", fail + sh`; econf >/dev/null; echo after`, { phase: "configure" });
    expect(d.stdout).not.toContain("after");
    expect(d.died).toContain("econf failed");
    const none = run("8", sh`econf; echo after`, { phase: "configure" });
    expect(none.died).toContain("econf: no configure script found");
    const qa = run("8", CONFIGURE + sh`econf >/dev/null`, { phase: "compile" });
    expect(qa.stderr).toContain("QA Notice: econf called in src_compile instead of src_configure");
  });

  it("emake runs make with MAKEOPTS (not inside a jobserver), the arguments and EXTRA_EMAKE, and dies on failure", () => {
    const r = run("8", sh`
      printf "all:\n\t@echo 'flags=\$(MAKEFLAGS)' 'v=\$(V)'\nfail:\n\t@exit 2\n" > Makefile
      emake V="a b"; EXTRA_EMAKE="V=extra" emake; MAKEFLAGS="-j9" emake | tr -d "\n"; echo
      emake fail; echo after
    `, { phase: "compile", env: { MAKEOPTS: "-j3 -l4" } });
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("flags="));
    expect(lines[0]).toMatch(/-j3/);
    expect(lines[0]).toMatch(/v=a b$/);
    expect(lines[1]).toMatch(/v=extra$/);
    expect(lines[2]).not.toMatch(/-j3/);
    expect(r.stderr).toContain("make -j3 -l4 'V=a b'");
    expect(r.stdout).not.toContain("after");
    expect(r.died).toContain("emake failed");
  });
});

describe("patching (§3.7)", () => {
  // file.txt is "one\ntwo\n"; patches made with diff against a/ and b/ trees.
  const SETUP = sh`
    mkdir -p a b pd; printf "one\ntwo\n" > a/file.txt; cp a/file.txt file.txt
    printf "ONE\ntwo\n" > b/file.txt; diff -u a/file.txt b/file.txt > pd/10-one.patch
    printf "ONE\nTWO\n" > b/file.txt; printf "ONE\ntwo\n" > a/file.txt; diff -u a/file.txt b/file.txt > pd/20-two.diff
    echo junk > pd/README
  `;

  it("eapply of a directory applies *.diff and *.patch in POSIX order; a failing patch dies, or returns under nonfatal", () => {
    const r = run("8", SETUP + sh`
      eapply pd; echo "content=$(tr "\n" " " < file.txt)"
      nonfatal eapply pd/10-one.patch; echo "nf=$?"
      eapply -R -- pd/20-two.diff; echo "reversed=$(tr "\n" " " < file.txt)"
      eapply pd/10-one.patch; echo after
    `, { phase: "prepare" });
    const v = values(r.stdout);
    expect(v.content).toBe("ONE TWO ");
    expect(r.stderr).toMatch(/Applying patches from pd[\s\S]*Applying 10-one.patch[\s\S]*Applying 20-two.diff/);
    expect(v.nf).toBe("1");
    expect(v.reversed).toBe("ONE two ");
    expect(r.stdout).not.toContain("after");
    expect(r.died).toContain("eapply: applying pd/10-one.patch failed");
  });

  it("eapply argument errors: no paths, an option after a patch, an empty directory", () => {
    for (const [body, msg] of [
      ["eapply", "eapply: no patches given"],
      ["eapply -p1", "eapply: no patches given"],
      ["eapply pd/10-one.patch -R", "options must come before the patches"],
      ["mkdir e; eapply e", "no *.diff or *.patch files in directory e"],
    ]) {
      const r = run("6", SETUP + body + "; echo after", { phase: "prepare" });
      expect(r.stdout, body).not.toContain("after");
      expect(r.died, body).toContain(msg);
    }
    expect(run("5", sh`type eapply >/dev/null 2>&1 || echo "eapply=none"`).stdout).toContain("eapply=none");
  });

  it("eapply_user applies the user's patches from PORTAGE_CONFIGROOT, more specific directories overriding, once", () => {
    const r = run("6", SETUP + sh`
      base="$PORTAGE_CONFIGROOT/etc/portage/patches/app-misc"; mkdir -p "$base/foo" "$base/foo-1.0-r0:0" "$base/foo:0"
      cp pd/10-one.patch "$base/foo/01-one.patch"; echo garbage > "$base/foo/02-drop.patch"; : > "$base/foo-1.0-r0:0/02-drop.patch"
      echo garbage > "$base/foo/03-null.patch"; ln -s /dev/null "$base/foo:0/03-null.patch"
      eapply_user; echo "content=$(tr "\n" " " < file.txt)"; eapply_user; echo "again=$?"
      [[ -f $T/.portage_user_patches_applied ]] && echo "tag=1"
    `, { phase: "prepare" });
    expect(r.finished).toBe(true);
    expect(values(r.stdout)).toMatchObject({ content: "ONE two ", again: "0", tag: "1" });
    expect(r.stderr).toContain("Applying user patches from");
    expect(r.stderr.match(/Applying 01-one.patch/g)).toHaveLength(1);
    expect(r.stderr).not.toContain("02-drop");
    const outside = run("6", sh`eapply_user; echo after`, { phase: "configure" });
    expect(outside.died).toContain("eapply_user: only allowed in src_prepare");
  });
});

describe("misc helpers (§3.12, §3.15, §3.1, §3.16)", () => {
  it("einstalldocs: the default list, DOCS as array and scalar, declared-empty DOCS, HTML_DOCS", () => {
    const r = run("6", sh`
      echo r > README.md; echo n > NEWS; : > TODO; mkdir -p html/css d1; echo i > html/index.html; echo c > html/css/s.css; echo 1 > d1/one
      show() { echo "$1=$(cd "$ED/usr/share/doc/foo-1.0" 2>/dev/null && find . -mindepth 1 | sort | tr "\n" " ")"; rm -rf "$ED/usr/share/doc"; }
      einstalldocs; show default
      ( DOCS=(d1 NEWS); HTML_DOCS=(html/.); einstalldocs ); show arrays
      ( DOCS="README.md d1"; HTML_DOCS="html/index.html"; einstalldocs ); show scalars
      empty_docs() { local DOCS; einstalldocs; }; empty_docs; show declared_empty
      echo "docinto_after=[$__E_DOCDESTTREE]"
    `);
    expect(r.finished).toBe(true);
    expect(values(r.stdout)).toEqual({
      default: "./NEWS ./README.md ",
      arrays: "./NEWS ./d1 ./d1/one ./html ./html/css ./html/css/s.css ./html/index.html ",
      scalars: "./README.md ./d1 ./d1/one ./html ./html/index.html ",
      declared_empty: "",
      docinto_after: "[]",
    });
    expect(run("5", sh`type einstalldocs >/dev/null 2>&1 || echo "x=none"`).stdout).toContain("x=none");
  });

  it("get_libdir, nonfatal, the sandbox lists and the hooks", () => {
    const r = run("6", sh`
      echo "libdir=$(get_libdir)"; echo "plain=$(ABI= get_libdir)"
      addwrite /a; addwrite /b; addpredict /dev/dri; addread /r; adddeny /d
      env | grep "^SANDBOX_" | sort
      register_die_hook h1 h2 h1; register_success_hook s1
      echo "die_hooks=$(echo $EBUILD_DEATH_HOOKS)"; echo "success_hooks=$(echo $EBUILD_SUCCESS_HOOKS)"
      nonfatal false; echo "nf=$?"
      addwrite /a:/b; echo after
    `, { env: { ABI: "amd64", LIBDIR_amd64: "lib64", SANDBOX_WRITE: "/tmp" } });
    expect(values(r.stdout)).toMatchObject({
      libdir: "lib64", plain: "lib", SANDBOX_WRITE: "/tmp:/a:/b", SANDBOX_PREDICT: "/dev/dri", SANDBOX_READ: "/r",
      SANDBOX_DENY: "/d", die_hooks: "h1 h2", success_hooks: "s1", nf: "1",
    });
    expect(r.died).toContain("addwrite: the path must not contain ':'");
    expect(run("6", sh`addwrite /a /b; echo after`).died).toContain("addwrite: exactly one path needed");
    expect(run("6", sh`addwrite /a; echo after`, { phase: "depend" }).died).toContain("not allowed in the depend phase");
    expect(run("5", sh`type get_libdir >/dev/null 2>&1 || echo "x=none"`).stdout).toContain("x=none");
  });

  it("banned commands die with the EAPI in the message", () => {
    for (const [eapi, cmd, name] of [
      ["4", "dohard a b", "dohard"],
      ["4", "dosed x", "dosed"],
      ["9", "true | true; assert", "assert"],
      ["8", "prepall", "prepall"],
      ["7", "prepstrip", "prepstrip"],
      ["7", "prepinfo", "prepinfo"],
      ["7", "prepman", "prepman"],
    ]) {
      const r = run(eapi, `${cmd}; echo after`);
      expect(r.stdout, cmd).not.toContain("after");
      expect(r.died, cmd).toMatch(new RegExp(`${name}.*(banned in EAPI ${eapi}|not allowed in ebuild scope)`));
    }
  });

  it("dosed and dohard in EAPI ≤3", () => {
    const r = run("3", sh`
      echo "path $(dirname "$ED/x")/usr/bin and abc" > f; insinto /etc; doins f
      dosed /etc/f; dosed "s:abc:ABC:" /etc/f; dohard /etc/f /etc/g
      dosed "s:x:y:" /etc/nothere; echo "rc=$?"
    `);
    expect(read(path.join(r.image, "etc/f"))).toBe("path /usr/bin and ABC\n");
    expect(fs.statSync(path.join(r.image, "etc/g")).ino).toBe(fs.statSync(path.join(r.image, "etc/f")).ino);
    expect(values(r.stdout).rc).toBe("1");
  });

  it("prepstrip strips ELF files under the given paths (honouring STRIP_MASK), prepinfo drops info dir files", () => {
    const r = run("6", sh`
      objcopy --add-symbol ouzo_probe=0 /bin/true probe; exeinto /usr/bin; doexe probe; newexe probe masked
      prepstrip "$ED/usr/bin"
      readelf -S "$ED/usr/bin/probe" | grep -c symtab; readelf -S "$ED/usr/bin/masked" | grep -c symtab
      echo d > dir; echo i > foo.info; insinto /usr/share/info; doins dir foo.info; prepinfo; ls "$ED/usr/share/info"
      prepman; echo "prepman=$?"
    `, { env: { STRIP_MASK: "/usr/bin/mask*" } });
    expect(r.finished).toBe(true);
    expect(r.stdout).toMatch(/^0\n1\nfoo\.info\nprepman=0/m);
  });

  it("EAPI 9: edo, pipestatus, ver_replacing", () => {
    const r = run("9", sh`
      edo echo "hello world"; nonfatal edo false; echo "edo_nf=$?"
      true | false | true; pipestatus; echo "ps=$?"
      true | (exit 3) | true; pipestatus -v; echo "psv=$?"
      ver_replacing -lt 2 && echo "vr=yes"; ver_replacing -gt 5 || echo "vr2=no"
      edo false; echo after
    `, { env: { REPLACING_VERSIONS: "1.5 3" } });
    expect(r.stdout).toContain("hello world");
    expect(r.stderr).toContain("echo 'hello world'");
    expect(values(r.stdout)).toMatchObject({ edo_nf: "1", ps: "1", psv: "3", vr: "yes", vr2: "no" });
    expect(r.stdout).toContain("0 3 0\n");
    expect(r.stdout).not.toContain("after");
    expect(r.died).toContain("Failed to run command: false");
    expect(run("8", sh`type edo >/dev/null 2>&1 || echo "edo=none"`).stdout).toContain("edo=none");
  });
});
