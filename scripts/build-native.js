// Compile ouzo's native helpers with the system C compiler into native/build/:
// - ouzo-sandbox (native/ouzo-sandbox.c, build spec §8.4): required, libc only;
// - ouzo-unpack (native/ouzo-unpack.c): the fast anise unpacker, with the zstd decompression
//   sources zstd-napi ships and MD5 in SIMD lanes (native/md5-lanes.c), libc only. Optional:
//   should it fail to build, anise packages are unpacked in JavaScript, slower.
// Run by `npm ci`/`npm install` (the "prepare" script) and by the sandbox tests; a helper newer
// than its sources is left alone. CC overrides the compiler (default: cc, then gcc, then clang).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(root, "native", "build");
const force = process.argv.includes("--force");
const zstdLib = path.join(root, "node_modules", "zstd-napi", "deps", "zstd", "lib");

const helpers = [
  { name: "ouzo-sandbox", required: true, sources: [path.join(root, "native", "ouzo-sandbox.c")], flags: [], libs: [] },
  {
    name: "ouzo-unpack",
    required: false,
    without: "anise packages are unpacked in JavaScript instead (slower)",
    sources: [
      path.join(root, "native", "ouzo-unpack.c"),
      path.join(root, "native", "md5-lanes.c"),
      ...["common/entropy_common.c", "common/error_private.c", "common/fse_decompress.c", "common/xxhash.c", "common/zstd_common.c", "common/debug.c", "decompress/huf_decompress.c", "decompress/zstd_ddict.c", "decompress/zstd_decompress.c", "decompress/zstd_decompress_block.c"].map((f) => path.join(zstdLib, f)),
      // zstd's x86-64 Huffman decoder (the file is empty elsewhere)
      path.join(zstdLib, "decompress", "huf_decompress_amd64.S"),
    ],
    headers: [path.join(root, "native", "md5-lanes.h")],
    flags: [`-I${zstdLib}`],
    libs: ["-lm"],
  },
];

function upToDate(output, sources) {
  try {
    const built = fs.statSync(output).mtimeMs;
    return sources.every((s) => fs.statSync(s).mtimeMs <= built);
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
  console.error(`build-native: skipped, the native helpers are Linux-only (this is ${process.platform})`);
  process.exit(0);
}
const todo = helpers.filter((h) => force || !upToDate(path.join(outDir, h.name), [...h.sources, ...(h.headers ?? [])]));
if (!todo.length) process.exit(0);
const cc = findCompiler();
if (!cc) {
  console.error(`build-native: no C compiler found (tried ${process.env.CC ?? "cc, gcc, clang"}); install gcc (e.g. apt-get install gcc) to build native/ouzo-sandbox`);
  process.exit(1);
}
fs.mkdirSync(outDir, { recursive: true });
let status = 0;
for (const h of todo) {
  const output = path.join(outDir, h.name);
  const missing = h.sources.filter((s) => !fs.existsSync(s));
  if (missing.length) {
    console.error(`build-native: cannot build ${h.name}: ${path.relative(root, missing[0])} is missing${h.required ? "" : `; ${h.without}`}`);
    if (h.required) status = 1;
    continue;
  }
  const tmp = `${output}.${process.pid}.tmp`;
  const r = spawnSync(cc, ["-O2", "-Wall", "-Wextra", ...h.flags, "-o", tmp, ...h.sources, ...h.libs], { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    const why = `${cc} failed${r.error ? `: ${r.error.message}` : ""}`;
    process.stderr.write(r.stderr ?? "");
    console.error(`build-native: cannot build ${h.name}: ${why}${h.required ? "" : `; ${h.without}`}`);
    if (h.required) status = 1;
    continue;
  }
  if (r.stderr) process.stderr.write(r.stderr); // warnings
  // a rename, so a test run that executes the helper never sees a half-written binary
  fs.renameSync(tmp, output);
}
process.exit(status);
