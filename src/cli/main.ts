import type { Argv } from "yargs";
import { OuzoError } from "../core/errors.js";
import type { GlobalArgs } from "./context.js";
import { makeOutput } from "./output.js";

const VERSION = "0.1.0";

type Handler = (args: GlobalArgs & Record<string, unknown>) => Promise<number> | number;

/** Wrap a command so every error ends as one line on stderr with a meaningful exit code. */
function run(handler: Handler) {
  return async (args: GlobalArgs & Record<string, unknown>) => {
    process.exitCode = await handler(args);
  };
}

/** Load the configuration, then run a command with it. */
async function withConfig(args: GlobalArgs, fn: (config: import("../config/Config.js").Config, out: import("../ui/Output.js").Output) => Promise<number>): Promise<number> {
  const out = makeOutput(args);
  const { loadConfig } = await import("./context.js");
  return fn(loadConfig(args, out), out);
}

/** Load repos.conf only (regen and search need no profile), then run a command with it. */
async function withRepositories(args: GlobalArgs, fn: (m: typeof import("./commands/metadata.js"), repos: import("../config/repositories.js").RepositorySet, out: import("../ui/Output.js").Output) => Promise<number>): Promise<number> {
  const m = await import("./commands/metadata.js");
  return fn(m, m.repositoriesOf(args), makeOutput(args));
}

function reportFailure(e: unknown, args: GlobalArgs): number {
  const out = makeOutput(args);
  if (e instanceof OuzoError) {
    out.error(e.describe());
    return e.exitCode;
  }
  const err = e as Error;
  out.error(`internal error: ${err?.message ?? String(e)}`);
  if (args.verbose && err?.stack) process.stderr.write(err.stack + "\n");
  return 1;
}

export async function main(argv: string[]): Promise<void> {
  // Fast paths: answering --version must not load the whole CLI.
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(VERSION + "\n");
    return;
  }
  const { default: yargs } = await import("yargs");
  let parsedArgs: GlobalArgs = {};
  const cli: Argv = yargs(argv)
    .scriptName("ouzo")
    .version(VERSION)
    .strict()
    .recommendCommands()
    .demandCommand(1, "ouzo needs a command; see 'ouzo --help'")
    .option("root", { type: "string", describe: "install into this ROOT (Portage's ROOT)", global: true })
    .option("config-root", { type: "string", describe: "read /etc/portage from here (PORTAGE_CONFIGROOT)", global: true })
    .option("json", { type: "boolean", describe: "print one JSON document", global: true })
    .option("quiet", { alias: "q", type: "boolean", describe: "print less", global: true })
    .option("verbose", { alias: "v", type: "boolean", describe: "print more", global: true })
    .option("color", { choices: ["auto", "always", "never"] as const, default: "auto" as const, describe: "colour output", global: true })
    .option("cache-dir", { type: "string", describe: "where caches live (default ROOT/var/cache/ouzo; env OUZO_CACHE_DIR)", global: true })
    .middleware((a) => {
      parsedArgs = a as GlobalArgs;
    })
    .command(
      "vercmp [a] [b]",
      "compare two versions: prints <, = or >",
      (y) => y.positional("a", { type: "string" }).positional("b", { type: "string" }).option("stdin", { type: "boolean", describe: "read 'A B' pairs, one per line" }),
      run(async (a) => (await import("./commands/pms.js")).vercmpCommand(a as never, makeOutput(a))),
    )
    .command(
      "atom <atoms..>",
      "parse and validate atoms",
      (y) => y.positional("atoms", { type: "string", array: true }).option("eapi", { type: "string", default: "8", describe: "EAPI to validate against ('user' for /etc/portage syntax)" }),
      run(async (a) => (await import("./commands/pms.js")).atomCommand(a as never, makeOutput(a))),
    )
    .command("profile", "show or change the profile", (y) =>
      (["arch", "subarch", "build", "flavor"] as const)
        .reduce(
          (p, kind) =>
            p.command(
              `${kind} <name>`,
              `set the ${kind}`,
              (c) => c.positional("name", { type: "string", demandOption: true }),
              run(async (a) => (await import("./commands/profile.js")).profileSetCommand({ ...a, kind } as never, makeOutput(a))),
            ),
          y,
        )
        .command(
          "show",
          "the resolved profile stack and settings",
          () => {},
          run((a) => withConfig(a, async (config, out) => (await import("./commands/profileShow.js")).profileShow(config, out))),
        )
        .command(
          "list",
          "arches, subarches, builds, flavors and mix-ins of every kit",
          () => {},
          run(async (a) => (await import("./commands/profile.js")).profileListCommand(a, makeOutput(a))),
        )
        .command(
          "mix-ins <changes..>",
          "add (+name) or remove (-name) mix-ins",
          (p) => p.positional("changes", { type: "string", array: true }).parserConfiguration({ "unknown-options-as-args": true }),
          run(async (a) => (await import("./commands/profile.js")).profileMixinsCommand(a as never, makeOutput(a))),
        )
        .demandCommand(1, "profile needs a subcommand; see 'ouzo profile --help'"),
    )
    .command(
      "sync",
      "sync the meta-repo, its kits (pinned, transactional) and anise repositories",
      (y) =>
        y
          .option("dest", { type: "string", describe: "sync into this directory only; no configuration changes" })
          .option("offline", { type: "boolean", describe: "no fetching: check out pins already fetched" })
          .option("anise", { type: "boolean", default: true, describe: "also sync anise repositories (--no-anise to skip)" })
          .option("regen", { type: "boolean", default: true, describe: "refresh the metadata cache of kits that changed (--no-regen to skip)" })
          .option("jobs", { alias: "j", type: "number", describe: "kits fetched at once (default 4)" })
          .option("link", { type: "boolean", default: true, describe: "clone a local mirror on the same file system by hard-linking its objects (--no-link: shallow clones through git's transport, as from a server)" })
          .option("kits", { type: "boolean", describe: "--kits: only show the kits table (as 'ouzo kits'); --no-kits: skip the meta-repo and kits, sync anise repositories only" }),
      run(async (a) => (await import("./commands/sync.js")).syncCommand({ ...a, metaRepo: a.kits !== false, kits: a.kits === true } as never, makeOutput(a))),
    )
    .command(
      "kits",
      "the kits of the release: branch, stability, pinned and current commit",
      (y) => y.option("dest", { type: "string", describe: "the meta-repo synced with --dest DIR" }),
      run(async (a) => (await import("./commands/sync.js")).kitsCommand(a as never, makeOutput(a))),
    )
    .command(
      "regen",
      "regenerate the metadata cache (what egencache --update does)",
      (y) =>
        y
          .option("repo", { type: "string", array: true, describe: "only this repository (repeatable)" })
          .option("jobs", { alias: "j", type: "number", describe: "parallel bash workers (default: one per core)" })
          .option("write-md5-cache", { type: "boolean", describe: "also write metadata/md5-cache in each repository" })
          .option("reposcan", { type: "string", describe: "also write anise-portage-converter's reposcan JSON to this file" })
          .option("kit", { type: "string", describe: "kit name recorded in the reposcan JSON (default: the repository name)" })
          .option("branch", { type: "string", describe: "branch recorded in the reposcan JSON (default: the checkout's git branch)" }),
      run((a) => withRepositories(a, (m, repos, out) => m.regenCommand(repos, a as never, out))),
    )
    .command(
      "info <atom>",
      "every matching version in every repository, with SLOT, KEYWORDS, USE and visibility",
      (y) => y.positional("atom", { type: "string", demandOption: true }),
      run(async (a) => withConfig(a, async (config, out) => (await import("./commands/metadata.js")).infoCommand(config, a as never, out))),
    )
    .command(
      "search <term>",
      "search package names and descriptions",
      (y) => y.positional("term", { type: "string", demandOption: true }).option("jobs", { alias: "j", type: "number" }),
      run((a) => withRepositories(a, (m, repos, out) => m.searchCommand(repos, a as never, out))),
    )
    .command(
      "demo",
      "run ouzo's main job on the bundled demo kits in a throwaway ROOT",
      (y) => y.option("keep", { type: "boolean", describe: "keep the throwaway ROOT" }),
      run(async (a) => (await import("./commands/demo.js")).demoCommand(a as never, makeOutput(a))),
    )
    .fail((msg, err) => {
      if (err) throw err;
      const out = makeOutput(parsedArgs);
      out.error(msg);
      process.stderr.write("see 'ouzo --help'\n");
      process.exit(2);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100));
  try {
    await cli.parseAsync();
  } catch (e) {
    process.exitCode = reportFailure(e, parsedArgs);
  }
}
