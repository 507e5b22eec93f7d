// The resolve fixture and the ways the emerge tests run ouzo on it.
import * as fs from "node:fs";
import * as path from "node:path";
import { FIXTURES } from "./vectors.js";
import { ouzo, tmpdir, writeTree } from "./helpers.js";

/**
 * The resolve fixture: test-kit (the constructed example of the emerge spec §8.13, plus an
 * application with a chain, an || group, a USE conditional, a PDEPEND and a blocker) and a ROOT
 * with its vdb and world file.
 */
export function system(extra: Record<string, string> = {}): string {
  const root = tmpdir();
  fs.cpSync(path.join(FIXTURES, "resolve/root"), root, { recursive: true });
  writeTree(root, extra);
  return root;
}

/** The fixture's app-misc directory in test-kit. */
export const KIT = "var/db/repos/test-kit/app-misc";

/** The fixture system with these files and DISTDIR (make.conf) a directory of its own. */
export function withDistdir(extra: Record<string, string>): { root: string; distdir: string } {
  const distdir = tmpdir();
  return { root: system({ "etc/portage/make.conf": `DISTDIR="${distdir}"\n`, ...extra }), distdir };
}

/** The plan lines of `ouzo emerge`, without the header and with the `to ROOT/` suffix of a ROOT other than /. */
export function emerge(root: string, ...args: string[]) {
  return emergeWith({}, root, ...args);
}

export function emergeWith(env: Record<string, string>, root: string, ...args: string[]) {
  const r = ouzo(["emerge", "--root", root, ...args], { env });
  // as the line would read with ROOT=/: `[1.0] to R/ …` loses " to R/", `pkg to R/ …` loses "to R/"
  const lines = r.stdout.split("\n").map((l) => l.replace(`] to ${root}/`, "]").replace(`to ${root}/`, ""));
  return { ...r, lines: lines.filter((l) => l.startsWith("[") || l.startsWith("Total:") || l.startsWith("Conflict:")), all: lines };
}

/** The files of an installed package's vdb entry, Portage's defaults filled in. */
export function vdb(cpv: string, files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries({ COUNTER: "50", EAPI: "7", IUSE: "", KEYWORDS: "amd64", SLOT: "0", USE: "", repository: "test-kit", ...files }).map(([f, v]) => [`var/db/pkg/${cpv}/${f}`, `${v}\n`]));
}
