// Make dist/bundle/ouzo.cjs.cache: run a few light commands through bin/ouzo.js's loader, in
// one process, on a copy of the demo configuration, then save the code V8 compiled for them.
// Their output is discarded. Called at the end of scripts/bundle.js.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { loadCore, saveCodeCache } from "../bin/ouzo.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const demo = path.join(REPO, "fixtures", "demo");
const root = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-warm-"));
try {
  fs.cpSync(path.join(demo, "etc"), path.join(root, "etc"), { recursive: true });
  const reposConf = path.join(root, "etc", "portage", "repos.conf");
  fs.mkdirSync(reposConf, { recursive: true });
  for (const kit of fs.readdirSync(path.join(demo, "kits"))) {
    const head = kit === "core-kit" ? "[DEFAULT]\nmain-repo = core-kit\n\n" : "";
    fs.writeFileSync(path.join(reposConf, `ego-${kit}`), `${head}[${kit}]\nlocation = ${path.join(demo, "kits", kit)}\n`);
  }
  const { main, script } = loadCore();
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = process.stderr.write = () => true;
  try {
    for (const argv of [
      ["profile", "show", "--json", "--root", root],
      ["profile", "show", "--root", root],
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
  saveCodeCache(script);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
