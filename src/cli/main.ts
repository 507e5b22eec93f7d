import type { Argv } from "yargs";
import { OuzoError } from "../core/errors.js";
import { installInterruptHandling } from "../core/interrupt.js";
import { type CommandSpec, declare, GLOBAL_OPTIONS, quickParse } from "./commandLine.js";
import type { GlobalArgs } from "./context.js";
import { emergeArgv, otherEmergeAction, withDefaultOpts } from "./emergeArgv.js";
import { ANISE_COMMANDS, ANISE_GROUP, aniseArgv } from "./aniseArgv.js";
import { makeOutput } from "./output.js";
import { VERSION } from "./version.js";


type Args = GlobalArgs & Record<string, unknown>;
type Handler = (args: Args) => Promise<number> | number;
type Output = import("../ui/Output.js").Output;

/**
 * Each command's code, imported when the command runs. In the bundle the light commands are part
 * of the core file and only initialised here; sync, metadata and demo are files of their own,
 * read only by the commands that need them (scripts/bundle.js).
 */
const code = {
  pms: () => import("./commands/pms.js"),
  profile: () => import("./commands/profile.js"),
  profileShow: () => import("./commands/profileShow.js"),
  context: () => import("./context.js"),
  sync: () => import("./commands/sync.js"),
  metadata: () => import("./commands/metadata.js"),
  demo: () => import("./commands/demo.js"),
  emerge: () => import("./commands/emerge.js"),
  ebuild: () => import("./commands/ebuild.js"),
  installed: () => import("./commands/installed.js"),
  depends: () => import("./commands/depends.js"),
  envUpdate: () => import("./commands/envUpdate.js"),
};

/** Load the configuration and the command's module together, then run the command. */
async function withConfig<M>(args: GlobalArgs, load: () => Promise<M>, fn: (m: M, config: import("../config/Config.js").Config, out: Output) => Promise<number> | number): Promise<number> {
  const out = makeOutput(args);
  const [{ loadConfig }, m] = await Promise.all([code.context(), load()]);
  return fn(m, loadConfig(args, out), out);
}

/** Load repos.conf only (regen and search need no profile), then run a command with it. */
async function withRepositories(args: GlobalArgs, fn: (m: typeof import("./commands/metadata.js"), repos: import("../config/repositories.js").RepositorySet, out: Output) => Promise<number>): Promise<number> {
  const m = await code.metadata();
  return fn(m, m.repositoriesOf(args), makeOutput(args));
}

const PROFILE_PARTS = ["arch", "subarch", "build", "flavor"] as const;

const COMMANDS: readonly CommandSpec<Handler>[] = [
  {
    usage: "vercmp [a] [b]",
    describe: "compare two versions: prints <, = or >",
    options: { stdin: { type: "boolean", describe: "read 'A B' pairs, one per line" } },
    run: async (a) => (await code.pms()).vercmpCommand(a as never, makeOutput(a)),
  },
  {
    usage: "atom <atoms..>",
    describe: "parse and validate atoms",
    options: { eapi: { type: "string", default: "8", describe: "EAPI to validate against ('user' for /etc/portage syntax)" } },
    run: async (a) => (await code.pms()).atomCommand(a as never, makeOutput(a)),
  },
  ...PROFILE_PARTS.map(
    (kind): CommandSpec<Handler> => ({
      usage: `profile ${kind} <name>`,
      describe: `set the ${kind}`,
      run: async (a) => (await code.profile()).profileSetCommand({ ...a, kind } as never, makeOutput(a)),
    }),
  ),
  {
    usage: "profile show",
    describe: "the resolved profile stack and settings",
    run: (a) => withConfig(a, code.profileShow, (m, config, out) => m.profileShow(config, out)),
  },
  {
    usage: "profile list",
    describe: "arches, subarches, builds, flavors and mix-ins of every kit",
    run: async (a) => (await code.profile()).profileListCommand(a, makeOutput(a)),
  },
  {
    usage: "profile mix-ins <changes..>",
    describe: "add (+name) or remove (-name) mix-ins",
    dashArgs: true,
    run: async (a) => (await code.profile()).profileMixinsCommand(a as never, makeOutput(a)),
  },
  {
    usage: "sync",
    describe: "sync the meta-repo, its kits (pinned, transactional) and anise repositories",
    options: {
      dest: { type: "string", describe: "sync into this directory only; no configuration changes" },
      offline: { type: "boolean", describe: "no fetching: check out pins already fetched" },
      anise: { type: "boolean", default: true, describe: "also sync anise repositories (--no-anise to skip)" },
      regen: { type: "boolean", default: true, describe: "refresh the metadata cache of kits that changed (--no-regen to skip)" },
      jobs: { type: "number", alias: "j", describe: "kits fetched at once (default 4)" },
      link: { type: "boolean", default: true, describe: "clone a local mirror on the same file system by hard-linking its objects (--no-link: shallow clones through git's transport, as from a server)" },
      kits: { type: "boolean", describe: "--kits: only show the kits table (as 'ouzo kits'); --no-kits: skip the meta-repo and kits, sync anise repositories only" },
    },
    run: async (a) => (await code.sync()).syncCommand({ ...a, metaRepo: a.kits !== false, kits: a.kits === true } as never, makeOutput(a)),
  },
  {
    usage: "kits",
    describe: "the kits of the release: branch, stability, pinned and current commit",
    options: { dest: { type: "string", describe: "the meta-repo synced with --dest DIR" } },
    run: async (a) => (await code.sync()).kitsCommand(a as never, makeOutput(a)),
  },
  {
    usage: "regen",
    describe: "regenerate the metadata cache (what egencache --update does)",
    options: {
      repo: { type: "string", array: true, describe: "only this repository (repeatable)" },
      jobs: { type: "number", alias: "j", describe: "parallel bash workers (default: one per core)" },
      timeout: { type: "number", describe: "seconds one ebuild may take in the depend phase (default 600; also OUZO_REGEN_TIMEOUT in the environment or make.conf)" },
      "write-md5-cache": { type: "boolean", describe: "also write metadata/md5-cache in each repository" },
      reposcan: { type: "string", describe: "also write anise-portage-converter's reposcan JSON to this file" },
      kit: { type: "string", describe: "kit name recorded in the reposcan JSON (default: the repository name)" },
      branch: { type: "string", describe: "branch recorded in the reposcan JSON (default: the checkout's git branch)" },
    },
    run: (a) => withRepositories(a, (m, repos, out) => m.regenCommand(repos, a as never, out)),
  },
  {
    usage: "info <atom>",
    describe: "every matching version in every repository, with SLOT, KEYWORDS, USE and visibility",
    run: (a) => withConfig(a, code.metadata, (m, config, out) => m.infoCommand(config, a as never, out)),
  },
  {
    usage: "search <term>",
    describe: "search package names and descriptions",
    options: { jobs: { type: "number", alias: "j", describe: "parallel workers" }, timeout: { type: "number", describe: "seconds one ebuild may take in the depend phase (default 600)" } },
    run: (a) => withRepositories(a, (m, repos, out) => m.searchCommand(repos, a as never, out)),
  },
  {
    usage: "depends <atom>",
    describe: "the installed packages that depend on an installed package, by dependency class",
    run: (a) => withConfig(a, code.depends, (m, config, out) => m.dependsCommand(config, a as never, out)),
  },
  {
    usage: "why <atom>",
    describe: "the chain from @world or @system that keeps an installed package",
    options: { "with-bdeps": { type: "string", choices: ["y", "n"], describe: "n: build-time dependencies do not keep a package (default y)" } },
    run: (a) => withConfig(a, code.depends, (m, config, out) => m.whyCommand(config, a as never, out)),
  },
  {
    usage: "owner <paths..>",
    describe: "which installed package owns each file (like equery belongs / anise q belongs)",
    run: async (a) => (await code.installed()).ownerCommand(a as never, makeOutput(a)),
  },
  {
    usage: "files <atom>",
    describe: "the files an installed package owns (like equery files)",
    run: async (a) => (await code.installed()).filesCommand(a as never, makeOutput(a)),
  },
  {
    usage: "env-update",
    describe: "gather /etc/env.d into /etc/profile.env, csh.env and ld.so.conf, and run ldconfig if needed (as Portage's env-update; merges do it themselves)",
    options: { ldconfig: { type: "boolean", default: true, describe: "run ldconfig when the libraries may have changed (--no-ldconfig: never)" } },
    run: async (a) => (await code.envUpdate()).envUpdateCommand(a as never, makeOutput(a)),
  },
  {
    usage: "installed [atom]",
    describe: "installed packages, with slot and repository",
    run: async (a) => (await code.installed()).installedCommand(a as never, makeOutput(a)),
  },
  {
    usage: "ebuild <ebuild> <phases..>",
    describe: "run ebuild phases like Portage's ebuild command: fetch unpack prepare configure compile test install instprep package merge qmerge unmerge clean",
    options: {
      "quiet-build": { type: "boolean", describe: "show the phase headers, not the phases' output (the end of the build log is shown on failure)" },
    },
    run: (a) => withConfig(a, code.ebuild, (m, config, out) => m.ebuildCommand(config, a as never, out)),
  },
  {
    usage: "emerge [atoms..]",
    describe: "resolve atoms and sets into a plan, then fetch, build and merge it, as emerge does",
    options: {
      pretend: { type: "boolean", alias: "p", describe: "show the plan only" },
      ask: { type: "boolean", alias: "a", describe: "show the plan and ask before going on" },
      update: { type: "boolean", alias: "u", describe: "the best version of each package (with -D, of its dependencies too)" },
      deep: { type: "boolean", alias: "D", describe: "follow the dependencies of installed packages too" },
      newuse: { type: "boolean", alias: "N", describe: "rebuild installed packages whose USE changed" },
      noreplace: { type: "boolean", alias: "n", describe: "do not merge again what is installed" },
      emptytree: { type: "boolean", alias: "e", describe: "merge everything reached again" },
      "changed-use": { type: "boolean", alias: "U", describe: "rebuild installed packages whose enabled USE flags changed" },
      "changed-deps": { type: "boolean", describe: "reinstall installed packages whose dependencies differ from their ebuild's" },
      exclude: { type: "string", array: true, describe: "never merge these packages (names or slot atoms, wildcards allowed; repeatable)" },
      "with-bdeps": { type: "string", choices: ["y", "n"], describe: "with -D, follow the build-time dependencies of installed packages too (default y)" },
      oneshot: { type: "boolean", alias: "1", describe: "do not add the packages to the world file" },
      select: { type: "boolean", alias: "w", describe: "add the arguments to the world file (=n: --oneshot)" },
      selective: { type: "boolean", describe: "as --noreplace; =n merges requested packages again even with -u/-N/-U" },
      "update-if-installed": { type: "boolean", describe: "--update, for the arguments of which some version is installed only" },
      "changed-slot": { type: "boolean", describe: "reinstall installed packages whose SLOT or sub-slot differs from their ebuild's" },
      newrepo: { type: "boolean", describe: "reinstall installed packages whose chosen ebuild comes from another repository" },
      "reinstall-atoms": { type: "string", array: true, describe: "treat matching installed packages as not installed (repeatable)" },
      "deep-level": { type: "number", describe: "the depth of -D N (0: off); also written -D N, -DN, --deep=N" },
      nodeps: { type: "boolean", alias: "O", describe: "only the arguments, in command-line order: no dependencies, no blockers" },
      onlydeps: { type: "boolean", alias: "o", describe: "merge the dependencies of the arguments, not the arguments" },
      "onlydeps-with-rdeps": { type: "string", choices: ["y", "n"], describe: "with -o: n keeps only the build-time dependencies of the arguments (default y)" },
      "with-test-deps": { type: "boolean", describe: "also the dependencies USE=test would add to the arguments" },
      "complete-graph": { type: "boolean", describe: "check every installed package of @world against the plan" },
      "complete-graph-if-new-ver": { type: "string", choices: ["y", "n"], describe: "complete the graph when a version, slot or sub-slot changes (default y)" },
      "complete-graph-if-new-use": { type: "string", choices: ["y", "n"], describe: "complete the graph when USE or IUSE changes (default y)" },
      "rebuild-if-new-slot": { type: "string", choices: ["y", "n"], describe: "rebuild := consumers against a new slot of their provider (default y)" },
      "rebuild-if-new-rev": { type: "boolean", describe: "rebuild installed packages whose build-time dependency is rebuilt in another version or revision" },
      "rebuild-if-new-ver": { type: "boolean", describe: "as --rebuild-if-new-rev, ignoring revisions" },
      "rebuild-if-unbuilt": { type: "boolean", describe: "rebuild installed packages whose build-time dependency is built from source" },
      "rebuild-exclude": { type: "string", array: true, describe: "never rebuild these because of --rebuild-if-* (repeatable)" },
      "rebuild-ignore": { type: "string", array: true, describe: "do not rebuild because of these dependencies (repeatable)" },
      "ignore-built-slot-operator-deps": { type: "string", choices: ["y", "n"], describe: "y: ignore the sub-slots installed packages were built against (default n)" },
      "root-deps": { type: "string", choices: ["y", "rdeps"], describe: "with --root: EAPI<7 DEPEND into ROOT (bare), or ignored (rdeps)" },
      "host-root": { type: "string", describe: "the build host's root for a --root build (default: OUZO_HOST_ROOT; none: ROOT builds for itself): BDEPEND, IDEPEND and EAPI<7 DEPEND are satisfied and merged there" },
      sysroot: { type: "string", describe: "where EAPI>=7 DEPEND is satisfied: / (the build host, default) or ROOT (default: SYSROOT)" },
      backtrack: { type: "number", describe: "accepted for emerge's sake: ouzo's solver does not backtrack" },
      tree: { type: "boolean", alias: "t", describe: "show the plan as a dependency tree, last merged first" },
      "unordered-display": { type: "boolean", describe: "with --tree: the tree in graph order, not merge order" },
      columns: { type: "boolean", describe: "aligned columns (COLUMNWIDTH, default 130)" },
      "changed-deps-report": { type: "boolean", describe: "list installed packages whose dependencies differ from their ebuild's" },
      nospinner: { type: "boolean", describe: "no spinner (accepted; ouzo draws none in this command)" },
      jobs: { type: "number", alias: "j", describe: "packages built at once (their dependencies merged first; merges one at a time); also the bash workers of metadata made on the way" },
      "load-average": { type: "number", describe: "no new build starts while the load average is above this (with --jobs)" },
      "keep-going": { type: "boolean", describe: "go on after a failure with what does not depend on it; list what was not merged at the end" },
      info: { type: "boolean", describe: "print what a bug report needs: versions, profile, repositories, info_pkgs and info_vars (with atoms: how those installed packages were built; -v: every variable)" },
      clean: { type: "boolean", describe: "for each argument (or every installed package), keep only the latest installed version of each slot" },
      "rage-clean": { type: "boolean", describe: "--unmerge (ouzo has no countdown to skip)" },
      deselect: { type: "boolean", alias: "W", describe: "remove the arguments from the world files only; --deselect=n with an uninstall leaves the world file alone" },
      "list-sets": { type: "boolean", describe: "print the names of the sets arguments may use, one per line" },
      "ignore-default-opts": { type: "boolean", describe: "leave EMERGE_DEFAULT_OPTS (make.conf or environment) out" },
      fetchonly: { type: "boolean", alias: "f", describe: "only fetch (and verify) the distfiles of the plan" },
      buildpkg: { type: "boolean", alias: "b", describe: "also write a binary package of each package built (PKGDIR, BINPKG_FORMAT)" },
      usepkg: { type: "boolean", alias: "k", describe: "install from a binary package in PKGDIR (xpak .tbz2 or GPKG) built with the same USE and SLOT, instead of building" },
      usepkgonly: { type: "boolean", alias: "K", describe: "install only from binary packages; a package with none that fits fails" },
      getbinpkg: { type: "boolean", alias: "g", describe: "also take binary packages from the binhosts of binrepos.conf and PORTAGE_BINHOST (downloaded into PKGDIR)" },
      getbinpkgonly: { type: "boolean", alias: "G", describe: "as --getbinpkg, building nothing" },
      buildpkgonly: { type: "boolean", alias: "B", describe: "build binary packages without merging them" },
      resume: { type: "boolean", alias: "r", describe: "carry on with what the last interrupted or failed run left" },
      skipfirst: { type: "boolean", describe: "with --resume: leave out the first package left (the one that failed)" },
      "quiet-build": { type: "boolean", describe: "show the phase headers, not the build output (the end of the build log is shown on failure)" },
      depclean: { type: "boolean", alias: "c", describe: "remove what nothing in @world or @system needs (with atoms: only those); -p shows it, and who needs what stays" },
      prune: { type: "boolean", alias: "P", describe: "remove the older versions of installed packages that nothing needs" },
      autounmask: { type: "boolean", describe: "when no plan exists, propose the configuration changes that make one (default: USE and licences; =y: keywords and masks too; =n: none)" },
      "autounmask-use": { type: "boolean", describe: "allow package.use changes (default y)" },
      "autounmask-license": { type: "boolean", describe: "allow package.license changes (default y)" },
      "autounmask-keep-keywords": { type: "boolean", describe: "propose no package.accept_keywords changes" },
      "autounmask-keep-masks": { type: "boolean", describe: "propose no package.unmask or '**' keyword changes" },
      "autounmask-write": { type: "boolean", describe: "write the changes into /etc/portage (a ._cfg0000_ file where CONFIG_PROTECT covers it)" },
      "autounmask-continue": { type: "boolean", describe: "write the changes and go on with the plan they allow" },
      "autounmask-only": { type: "boolean", describe: "only show (and write) the changes, and exit 0" },
      "autounmask-unrestricted-atoms": { type: "boolean", describe: "'>=' atoms for keyword and mask changes too, when no higher version exists" },
      unmerge: { type: "boolean", alias: "C", describe: "remove the installed packages the atoms name (their protected configuration files stay)" },
    },
    // -v is emerge's verbosity here, not ouzo's diagnostics
    run: (a) => withConfig({ ...a, verbose: false }, code.emerge, (m, config, out) => m.emergeCommand(config, a as never, out)),
  },
  {
    usage: "demo",
    describe: "run ouzo's main job on the bundled demo kits in a throwaway ROOT",
    options: { keep: { type: "boolean", describe: "keep the throwaway ROOT" } },
    run: async (a) => (await code.demo()).demoCommand(a as never, makeOutput(a)),
  },
  ...ANISE_COMMANDS,
];

const GROUPS = { profile: "show or change the profile", ...ANISE_GROUP };

/**
 * With --json, a failure is a JSON document on stdout too (a script reading stdout gets an answer,
 * not an empty string): `{"error": {"code", "message", "file"?, "line"?, "package"?, "exit"}}`.
 */
function jsonError(code: string, message: string, exit: number, origin: { file?: string; line?: number; pkg?: string } = {}): void {
  const error = { code, message, ...(origin.file ? { file: origin.file } : {}), ...(origin.line !== undefined ? { line: origin.line } : {}), ...(origin.pkg ? { package: origin.pkg } : {}), exit };
  process.stdout.write(JSON.stringify({ error }, null, 2) + "\n");
}

function reportFailure(e: unknown, args: GlobalArgs): number {
  const out = makeOutput(args);
  if (e instanceof OuzoError) {
    out.error(e.describe());
    if (args.json) jsonError(e.code, e.message, e.exitCode, e.origin);
    return e.exitCode;
  }
  const err = e as Error;
  out.error(`internal error: ${err?.message ?? String(e)}`);
  if (args.json) jsonError("INTERNAL", err?.message ?? String(e), 1);
  if (args.verbose && err?.stack) process.stderr.write(err.stack + "\n");
  return 1;
}

/** Run a command; every error ends as one line on stderr with a meaningful exit code. */
async function runCommand(handler: Handler, args: Args): Promise<void> {
  try {
    process.exitCode = await handler(args);
  } catch (e) {
    process.exitCode = reportFailure(e, args);
  }
}

/**
 * The yargs reading of a command line: help, usage errors with suggestions, and every form
 * quickParse leaves to it. The handler is recorded by the command's builder and run here after
 * parsing: given a handler, yargs would lay out the command's whole help text in advance.
 */
async function parseWithYargs(argv: string[]): Promise<{ handler?: Handler; args: Args }> {
  const { default: yargs } = await import("yargs");
  let handler: Handler | undefined;
  let cli: Argv = yargs(argv)
    .scriptName("ouzo")
    .version(VERSION)
    .strict()
    .recommendCommands()
    .demandCommand(1, "ouzo needs a command");
  cli = declare(cli, COMMANDS, GROUPS, (c) => (handler = c.run))
    .fail((msg, err) => {
      if (err) throw err;
      // yargs says only "Did you mean X?" for an unknown command: say what was not understood first
      if (/^Did you mean /.test(msg)) msg = `unknown command '${argv.find((a) => !a.startsWith("-"))}'; ${msg.replace(/^Did/, "did")}`;
      makeOutput({}).error(msg);
      if (argv.includes("--json")) jsonError("USAGE", msg, 2);
      process.stderr.write("see 'ouzo --help'\n");
      process.exit(2);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    // after help or the version, yargs returns instead of exiting: main() then resolves, and
    // bin/ouzo.js can keep the code it compiled for them
    .exitProcess(false);
  const args = (await cli.parseAsync()) as Args;
  if (args.help || args.version) return { args };
  return { handler, args };
}

let pipesWatched = false;
/** `ouzo … | head`: once the reader is gone, stop quietly, as command-line tools do (once per process: main() may run more than once in one). */
function quietOnClosedPipe(): void {
  if (pipesWatched) return;
  pipesWatched = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
      process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
    });
  }
}

export async function main(argv: string[]): Promise<void> {
  quietOnClosedPipe();
  installInterruptHandling();
  // --version needs no parsing
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(VERSION + "\n");
    return;
  }
  // emerge's optional y/n values, -D N, aliases (ouzo emerge, and an `emerge` link to ouzo)
  if (argv[0] === "emerge") {
    try {
      // emerge --sync, -s, --regen, --version: ouzo's own commands
      const emerge = COMMANDS.find((c) => c.usage.startsWith("emerge "))!;
      const options = { ...GLOBAL_OPTIONS, ...emerge.options };
      const other = otherEmergeAction(argv, options);
      if (other?.[0] === "--version") {
        process.stdout.write(VERSION + "\n");
        return;
      }
      const booleans = new Set(Object.entries(options).flatMap(([name, o]) => (o.type === "boolean" ? [name] : [])));
      argv = other ?? emergeArgv(argv, booleans);
      // EMERGE_DEFAULT_OPTS goes first, and what the command line gives wins
      if (!other && !argv.includes("--ignore-default-opts")) {
        const defaults = (await import("./emergeDefaults.js")).emergeDefaultOpts(argv);
        const ignored: string[] = [];
        if (defaults.length) argv = ["emerge", ...withDefaultOpts(emergeArgv(["emerge", ...defaults], booleans).slice(1), argv.slice(1), options, ignored)];
        if (ignored.length) process.stderr.write(`ouzo: warning: EMERGE_DEFAULT_OPTS: left out what ouzo emerge does not have: ${ignored.join(", ")}\n`);
      }
    } catch (e) {
      process.exitCode = reportFailure(e, {});
      return;
    }
  }
  if (argv[0] === "anise") argv = aniseArgv(argv);
  const quick = quickParse(argv, COMMANDS);
  if (quick) return runCommand(quick.command.run, quick.args as Args);
  let parsed: { handler?: Handler; args: Args };
  try {
    parsed = await parseWithYargs(argv);
  } catch (e) {
    process.exitCode = reportFailure(e, {});
    return;
  }
  if (parsed.handler) await runCommand(parsed.handler, parsed.args);
}

/** For tests: how yargs reads a command line (the command's usage and the arguments). */
export async function yargsReading(argv: string[]): Promise<{ usage?: string; args: Args }> {
  const { default: yargs } = await import("yargs");
  let usage: string | undefined;
  const cli = declare(yargs(argv).strict().exitProcess(false).fail((msg, err) => {
    throw err ?? new Error(msg);
  }), COMMANDS, GROUPS, (c) => (usage = c.usage));
  const args = (await cli.parseAsync()) as Args;
  return { usage, args };
}

/** For tests: how quickParse reads a command line, or undefined when it leaves it to yargs. */
export function quickReading(argv: string[]): { usage: string; args: Args } | undefined {
  const q = quickParse(argv, COMMANDS);
  return q && { usage: q.command.usage, args: q.args as Args };
}
