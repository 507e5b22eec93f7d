// `npm run bench [-- name...]`: run the benchmarks under bench/ and print their figures.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO } from "./util.js";

const all = ["pms", "cli", "profile"].filter((n) => fs.existsSync(path.join(REPO, "bench", `${n}.js`)));
const extra = fs.readdirSync(path.join(REPO, "bench")).filter((f) => f.endsWith(".js") && !["run.js", "util.js"].includes(f)).map((f) => f.slice(0, -3));
const names = process.argv.slice(2).length ? process.argv.slice(2) : [...new Set([...all, ...extra])];
if (!fs.existsSync(path.join(REPO, "dist", "cli", "main.js"))) {
  console.error("bench: build first (npm run build)");
  process.exit(1);
}
let failed = false;
for (const n of names) {
  console.log(`\n## ${n}`);
  const r = spawnSync(process.execPath, ["--expose-gc", path.join(REPO, "bench", `${n}.js`)], { stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
