// A merge run in its own process, for test/mergeCrash.test.ts to kill -9: every event of the
// merge is printed as one line on stdout (a pipe, written synchronously), so the test can kill it
// right after the Nth line (or, stepped, exactly there). Arguments: one JSON object (the MergeRequest's data; mode "unmerge"
// unmerges `cpv` instead, mode "recover" runs recoverInterrupted, so that a recovery can be killed too).
// The compiled merge code comes from ../dist (OUZO_TEST_DIST overrides it).
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dist = process.env.OUZO_TEST_DIST ?? fileURLToPath(new URL("../dist", import.meta.url));
const { mergePackage } = await import(pathToFileURL(path.join(dist, "merge", "merge.js")).href);
const { unmergePackage } = await import(pathToFileURL(path.join(dist, "merge", "unmerge.js")).href);
const { recoverInterrupted } = await import(pathToFileURL(path.join(dist, "merge", "recover.js")).href);
const { readInstalled } = await import(pathToFileURL(path.join(dist, "vdb", "installed.js")).href);

const req = JSON.parse(process.argv[2]);
// OUZO_CRASH_STEP=1: after each line wait for a byte on stdin, so that the test can kill exactly there
const step = process.env.OUZO_CRASH_STEP === "1";
const out = (line) => {
  process.stdout.write(`${line}\n`); // synchronous on a pipe (Linux)
  if (step) fs.readSync(0, Buffer.alloc(1), 0, 1, null);
};
const hook = (phase) => async (old, replacedBy) => {
  fs.appendFileSync(path.join(req.root, "hooks.log"), `${phase} ${old.cpv} ${replacedBy}\n`);
  out(`hook ${phase} ${old.cpv}`);
};
const hooks = { prerm: hook("prerm"), postrm: hook("postrm") };
const reporter = { report: (e) => out(`${e.kind} ${e.task ?? ""} ${e.done ?? ""} ${e.item ?? e.message ?? ""}`) };
if (req.mode === "recover") {
  await recoverInterrupted(req.root, reporter, { hooks });
  out("done");
  process.exit(0);
}
if (req.mode === "unmerge") {
  const pkg = readInstalled(req.root).find((p) => p.cpv === req.cpv);
  await unmergePackage({ root: req.root, pkg, configProtect: req.configProtect, configProtectMask: req.configProtectMask, features: new Set(req.features), hooks, reporter });
  out("done");
  process.exit(0);
}
const replacing = readInstalled(req.root).filter((p) => p.category === req.category && p.package === req.pn && p.slot === req.slot);
await mergePackage({
  ...req,
  features: new Set(req.features),
  ...(req.wholeDirs ? { wholeDirs: new Set(req.wholeDirs) } : {}),
  replacing,
  hooks,
  reporter,
});
out("done");
