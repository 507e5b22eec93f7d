// Make dist/bundle/ouzo.cjs.cache, yargs.cjs.cache and heavy/anise.cjs.cache: run a few light
// commands and an anise install (three small packages from a repository on disk, into a
// throwaway ROOT) through bin/ouzo.js's loader, in one process, on a copy of the demo
// configuration, then save the code V8 compiled for them. Their output is discarded. Called at
// the end of scripts/bundle.js.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadCore, saveCodeCaches } from "../bin/ouzo.js";

// tsc has compiled src/ to dist/ before the bundler runs
const { installDemoConfig } = await import("../dist/cli/demoTree.js");
const { packPackage } = await import("../dist/anise/pack.js");
const { createRepository } = await import("../dist/anise/createRepo.js");

/** A repository on disk of three small packages (one requiring another) and a ROOT configured for it: the anise commands' argv. */
async function aniseRun(base) {
  const repo = path.join(base, "anise-repo");
  const target = path.join(base, "anise-root");
  for (const [name, requires] of [["warm-a", []], ["warm-b", [{ category: "app-misc", name: "warm-a", version: ">=0" }]], ["warm-c", []]]) {
    const image = path.join(base, `image-${name}`);
    for (let i = 0; i < 12; i++) {
      const file = path.join(image, "usr", "share", name, `d${i % 3}`, `f${i}`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `${name} ${i}\n`);
    }
    fs.mkdirSync(path.join(image, "usr", "bin"), { recursive: true });
    fs.writeFileSync(path.join(image, "usr", "bin", name), "#!/bin/sh\n", { mode: 0o755 });
    const spec = { category: "app-misc", name, version: "1.0", requires, conflicts: [], provides: [], useFlags: [], hidden: false, annotations: {}, labels: {}, description: "warming the code cache", license: "MIT", uri: [] };
    await packPackage({ spec, source: { kind: "image", dir: image }, outDir: repo });
  }
  await createRepository({ packagesDir: repo, name: "warm", type: "disk", urls: [repo] });
  const conf = path.join(target, "etc", "anise", "repos.conf.d");
  fs.mkdirSync(conf, { recursive: true });
  fs.writeFileSync(path.join(conf, "warm.yml"), `name: warm\ntype: disk\nurls: [${JSON.stringify(repo)}]\npriority: 1\n`);
  const sys = ["--system-target", target];
  return [
    ["anise", "repo", "update", ...sys],
    ["anise", "install", "-y", "warm-b", "warm-c", ...sys],
    ["anise", "upgrade", "-y", ...sys],
    ["anise", "q", "belongs", "/usr/bin/warm-a", ...sys],
  ];
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-warm-"));
try {
  installDemoConfig(root);
  // past the snapshot's 100 ms racy window: the first profile show writes the configuration
  // snapshot and the second reads it back, so both paths are in the cache
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
  const { main } = loadCore();
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = process.stderr.write = () => true;
  try {
    for (const argv of [
      ["profile", "show", "--json", "--root", root],
      ["profile", "show", "--json", "--root", root],
      ["profile", "show", "--root", root],
      ["--help"],
      ["--version"],
      ["vercmp", "1.0", "1.0_rc1"],
      ["atom", "--json", ">=dev-lang/python-3.11:3.11[sqlite]"],
      ...(await aniseRun(root)),
    ]) {
      await main(argv);
    }
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    process.exitCode = 0;
  }
  saveCodeCaches(true);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
