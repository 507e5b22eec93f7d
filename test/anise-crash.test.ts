// `kill -9` during `ouzo anise upgrade`: the next run finds each package old or new, never
// neither — the merge journal is rolled back before the new files are all staged, and rolled
// forward after.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { recoverInterrupted } from "../src/merge/recover.js";
import { readInstalled } from "../src/vdb/installed.js";
import { anise, buildRepo, configureRepos, RepoServer, type FixturePackage } from "./aniseFixture.js";
import { tmpdir } from "./helpers.js";

const servers: RepoServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.stop();
});

const N = 2000;

function big(version: string): FixturePackage {
  const files: FixturePackage["files"] = {};
  for (let i = 0; i < N; i++) files[`usr/share/big/d${i % 20}/f${i}`] = `${version} ${i} ${"x".repeat(2048)}\n`;
  return { category: "app-misc", name: "big", version, files };
}

/** Resolve once a journal of ROOT holds `record` (or, with "", its first record). */
function journalReaches(root: string, record: string, done: Promise<unknown>): Promise<boolean> {
  const dir = path.join(root, "var", "lib", "ouzo", "journal");
  let over = false;
  void done.then(() => (over = true));
  return new Promise((resolve) => {
    const poll = () => {
      if (over) return resolve(false);
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        let text = "";
        try {
          text = fs.readFileSync(path.join(dir, f), "utf8");
        } catch {
          continue;
        }
        // a record counts once its line is whole (the first one carries the whole plan)
        const lines = text.split("\n").slice(0, -1);
        if (record === "" ? lines.length > 0 : lines.some((l) => l.includes(`"r":"${record}"`))) return resolve(true);
      }
      setImmediate(poll);
    };
    poll();
  });
}

/** Every file of big is whole and of one version; the VDB has exactly that version. */
function consistent(root: string): string {
  const inst = readInstalled(root).filter((p) => p.package === "big");
  expect(inst.length).toBe(1);
  const v = inst[0]!.version.text;
  for (let i = 0; i < N; i += 97) expect(fs.readFileSync(path.join(root, `usr/share/big/d${i % 20}/f${i}`), "utf8")).toBe(`${v} ${i} ${"x".repeat(2048)}\n`);
  const leftovers = fs.readdirSync(path.join(root, "usr/share/big/d0")).filter((n) => n.includes("ouzo-new"));
  expect(leftovers).toEqual([]);
  return v;
}

describe("kill -9 during an upgrade", () => {
  it("is rolled back before the files are staged and forward after, by the next run", async () => {
    const repoDir = tmpdir("ouzo-anise-repo-");
    const root = tmpdir("ouzo-anise-root-");
    await buildRepo(repoDir, "main", [big("1.0")]);
    const server = await new RepoServer(repoDir).start();
    servers.push(server);
    configureRepos(root, [{ name: "main", url: server.url }]);
    const args = ["--system-target", root];
    expect((await anise(["install", "-y", "--sync-repos", "app-misc/big", ...args])).code).toBe(0);
    await buildRepo(repoDir, "main", [big("2.0")], 2);
    expect((await anise(["repo", "update", ...args])).code).toBe(0);
    // the package is downloaded first, so that the kill lands in the merge
    expect((await anise(["upgrade", "-y", "--download-only", ...args])).code).toBe(0);

    // 1. killed while the new files are being staged: the old version stays
    const first = anise(["upgrade", "-y", ...args]);
    expect(await journalReaches(root, "", first)).toBe(true);
    first.child.kill("SIGKILL");
    await first;
    const back = await recoverInterrupted(root);
    expect(back.transactions.map((t) => t.action)).toEqual(["rolled-back"]);
    expect(consistent(root)).toBe("1.0");

    // 2. killed once everything is staged: the recovery finishes the upgrade
    const second = anise(["upgrade", "-y", ...args]);
    expect(await journalReaches(root, "STAGED", second)).toBe(true);
    second.child.kill("SIGKILL");
    await second;
    const fwd = await anise(["upgrade", "-y", "-v", ...args]);
    expect(fwd.code, fwd.stderr).toBe(0);
    expect(fwd.stderr).toContain("recovered the interrupted merge of app-misc/big-2.0: rolled-forward");
    expect(consistent(root)).toBe("2.0");
    expect(fwd.stdout).toContain("Nothing to upgrade.");
  });
});
