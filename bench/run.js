// `npm run bench [-- name...]`: run the benchmarks under bench/ and print their figures.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ENV_WITHOUT_EXTRA_CA, median, REPO } from "./util.js";

const all = ["pms", "cli", "profile"].filter((n) => fs.existsSync(path.join(REPO, "bench", `${n}.js`)));
// helpers that other benches import, not benches of their own
const NOT_BENCHES = ["run.js", "util.js", "kitShape.js"];
const extra = fs.readdirSync(path.join(REPO, "bench")).filter((f) => f.endsWith(".js") && !NOT_BENCHES.includes(f)).map((f) => f.slice(0, -3));
const names = process.argv.slice(2).length ? process.argv.slice(2) : [...new Set([...all, ...extra])];
if (!fs.existsSync(path.join(REPO, "dist", "cli", "main.js"))) {
  console.error("bench: build first (npm run build)");
  process.exit(1);
}
if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
  // node 20 parses those certificates before running anything; bin/ouzo defers them (see there)
  const t = (env) => {
    const xs = [];
    for (let i = 0; i < 11; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, ["-e", "0"], { env });
      xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return median(xs).toFixed(1);
  };
  console.log(`NODE_EXTRA_CA_CERTS is set here: node -e 0 takes ${t(process.env)} ms with it, ${t(ENV_WITHOUT_EXTRA_CA)} ms without (medians of 11).`);
  console.log("The ouzo command (bin/ouzo) starts node without it and loads the certificates only to download over HTTPS.");
}
let failed = false;
for (const n of names) {
  console.log(`\n## ${n}`);
  const r = spawnSync(process.execPath, ["--expose-gc", path.join(REPO, "bench", `${n}.js`)], { stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
