import * as fs from "node:fs";
import * as path from "node:path";
import { classifyParentLine, lineFor, listChoices, orderParent, readEgoDescs, readParent, type ParentLine, type ProfileKind } from "../../config/egoProfile.js";
import { readEgoConf } from "../../config/egoConf.js";
import { loadRepositories, type RepositorySet } from "../../config/repositories.js";
import { OuzoError, UsageError } from "../../core/errors.js";
import { atomicWriteFile } from "../../core/fsutil.js";
import { configRootOf, rootOf, stateDirOf, withSyncLock, type GlobalArgs } from "../context.js";
import type { Output } from "../../ui/Output.js";

// --- ego's profile commands: list, arch|subarch|build|flavor NAME, mix-ins +a -b ---


function profileFiles(args: GlobalArgs) {
  const configRoot = configRootOf(args);
  const makeProfile = path.join(configRoot, "etc", "portage", "make.profile");
  const reposConf = path.join(configRoot, "etc", "portage", "repos.conf");
  const repos = loadRepositories(reposConf, configRoot);
  // without kits there is nothing to choose from: say so, rather than list five empty kinds
  if (!readEgoDescs(repos).length) {
    throw new OuzoError("NO_PROFILES", repos.repos.length ? `no configured repository describes its profiles (profiles/profiles.ego.desc): is the meta-repo synced? run 'ouzo sync'` : `no repositories are configured in ${reposConf}: run 'ouzo sync' first`);
  }
  return { makeProfile, parent: path.join(makeProfile, "parent"), repos };
}

/** What changed between two parent files, kind by kind: `flavor: core -> desktop`, `mix-ins: +gnome -kde`. */
export function parentChanges(before: readonly ParentLine[], after: readonly ParentLine[]): string[] {
  const out: string[] = [];
  for (const kind of ["arch", "subarch", "build", "flavor"] as const) {
    const a = before.find((l) => l.kind === kind)?.name;
    const b = after.find((l) => l.kind === kind)?.name;
    if (a !== b) out.push(`${kind}: ${a ?? "(none)"} -> ${b ?? "(none)"}`);
  }
  const mixA = new Set(before.filter((l) => l.kind === "mix-ins").map((l) => l.name));
  const mixB = new Set(after.filter((l) => l.kind === "mix-ins").map((l) => l.name));
  const mix = [...[...mixB].filter((m) => !mixA.has(m)).map((m) => `+${m}`), ...[...mixA].filter((m) => !mixB.has(m)).map((m) => `-${m}`)];
  if (mix.length) out.push(`mix-ins: ${mix.join(" ")}`);
  const py = (ls: readonly ParentLine[]) => ls.filter((l) => l.kind === "python-kit").map((l) => l.text).join(" ");
  if (py(before) !== py(after)) out.push(`python-kit: ${py(after) || "(none)"}`);
  return out;
}

/** The python-kit lines ego's profile update would write now (kept as they are when no meta-repo is synced). */
async function pythonKitLines(args: GlobalArgs, repos: RepositorySet, current: string[]): Promise<string[]> {
  const root = rootOf(args);
  const ego = readEgoConf(root);
  let release;
  try {
    const { KitSync } = await import("../../sync/KitSync.js");
    release = await new KitSync({ ego, root, stateDir: stateDirOf(args) }).currentRelease();
  } catch {
    return current;
  }
  const profile = ego.pythonKitProfile ?? release.choice.find((k) => k.kit === "python-kit")?.branch;
  if (!profile) return current;
  const selected = new Set(release.choice.map((k) => k.kit));
  return [...release.release.releaseDefs.keys()]
    .filter((k) => selected.has(k))
    .filter((k) => {
      const r = repos.get(k);
      return r && fs.existsSync(path.join(r.location, "profiles", "funtoo", "kits", "python-kit", profile));
    })
    .map((k) => `${k}:funtoo/kits/python-kit/${profile}`);
}

type ParentEdit = (lines: ReturnType<typeof readParent>, arch: string | undefined, descs: ReturnType<typeof readEgoDescs>) => ReturnType<typeof readParent>;

/** Edit make.profile/parent under the sync lock: a sync rewrites its python-kit lines. */
function writeParent(args: GlobalArgs, out: Output, edit: ParentEdit): Promise<number> {
  return withSyncLock(args, out, () => writeParentLocked(args, out, edit));
}

async function writeParentLocked(args: GlobalArgs, out: Output, edit: ParentEdit): Promise<number> {
  const { makeProfile, parent, repos } = profileFiles(args);
  try {
    if (fs.lstatSync(makeProfile).isSymbolicLink()) {
      out.warn(`${makeProfile} was a symlink to ${fs.readlinkSync(makeProfile)}; replacing it with a directory`);
      fs.rmSync(makeProfile);
    }
  } catch {
    // absent
  }
  const descs = readEgoDescs(repos);
  const lines = readParent(parent);
  const arch = lines.find((l) => l.kind === "arch")?.name;
  const edited = edit(lines, arch, descs);
  const warnings: string[] = [];
  const py = await pythonKitLines(args, repos, lines.filter((l) => l.kind === "python-kit").map((l) => l.text));
  const text = orderParent(edited, py, (w) => warnings.push(w)).join("\n") + "\n";
  fs.mkdirSync(makeProfile, { recursive: true });
  atomicWriteFile(parent, text);
  for (const w of warnings) out.warn(w);
  const changes = parentChanges(lines, readParent(parent));
  if (out.opts.json) out.json({ parent, lines: text.trim().split("\n"), changes });
  else {
    // the changes are the result (kept with --quiet); which file was written is a detail
    for (const c of changes) out.result(c);
    if (changes.length) out.line(`wrote ${parent}`);
    else out.result(`${parent}: unchanged`);
  }
  return 0;
}

export async function profileSetCommand(args: GlobalArgs & { kind: ProfileKind; name: string }, out: Output): Promise<number> {
  return writeParent(args, out, (lines, arch, descs) => {
    const line = classifyParentLine(lineFor(descs, args.kind, args.name, args.kind === "arch" ? args.name : arch));
    let kept = lines.filter((l) => l.kind !== args.kind);
    // a subarch belongs to its arch
    if (args.kind === "arch" && arch !== args.name) kept = kept.filter((l) => l.kind !== "subarch");
    return [line, ...kept];
  });
}

export async function profileMixinsCommand(args: GlobalArgs & { changes: string[] }, out: Output): Promise<number> {
  if (!args.changes?.length) throw new UsageError("mix-ins needs changes such as +gnome -kde-plasma-5");
  for (const c of args.changes) if (!/^[+-]./.test(c)) throw new UsageError(`'${c}': write +name to add a mix-in or -name to remove one`);
  return writeParent(args, out, (lines, arch, descs) => {
    let result = [...lines];
    for (const c of args.changes) {
      const name = c.slice(1);
      if (c.startsWith("-")) {
        const before = result.length;
        result = result.filter((l) => !(l.kind === "mix-ins" && l.name === name));
        if (result.length === before) out.warn(`mix-in '${name}' is not enabled`);
      } else if (!result.some((l) => l.kind === "mix-ins" && l.name === name)) {
        result.push(classifyParentLine(lineFor(descs, "mix-ins", name, arch)));
      }
    }
    return result;
  });
}

export function profileListCommand(args: GlobalArgs, out: Output): number {
  const { parent, repos } = profileFiles(args);
  const lines = readParent(parent);
  const arch = lines.find((l) => l.kind === "arch")?.name;
  const choices = listChoices(readEgoDescs(repos), arch);
  const selected = (kind: ProfileKind) => new Set(lines.filter((l) => l.kind === kind).map((l) => l.name));
  if (out.opts.json) {
    out.json(Object.fromEntries((Object.keys(choices) as ProfileKind[]).map((k) => [k, choices[k].map((name) => ({ name, selected: selected(k).has(name) }))])));
    return 0;
  }
  for (const k of Object.keys(choices) as ProfileKind[]) {
    const sel = selected(k);
    out.result(`${out.color("bold", k)}: ${choices[k].map((n) => (sel.has(n) ? out.color("green", `*${n}`) : n)).join(" ") || "(none)"}`);
  }
  return 0;
}
