// `emerge --info [atoms]` and `emerge --list-sets` (emerge spec §1.2, §1.9): what a bug report
// needs to know about this system, and the names of the sets an argument may use.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Config } from "../config/Config.js";
import { readConfigLines } from "../config/configFiles.js";
import { readFileIfExists } from "../core/fsutil.js";
import { Atom } from "../pms/atom.js";
import { COMMAND_LINE_EAPI, USER_CONFIG_EAPI } from "../pms/eapi.js";
import { compareVersions } from "../pms/version.js";
import { readInstalled, type InstalledPackage } from "../vdb/installed.js";
import { VERSION } from "./version.js";

/** Every set name an argument may use (without `@`), sorted. */
export function setNames(config: Config): string[] {
  return [...new Set(["installed", "selected", "system", "world", ...config.userSets.keys()])].sort();
}

/** The non-comment lines of a profile file such as info_pkgs (none when it is absent). */
const lines = (file: string) => readConfigLines(file, false).map((l) => l.text);

/** `cat/pn: 1.2::repo, 1.3::repo` for the installed versions matching `atom`, or "[Not Present]". */
function installedVersions(installed: readonly InstalledPackage[], atom: string): string {
  let a: Atom;
  try {
    a = Atom.parse(atom, COMMAND_LINE_EAPI);
  } catch {
    return `${atom}: [not an atom]`;
  }
  const hits = installed.filter((p) => `${p.category}/${p.package}` === a.cp).sort((x, y) => compareVersions(x.version, y.version));
  return `${a.cp}: ${hits.length ? hits.map((p) => `${p.version.toString()}${p.repo ? `::${p.repo}` : ""}`).join(", ") : "[Not Present]"}`;
}

/** The head commit of a git checkout, or undefined. */
function gitHead(dir: string): string | undefined {
  if (!fs.existsSync(path.join(dir, ".git"))) return undefined;
  const r = spawnSync("git", ["-C", dir, "log", "-1", "--format=%H %cd"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The text of `emerge --info`: see the file comment; `verbose` prints every variable. */
export function infoText(config: Config, atoms: readonly string[], verbose: boolean): string {
  const installed = readInstalled(config.root);
  const out: string[] = [];
  const v = (name: string) => config.vars.get(name) ?? "";
  const newest = (cp: string) => installed.filter((p) => `${p.category}/${p.package}` === cp).sort((x, y) => compareVersions(y.version, x.version))[0];
  const toolchain = ["sys-devel/gcc", "sys-libs/glibc", "sys-libs/musl"].map(newest).filter((p): p is InstalledPackage => !!p);
  let profile = "";
  try {
    profile = fs.readlinkSync(path.join(config.portageDir, "make.profile"));
  } catch {
    profile = config.stack.at(-1)?.dir ?? "(none)";
  }
  out.push(`ouzo ${VERSION} (profile ${profile}, ${[...toolchain.map((p) => `${p.package}-${p.version.toString()}`), `${os.type()}-${os.release()}-${os.machine()}`].join(", ")})`);
  out.push("=".repeat(81));
  out.push(`System uname: ${os.type()}-${os.release()}-${os.machine()}`);
  out.push(`ROOT: ${config.root}  PORTAGE_CONFIGROOT: ${config.configRoot}`);
  out.push(`CHOST: ${v("CHOST") || "(unset)"}`);
  for (const r of config.repos.repos) {
    out.push("", r.name);
    out.push(`    location: ${r.location}`);
    out.push(`    priority: ${r.priority}`);
    const head = gitHead(r.location);
    if (head) out.push(`    head commit: ${head}`);
  }
  // the packages and variables the repositories ask bug reports to name
  const infoPkgs = new Set<string>();
  const infoVars = new Set<string>();
  for (const r of config.repos.repos) {
    for (const l of lines(path.join(r.location, "profiles", "info_pkgs"))) infoPkgs.add(l);
    for (const l of lines(path.join(r.location, "profiles", "info_vars"))) infoVars.add(l);
  }
  if (infoPkgs.size) {
    out.push("", "Installed versions of the packages named in profiles/info_pkgs:");
    for (const a of [...infoPkgs].sort()) out.push(`  ${installedVersions(installed, a)}`);
  }
  const hidden = new Set((config.vars.get("USE_EXPAND_HIDDEN") ?? "").split(/\s+/));
  const shown = verbose ? [...config.vars.keys()] : [...infoVars, "USE", ...config.useExpand.filter((u) => !hidden.has(u))];
  const seen = new Set<string>();
  out.push("");
  for (const name of [...new Set(shown)].sort()) {
    const value = config.vars.get(name);
    if (seen.has(name) || (value === undefined && !infoVars.has(name))) continue;
    seen.add(name);
    out.push(value === undefined ? `Unset:  ${name}` : `${name}="${value}"`);
  }
  // with atoms: what the installed packages were built with
  for (const text of atoms) {
    let atom: Atom;
    try {
      atom = Atom.parse(text.includes("/") ? text : `*/${text}`, USER_CONFIG_EAPI);
    } catch {
      out.push("", `${text}: not an atom`);
      continue;
    }
    const hits = installed.filter((p) => atom.matches({ category: p.category, package: p.package, version: p.version, slot: p.slot, subslot: p.subslot, repo: p.repo }));
    if (!hits.length) out.push("", `${text}: not installed`);
    for (const p of hits) {
      out.push("", `${p.cpv}::${p.repo} was built with the following:`);
      out.push(`USE="${p.use.join(" ")}"`);
      for (const f of ["CFLAGS", "CXXFLAGS", "LDFLAGS", "FEATURES", "CHOST", "CBUILD"]) {
        const value = readFileIfExists(path.join(p.dir, f))?.trim();
        if (value !== undefined) out.push(`${f}="${value}"`);
      }
    }
  }
  return out.join("\n");
}
