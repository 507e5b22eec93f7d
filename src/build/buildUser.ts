// FEATURES=userpriv (build spec §5.1): as root, unpack, prepare, configure, compile and test run
// as the `portage` user (PORTAGE_USERNAME/PORTAGE_GRPNAME) when it exists; install and the pkg_*
// phases stay root. The build directory is handed to that user before unpack.
import * as fs from "node:fs";
import * as path from "node:path";
import type { BuildDir } from "./BuildDir.js";
import type { BuildPackage, BuildSettings } from "./phaseEnv.js";

export interface BuildUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Phases userpriv moves to the unprivileged user. */
const USERPRIV_PHASES = new Set(["unpack", "prepare", "configure", "compile", "test"]);

/** A name's entry in an /etc/passwd- or /etc/group-shaped file: its third field. */
function idOf(file: string, name: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}

/** The user unprivileged phases run as, or undefined when they run as ouzo does. */
export function buildUser(pkg: BuildPackage, settings: BuildSettings): BuildUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (!settings.features.has("userpriv") || pkg.restrict.includes("userpriv")) return undefined;
  const name = settings.vars.get("PORTAGE_USERNAME") || "portage";
  const group = settings.vars.get("PORTAGE_GRPNAME") || "portage";
  const uid = idOf("/etc/passwd", name);
  const gid = idOf("/etc/group", group);
  if (uid === undefined || gid === undefined) return undefined;
  return { name, uid, gid };
}

/**
 * The first directory on the way to `p` that the user cannot search (no x for others, not its
 * owner's), or undefined: the build user must reach the build directory and the ebuild.
 */
export function unreachable(p: string, user: BuildUser): string | undefined {
  const dirs: string[] = [];
  for (let d = path.resolve(p); ; d = path.dirname(d)) {
    dirs.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const d of dirs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch {
      return undefined;
    }
    if (!st.isDirectory()) continue;
    const ok = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) return d;
  }
  return undefined;
}

/** Whether this phase runs as the build user (test with PROPERTIES=test_privileged stays root). */
export function runsAsBuildUser(phase: string, pkg: BuildPackage): boolean {
  if (!USERPRIV_PHASES.has(phase)) return false;
  return !(phase === "test" && pkg.properties.includes("test_privileged"));
}

/** The build directory, WORKDIR, T and HOME owned by the build user (Portage: portage:portage). */
export function handOver(dir: BuildDir, user: BuildUser): void {
  const chownTree = (p: string) => {
    fs.lchownSync(p, user.uid, user.gid);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e));
  };
  fs.chownSync(dir.dir, user.uid, user.gid);
  for (const d of [dir.work, dir.temp, dir.home, dir.empty]) if (fs.existsSync(d)) chownTree(d);
}
