// anise's command line on ouzo's (anise.md §14): `ouzo anise …`, or `anise …` through a link
// named anise (bin/ouzo turns that into `ouzo anise …`). anise's command aliases (`i`, `u`, `rm`)
// and its two-word commands (`q files`, `database get`, `repo list`, `mask add`, `subsets
// enable`) become the one-word commands declared here, so that quickParse and yargs read them as
// every other command; its flag spellings that ouzo's global options would misread are
// translated first.
import type { CommandSpec, OptionSpec } from "./commandLine.js";
import { makeOutput } from "./output.js";

type Args = Record<string, unknown>;
type Handler = (args: Args) => Promise<number>;

const ALIASES: Record<string, string> = { i: "install", u: "upgrade", rm: "uninstall", un: "uninstall", s: "search" };
const TWO_WORDS = new Set(["q", "database", "repo", "mask", "subsets"]);
/** anise's aliases of second words (`mask a`, `mask d`, `mask e`, `mask li`). */
const SUB_ALIASES: Record<string, string> = { "mask-a": "mask-add", "mask-d": "mask-del", "mask-e": "mask-enable", "mask-li": "mask-list" };

/** `anise …` arguments as ouzo's table declares them (argv[0] is "anise"). */
export function aniseArgv(argv: readonly string[]): string[] {
  if (argv[0] !== "anise") return [...argv];
  const out = ["anise"];
  let i = 1;
  const sub = argv[i];
  if (sub !== undefined && !sub.startsWith("-")) {
    if (TWO_WORDS.has(sub) && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("-")) {
      const two = `${sub}-${argv[i + 1]}`;
      out.push(SUB_ALIASES[two] ?? two);
      i += 2;
    } else {
      out.push(ALIASES[sub] ?? sub);
      i += 1;
    }
  }
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    // anise's --color is a switch; ouzo's takes auto|always|never
    if (a === "--color" && !["auto", "always", "never"].includes(argv[i + 1] ?? "")) out.push("--color=always");
    else if (a === "--no-color") out.push("--color=never");
    else if (a === "--no-spinner") continue;
    else out.push(a);
  }
  return out;
}

const COMMON: Record<string, OptionSpec> = {
  config: { type: "string", describe: "anise's configuration file (default CONFIG_ROOT/etc/anise/anise.yaml)" },
  "system-target": { type: "string", describe: "the rootfs to work on (anise's --system-target; ouzo's --root)" },
  "system-dbpath": { type: "string", describe: "accepted for anise's sake: ouzo records packages in /var/db/pkg" },
  debug: { type: "boolean", alias: "d", describe: "print more (as --verbose)" },
  "skip-config-protect": { type: "boolean", describe: "install protected configuration files over the old ones" },
  concurrency: { type: "number", describe: "downloads at once (default: general.concurrency, 4)" },
  output: { type: "string", alias: "o", choices: ["terminal", "json", "yaml"], describe: "output format" },
};

const INSTALL: Record<string, OptionSpec> = {
  yes: { type: "boolean", alias: "y", describe: "do not ask" },
  pretend: { type: "boolean", alias: "p", describe: "show what would be done" },
  nodeps: { type: "boolean", describe: "only the packages named: no dependencies" },
  "ignore-conflicts": { type: "boolean", describe: "file conflicts are warnings (as --force)" },
  force: { type: "boolean", describe: "file conflicts are warnings" },
  "skip-check-system": { type: "boolean", describe: "do not check files on disk and their owners before installing" },
  "download-only": { type: "boolean", describe: "download and verify the packages only" },
  "sync-repos": { type: "boolean", describe: "sync the anise repositories first" },
  "skip-finalizers": { type: "boolean", describe: "do not run finalizers" },
  "finalizer-env": { type: "string", array: true, describe: "KEY=VALUE in the finalizers' environment (repeatable)" },
  "ignore-masks": { type: "boolean", describe: "masked versions can be chosen" },
  "show-install-order": { type: "boolean", describe: "accepted: the plan is always shown in order" },
  cleanup: { type: "boolean", describe: "accepted for anise's sake" },
};

type Handlers = Record<string, (args: unknown, out: ReturnType<typeof makeOutput>) => Promise<number>>;

/** Where a command's handler lives: installing (commands/anise.ts), looking and publishing (aniseQuery.ts), configuring (aniseAdmin.ts). */
type HandlerModule = "install" | "query" | "admin";
const load: Record<HandlerModule, () => Promise<unknown>> = {
  install: () => import("./commands/anise.js"),
  query: () => import("./commands/aniseQuery.js"),
  admin: () => import("./commands/aniseAdmin.js"),
};

function spec(usage: string, describe: string, fn: string, options: Record<string, OptionSpec> = {}, module: HandlerModule = "install"): CommandSpec<Handler> {
  return {
    usage,
    describe,
    options: { ...COMMON, ...options },
    run: async (a) => {
      const m = (await load[module]()) as Handlers;
      const args = { ...a, verbose: !!a.verbose || !!a.debug };
      return m[fn]!(args, makeOutput(args));
    },
  };
}

/** The configuration and database commands (commands/aniseAdmin.ts). */
const admin = (usage: string, describe: string, fn: string, options: Record<string, OptionSpec> = {}) => spec(usage, describe, fn, options, "admin");
/** The commands that look and publish (commands/aniseQuery.ts). */
const query = (usage: string, describe: string, fn: string, options: Record<string, OptionSpec> = {}) => spec(usage, describe, fn, options, "query");
const FILE_OPTION = (dir: string): Record<string, OptionSpec> => ({ file: { type: "string", alias: "f", describe: `the file: NAME (${dir}/NAME.yml) or a path in ${dir} (default main.yml)` } });

/** The anise commands for main.ts's COMMANDS (group "anise"). */
export const ANISE_COMMANDS: readonly CommandSpec<Handler>[] = [
  spec("anise install <packages..>", "install anise packages and their dependencies (alias: i)", "aniseInstallCommand", INSTALL),
  spec("anise upgrade [packages..]", "upgrade the installed anise packages (alias: u)", "aniseUpgradeCommand", {
    ...INSTALL,
    deep: { type: "boolean", describe: "also downgrade packages whose installed version is gone from the repositories" },
    "show-upgrade-order": { type: "boolean", describe: "accepted: the plan is always shown in order" },
  }),
  spec("anise uninstall <packages..>", "remove packages and the installed packages that need them (alias: rm)", "aniseUninstallCommand", {
    yes: INSTALL.yes!,
    pretend: INSTALL.pretend!,
    nodeps: { type: "boolean", describe: "only the packages named, whatever needs them" },
    force: { type: "boolean", describe: "also remove packages built from source that need them" },
    "keep-protected-files": { type: "boolean", alias: "k", describe: "keep every protected configuration file, modified or not" },
    "skip-finalizers": INSTALL["skip-finalizers"]!,
    "finalizer-env": INSTALL["finalizer-env"]!,
  }),
  query("anise search [regex]", "search the anise repositories (or the installed packages)", "aniseSearchCommand", {
    installed: { type: "boolean", describe: "search the installed packages" },
    files: { type: "boolean", describe: "show the files of each package" },
    label: { type: "string", describe: "only packages with this label" },
    annotation: { type: "string", alias: "a", describe: "only packages with this annotation" },
    category: { type: "string", describe: "category regular expression" },
    name: { type: "string", alias: "n", describe: "name regular expression" },
    hidden: { type: "boolean", describe: "include hidden packages" },
  }),
  query("anise repo-list", "the configured anise repositories (anise repo list)", "aniseRepoListCommand"),
  query("anise repo-update [repos..]", "sync anise repositories (anise repo update)", "aniseRepoUpdateCommand", {
    force: { type: "boolean", alias: "f", describe: "sync even when unchanged" },
    "ignore-errors": { type: "boolean", alias: "i", describe: "exit 0 when a repository fails" },
  }),
  query("anise q-files <packages..>", "the files of packages (anise q files)", "aniseQFilesCommand", { installed: { type: "boolean", describe: "of the installed package" } }),
  query("anise q-belongs <paths..>", "the installed packages owning paths (anise q belongs)", "aniseQBelongsCommand", { installed: { type: "boolean", describe: "accepted: ouzo answers from the installed database" } }),
  query("anise q-orphans", "installed anise packages no repository has (anise q orphans)", "aniseQOrphansCommand", { installed: { type: "boolean", describe: "accepted" } }),
  query("anise cleanup", "empty the anise package cache", "aniseCleanupCommand", { "purge-repos": { type: "boolean", describe: "also remove the synced repository trees" } }),
  query("anise database-get <packages..>", "the installed record of packages (anise database get)", "aniseDatabaseGetCommand", { files: { type: "boolean", describe: "with the files" } }),
  query("anise database-import", "record in /var/db/pkg the packages an existing anise system's database (anise.db, luet.db) lists; it is only read", "aniseDatabaseImportCommand", {
    db: { type: "string", describe: "the database file (default: SYSTEM_DBPATH/anise.db, then luet.db)" },
    pretend: { type: "boolean", alias: "p", describe: "say what would be recorded" },
  }),
  admin("anise repo-enable <repos..>", "enable anise repositories in their definition files (anise repo enable)", "aniseRepoEnableCommand"),
  admin("anise repo-disable <repos..>", "disable anise repositories: their packages are no longer seen (anise repo disable)", "aniseRepoDisableCommand"),
  admin("anise mask-add <rules..>", "mask package versions: add rules to a mask.d file (anise mask add)", "aniseMaskAddCommand", FILE_OPTION("mask.d")),
  admin("anise mask-del <rules..>", "remove mask rules (from every mask.d file, or -f's) (anise mask del)", "aniseMaskDelCommand", FILE_OPTION("mask.d")),
  admin("anise mask-list", "the mask rules of mask.d (anise mask list)", "aniseMaskListCommand", { enabled: { type: "boolean", describe: "only the rules of enabled files" } }),
  admin("anise mask-enable", "enable a mask.d file (anise mask enable -f NAME)", "aniseMaskEnableCommand", FILE_OPTION("mask.d")),
  admin("anise mask-disable", "disable a mask.d file: its rules no longer count (anise mask disable -f NAME)", "aniseMaskDisableCommand", FILE_OPTION("mask.d")),
  admin("anise subsets-list", "the subsets defined or used by packages, and which are enabled (anise subsets list)", "aniseSubsetsListCommand"),
  admin("anise subsets-enable <names..>", "enable subsets: their files are installed (anise subsets enable)", "aniseSubsetsEnableCommand", FILE_OPTION("subsets.conf.d")),
  admin("anise subsets-disable <names..>", "disable subsets: their files are skipped at install (anise subsets disable)", "aniseSubsetsDisableCommand", FILE_OPTION("subsets.conf.d")),
  admin("anise database-create <files..>", "record packages from their metadata without unpacking them (anise database create)", "aniseDatabaseCreateCommand"),
  admin("anise database-remove <packages..>", "drop packages' installed records; their files stay (anise database remove)", "aniseDatabaseRemoveCommand", {
    force: { type: "boolean", describe: "also a package built from source" },
  }),
  admin("anise database-reindex", "rebuild the index of who owns which file from /var/db/pkg (anise database reindex)", "aniseDatabaseReindexCommand"),
  query("anise pack <atom>", "make an anise package of an installed package or a binary package file", "anisePackCommand", { destination: { type: "string", describe: "where to write it (default: the current directory)" } }),
  query("anise create-repo <dir>", "write an anise repository from the packages in DIR", "aniseCreateRepoCommand", {
    name: { type: "string", describe: "repository name (required)" },
    description: { type: "string", describe: "repository description" },
    urls: { type: "string", array: true, describe: "URLs written in repository.yaml (repeatable)" },
    type: { type: "string", choices: ["http", "disk"], describe: "repository type (default http)" },
    priority: { type: "number", describe: "priority written in repository.yaml (default 9999)" },
    tree: { type: "string", describe: "a tree of definition.yaml and finalize.yaml directories" },
    destination: { type: "string", describe: "write the repository there (default DIR)" },
    "tree-filename": { type: "string", describe: "the tree tarball's name (default tree.tar.zst)" },
  }),
];

export const ANISE_GROUP = { anise: "anise's binary package commands (also as an 'anise' link to ouzo)" };
