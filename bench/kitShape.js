// The contents of a generated kit, in the shape of a real one: not just the number of files but
// their sizes and how well they compress, which decide what git packs, transfers and inflates.
// Per package: metadata.xml, a Manifest with one to three DIST lines (two 128-digit hashes each,
// which do not compress), one to three ebuilds of 0.6 to 3 KB, and for a quarter of the packages
// a files/ directory with patches of 1 to 8 KB. Everything is derived from the kit's name and a
// counter, so every run builds the same bytes.
import { createHash } from "node:crypto";

/** A small deterministic generator (mulberry32). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text) {
  return createHash("sha256").update(text).digest().readUInt32LE(0);
}

const WORDS = (
  "library tool support for the and of a to with in data files system network parser fast small " +
  "portable implementation interface command line utilities bindings python perl ruby lua module " +
  "server client daemon graphics audio video image font text markup documentation test framework " +
  "compression archive crypto secure shell terminal editor compiler build configure kernel driver"
).split(" ");
const FLAGS = "X alsa bzip2 caps debug doc examples gtk ipv6 jpeg lzma nls pam png python qt5 readline selinux ssl static-libs systemd test threads unicode zlib zstd".split(" ");
const LICENSES = ["GPL-2", "GPL-2+", "GPL-3", "LGPL-2.1", "BSD", "MIT", "Apache-2.0", "ZLIB", "ISC"];
const CODE = (
  "if else for while return static const int char void struct size_t len buf ptr ctx err opts " +
  "NULL free malloc memcpy strlen fprintf stderr config value name path flags count index result"
).split(" ");

function pick(r, list) {
  return list[Math.floor(r() * list.length)];
}

function words(r, n) {
  return Array.from({ length: n }, () => pick(r, WORDS)).join(" ");
}

function atomOf(r, categories) {
  return `${pick(r, categories)}/pkg-${Math.floor(r() * 1000)}`;
}

export function metadataXml(r, maintainer) {
  const flags = Array.from({ length: Math.floor(r() * 4) }, () => pick(r, FLAGS));
  const use = flags.length ? `\t<use>\n${flags.map((f) => `\t\t<flag name="${f}">Enable ${words(r, 3 + Math.floor(r() * 5))}</flag>`).join("\n")}\n\t</use>\n` : "";
  return `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE pkgmetadata SYSTEM "https://www.gentoo.org/dtd/metadata.dtd">\n<pkgmetadata>\n\t<maintainer type="person">\n\t\t<email>${maintainer}@example.org</email>\n\t</maintainer>\n\t<longdescription>${words(r, 10 + Math.floor(r() * 30))}</longdescription>\n${use}</pkgmetadata>\n`;
}

export function manifestLine(pkg, version, salt) {
  const h = (k) => createHash("sha512").update(`${k} ${pkg} ${version} ${salt}`).digest("hex");
  const size = 10000 + (seedOf(`${pkg}${version}`) % 5000000);
  return `DIST ${pkg}-${version}.tar.gz ${size} BLAKE2B ${h("b")} SHA512 ${h("s")}\n`;
}

export function ebuild(r, { kit, cat, pkg, version, revision, categories }) {
  const iuse = [...new Set(Array.from({ length: Math.floor(r() * 8) }, () => pick(r, FLAGS)))];
  const deps = (n) => Array.from({ length: n }, () => `\t${r() < 0.3 ? `${pick(r, iuse.length ? iuse : FLAGS)}? ( ` : ""}${r() < 0.4 ? ">=" : ""}${atomOf(r, categories)}${r() < 0.4 ? "-1.2" : ""}`).map((d) => (d.includes("? (") ? `${d} )` : d));
  const rdep = deps(2 + Math.floor(r() * 12));
  const phases = [];
  if (r() < 0.6) phases.push(`src_prepare() {\n\tdefault\n\tsed -i -e 's/${pick(r, CODE)}/${pick(r, CODE)}/' Makefile.in || die\n}`);
  if (r() < 0.7) phases.push(`src_configure() {\n\tlocal myeconfargs=(\n${iuse.map((f) => `\t\t$(use_enable ${f})`).join("\n")}\n\t\t--disable-${pick(r, CODE)}\n\t)\n\teconf "\${myeconfargs[@]}"\n}`);
  if (r() < 0.5) phases.push(`src_install() {\n\tdefault\n\tdodoc README ${pick(r, ["NEWS", "ChangeLog", "AUTHORS"])}\n\tfind "\${ED}" -name '*.la' -delete || die\n}`);
  return (
    `# Copyright 1999-2026 ${kit} maintainers\n# Distributed under the terms of the GNU General Public License v2\n# revision ${revision}\n\n` +
    `EAPI=7\n\ninherit ${pick(r, ["autotools", "toolchain-funcs", "flag-o-matic", "meson", "cmake"])}\n\n` +
    `DESCRIPTION="${words(r, 3 + Math.floor(r() * 6))}"\nHOMEPAGE="https://example.org/${pkg}/"\nSRC_URI="https://example.org/${pkg}/releases/${pkg}-${version}.tar.gz"\n\n` +
    `LICENSE="${pick(r, LICENSES)}"\nSLOT="0"\nKEYWORDS="*"\nIUSE="${iuse.join(" ")}"\n\n` +
    `RDEPEND="\n${rdep.join("\n")}\n"\nDEPEND="\${RDEPEND}"\nBDEPEND="virtual/pkgconfig"\n\n` +
    phases.join("\n\n") +
    "\n"
  );
}

export function patch(r, pkg) {
  const file = `src/${pick(r, CODE)}.c`;
  const hunks = 1 + Math.floor(r() * 6);
  let out = `From: ${pkg} maintainers\nSubject: ${words(r, 6)}\n\n--- a/${file}\n+++ b/${file}\n`;
  for (let h = 0; h < hunks; h++) {
    const at = 10 + Math.floor(r() * 900);
    const n = 6 + Math.floor(r() * 30);
    out += `@@ -${at},${n} +${at},${n + 1} @@\n`;
    for (let i = 0; i < n; i++) {
      const mark = r() < 0.15 ? (r() < 0.5 ? "-" : "+") : " ";
      out += `${mark}\t${Array.from({ length: 3 + Math.floor(r() * 8) }, () => pick(r, CODE)).join(" ")};\n`;
    }
  }
  return out;
}

export { seedOf };
