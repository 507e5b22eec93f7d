// anise's command line on ouzo's: argument forms translated by aniseArgv, and the anise command
// table read alike by quickParse and by yargs (as test/cli.test.ts checks main.ts's table).
import yargs from "yargs";
import { describe, expect, it } from "vitest";
import { ANISE_COMMANDS, ANISE_GROUP, aniseArgv } from "../src/cli/aniseArgv.js";
import { declare, quickParse } from "../src/cli/commandLine.js";

async function yargsReading(argv: string[]) {
  let usage: string | undefined;
  const cli = declare(
    yargs(argv)
      .strict()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      }),
    ANISE_COMMANDS,
    ANISE_GROUP,
    (c) => (usage = c.usage),
  );
  const args = (await cli.parseAsync()) as Record<string, unknown>;
  return { usage, args };
}

describe("anise's command line", () => {
  it("translates anise's aliases, two-word commands and switches", () => {
    expect(aniseArgv(["anise", "i", "-y", "foo"])).toEqual(["anise", "install", "-y", "foo"]);
    expect(aniseArgv(["anise", "rm", "foo"])).toEqual(["anise", "uninstall", "foo"]);
    expect(aniseArgv(["anise", "u", "--sync-repos"])).toEqual(["anise", "upgrade", "--sync-repos"]);
    expect(aniseArgv(["anise", "q", "belongs", "/usr/bin/x"])).toEqual(["anise", "q-belongs", "/usr/bin/x"]);
    expect(aniseArgv(["anise", "database", "get", "x", "--files"])).toEqual(["anise", "database-get", "x", "--files"]);
    expect(aniseArgv(["anise", "repo", "update", "-f"])).toEqual(["anise", "repo-update", "-f"]);
    expect(aniseArgv(["anise", "search", "x", "--color", "--no-spinner"])).toEqual(["anise", "search", "x", "--color=always"]);
    expect(aniseArgv(["anise", "search", "x", "--color", "never"])).toEqual(["anise", "search", "x", "--color", "never"]);
  });

  it("is read alike by quickParse and yargs", async () => {
    const lines = [
      "anise install -y -p foo cat/bar@>=1.0",
      "anise install --finalizer-env A=1 --finalizer-env B=2 --skip-finalizers foo",
      "anise upgrade --deep --sync-repos -o json",
      "anise uninstall -k --nodeps foo",
      "anise search ^app -o yaml --installed --files -n x",
      "anise q-files --installed foo",
      "anise q-belongs /a /b",
      "anise repo-update -f -i main",
      "anise create-repo dir --name r --urls http://a/ --urls http://b/ --type disk",
      "anise pack app-misc/x --destination out --system-target /mnt/r",
      "anise database-import --db /x/anise.db -p",
      "anise cleanup --purge-repos --config /etc/a.yaml -d",
      "anise repo-enable main other",
      "anise repo-disable main --system-target /mnt/r",
      "anise mask-add >=a/b-1.0 =c/d-2 -f nodejs",
      "anise mask-del a/b --file /etc/anise/mask.d/x.yml -o json",
      "anise mask-list --enabled",
      "anise mask-enable -f main",
      "anise mask-disable --config /etc/a.yaml",
      "anise subsets-list -o yaml",
      "anise subsets-enable devel portage -f mine",
      "anise subsets-disable devel",
      "anise database-create a.metadata.yaml b/metadata.json",
      "anise database-remove app-misc/x --force",
      "anise database-reindex -d",
    ].map((l) => l.split(" "));
    for (const argv of lines) {
      const quick = quickParse(argv, ANISE_COMMANDS);
      expect(quick, argv.join(" ")).toBeDefined();
      const y = await yargsReading(argv);
      expect(quick!.command.usage, argv.join(" ")).toBe(y.usage);
      const keys = Object.keys(y.args).filter((k) => k !== "_" && k !== "$0");
      expect(Object.fromEntries(Object.keys(quick!.args).sort().map((k) => [k, quick!.args[k]])), argv.join(" ")).toEqual(Object.fromEntries(keys.sort().map((k) => [k, y.args[k]])));
    }
  });
});
