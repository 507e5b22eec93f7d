// Compile the sandbox helper (native/ouzo-sandbox.c, build spec §8.4) with the system C compiler
// into native/build/ouzo-sandbox. Run by `npm ci`/`npm install` (the "prepare" script) and by the
// sandbox tests; it does nothing when the binary is newer than its source. CC overrides the
// compiler (default: cc, then gcc, then clang).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.join(root, "native", "ouzo-sandbox.c");
const outDir = path.join(root, "native", "build");
const output = path.join(outDir, "ouzo-sandbox");
const force = process.argv.includes("--force");

function upToDate() {
  try {
    return fs.statSync(output).mtimeMs >= fs.statSync(source).mtimeMs;
  } catch {
    return false;
  }
}

function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ["cc", "gcc", "clang"];
  for (const cc of candidates) {
    const r = spawnSync(cc, ["--version"], { stdio: "ignore" });
    if (!r.error && r.status === 0) return cc;
  }
  return undefined;
}

if (process.platform !== "linux") {
  console.error(`build-native: skipped, the sandbox helper is Linux-only (this is ${process.platform})`);
  process.exit(0);
}
if (!force && upToDate()) process.exit(0);
const cc = findCompiler();
if (!cc) {
  console.error(`build-native: no C compiler found (tried ${process.env.CC ?? "cc, gcc, clang"}); install gcc (e.g. apt-get install gcc) to build native/ouzo-sandbox`);
  process.exit(1);
}
fs.mkdirSync(outDir, { recursive: true });
const tmp = `${output}.${process.pid}.tmp`;
const r = spawnSync(cc, ["-O2", "-Wall", "-Wextra", "-o", tmp, source], { stdio: ["ignore", "inherit", "inherit"] });
if (r.error || r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  console.error(`build-native: ${cc} failed to compile ${path.relative(root, source)}${r.error ? `: ${r.error.message}` : ""}`);
  process.exit(1);
}
// a rename, so a test run that executes the helper never sees a half-written binary
fs.renameSync(tmp, output);
