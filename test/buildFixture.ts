// The build fixture: build-kit (an ebuild per EAPI the MARK release uses, an eclass exporting a
// phase, a virtual, a package without sources, one that dies) and its distfile, made here.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeManifestDist } from "../src/build/manifestWrite.js";
import { FIXTURES } from "./vectors.js";
import { ouzo, tmpdir, writeTree } from "./helpers.js";

export const KIT_REL = "var/db/repos/build-kit";
/** Packages of build-kit that unpack hello-1.0.tar.gz. */
export const HELLO_USERS = ["hello", "eapi0", "eapi2", "eapi3", "eapi4", "eapi5", "eapi6", "eapi7"];

export interface BuildSystem {
  readonly root: string;
  readonly distdir: string;
  readonly tmp: string;
  readonly kit: string;
}

/** The distfile: the hello sources as a tar.gz. */
export function makeHelloTarball(dir: string): string {
  const out = path.join(dir, "hello-1.0.tar.gz");
  const r = spawnSync("tar", ["-C", path.join(FIXTURES, "build", "sources"), "-czf", out, "hello-1.0"]);
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return out;
}

/** A copy of the fixture system with its own DISTDIR (holding the distfile) and PORTAGE_TMPDIR. */
export async function buildSystem(makeConf = ""): Promise<BuildSystem> {
  const root = tmpdir("ouzo-build-root-");
  fs.cpSync(path.join(FIXTURES, "build", "root"), root, { recursive: true });
  const distdir = tmpdir("ouzo-build-dist-");
  const tmp = tmpdir("ouzo-build-tmp-");
  makeHelloTarball(distdir);
  const kit = path.join(root, KIT_REL);
  for (const pn of HELLO_USERS) await writeManifestDist(path.join(kit, "app-misc", pn), distdir, ["hello-1.0.tar.gz"]);
  writeTree(root, { "etc/portage/make.conf": `PORTAGE_TMPDIR="${tmp}"\nDISTDIR="${distdir}"\n${makeConf}` });
  return { root, distdir, tmp, kit };
}

/** `ouzo ebuild` on a package of build-kit. */
export function ebuild(sys: BuildSystem, cpv: string, phases: string[], opts: { env?: Record<string, string>; args?: string[] } = {}) {
  const [cat, pf] = cpv.split("/") as [string, string];
  const pn = pf.replace(/-[0-9].*$/, "");
  const file = path.join(sys.kit, cat, pn, `${pf}.ebuild`);
  return ouzo(["ebuild", "--root", sys.root, ...(opts.args ?? []), file, ...phases], { env: opts.env });
}

/** PORTAGE_BUILDDIR of a package. */
export function builddir(sys: BuildSystem, cpv: string): string {
  return path.join(sys.tmp, "portage", cpv);
}
