// Make dist/bundle/ouzo.cjs.cache and yargs.cjs.cache: run a few light commands through
// bin/ouzo.js's loader, in one process, on a copy of the demo configuration, then save the code
// V8 compiled for them. Their output is discarded. Called at the end of scripts/bundle.js.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadCore, saveCodeCaches } from "../bin/ouzo.js";

// tsc has compiled src/ to dist/ before the bundler runs
const { installDemoConfig } = await import("../dist/cli/demoTree.js");

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
