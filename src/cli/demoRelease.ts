import * as fs from "node:fs";
import * as path from "node:path";

/** How many packages the demo's desktop target reaches: the size of a desktop on a real release. */
export const DESKTOP_PACKAGES = 900;

/**
 * A desktop-sized repository for the demo, `desktop-kit` in ROOT (test-kit as its master): 900
 * packages whose dependencies fan out and go deep (each needs two lower ones at run time, a third
 * at build time, every tenth an `||` group), and `desktop-base/desktop`, which needs the top half
 * and so reaches them all. The same tree every run.
 */
export function writeDesktopKit(root: string): string {
  const repo = path.join(root, "var/db/repos/desktop-kit");
  const w = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
    fs.writeFileSync(path.join(repo, rel), text);
  };
  const cats = ["desk-libs", "desk-apps", "desk-misc"];
  const name = (i: number) => `${cats[i % cats.length]}/pkg${i}`;
  w("profiles/repo_name", "desktop-kit\n");
  w("metadata/layout.conf", "masters = test-kit\n");
  w("profiles/categories", [...cats, "desktop-base"].join("\n") + "\n");
  for (let i = 0; i < DESKTOP_PACKAGES; i++) {
    const runtime = [...new Set([Math.floor(i / 2), Math.floor(i / 3)])].filter((d) => d < i).map(name);
    if (i % 10 === 0 && i > 0) runtime.push(`|| ( ${name(Math.floor(i / 7))} app-misc/fast )`);
    const build = i > 4 ? `DEPEND="${name(Math.floor(i / 5))}"\n` : "";
    const pn = `pkg${i}`;
    w(`${cats[i % cats.length]}/${pn}/${pn}-1.${i % 4}.ebuild`, `EAPI=7\nDESCRIPTION="desktop package ${i}"\nSLOT="0"\nKEYWORDS="amd64"\nRDEPEND="${runtime.join(" ")}"\n${build}`);
  }
  const top = Array.from({ length: DESKTOP_PACKAGES / 2 }, (_, k) => name(DESKTOP_PACKAGES / 2 + k));
  w("desktop-base/desktop/desktop-1.0.ebuild", `EAPI=7\nDESCRIPTION="a desktop"\nSLOT="0"\nKEYWORDS="amd64"\nRDEPEND="${top.join(" ")}"\n`);
  fs.writeFileSync(path.join(root, "etc/portage/repos.conf/desktop-kit"), "[desktop-kit]\nlocation = /var/db/repos/desktop-kit\n");
  return "desktop-base/desktop";
}
