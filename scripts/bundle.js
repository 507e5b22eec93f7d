// Bundle the CLI in two parts, because start-up latency is a target.
//
// dist/bundle/ouzo.cjs is the core: the command line and every light command (pms, profile, the
// configuration stack) in ONE file. On a slow machine each extra ES module costs about a
// millisecond to resolve, read and link, and a split build loaded a dozen chunks for
// 'ouzo profile show' (one file is 7-8 ms faster). It is CommonJS because bin/ouzo.js compiles it
// with vm.Script to use V8's code cache (made below by warm-code-cache.js).
//
// dist/bundle/heavy/ holds what only some commands need (sync with undici, tar and zstd; the
// metadata cache with SQLite; the demo; ora, for live progress), as ES modules split into chunks
// as usual. dist/bundle/yargs.cjs holds yargs, used for help and usage errors, as CommonJS with a
// code cache of its own, and so does dist/bundle/heavy/anise.cjs, the anise commands that install
// (everything they use in one file): an install of many packages spends its first ~0.3 s on one
// core before the first download, and compiling its ES modules was ~80 ms of that (the first
// request of bench/anise.js's install came 303-340 ms after the start, 243-248 ms with the cache).
// Modules it shares with the other heavy parts are in both; the anise commands that only look
// (aniseQuery) or configure (aniseAdmin) stay small ES modules. The core reaches them only
// through dynamic imports, which the plugin below turns into imports of those files. Modules both parts use are in both: state that the
// other part must see lives on globalThis under a Symbol.for key (core/interrupt.ts, the running
// children of core/spawn.ts), and OuzoError recognises its instances from either copy.
//
// yargs and its cliui import `string-width`, whose module body builds an Intl.Segmenter and
// Unicode tables (~40 ms here) although widths are only needed to lay out help text. The plugin
// lazyStringWidth hands yargs a stub: for printable ASCII the display width is the length by
// definition; any other string loads the real `string-width` on first use, through esbuild's
// lazily initialised require of a bundled ES module.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";

const lazyStringWidth = {
  name: "lazy-string-width",
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, (args) => {
      if (args.pluginData?.real) return undefined;
      return { path: args.resolveDir, namespace: "lazy-string-width" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-string-width" }, (args) => ({
      contents:
        "let real;\n" +
        "export default function stringWidth(s, o) {\n" +
        "  if (typeof s === 'string' && /^[\\x20-\\x7e]*$/.test(s)) return s.length;\n" +
        "  real ??= require('string-width');\n" +
        "  return (real.default ?? real)(s, o);\n" +
        "}\n",
      resolveDir: args.path,
      pluginData: { real: true },
      loader: "js",
    }));
    // The stub's own require must reach the real module.
    b.onResolve({ filter: /^string-width$/, namespace: "lazy-string-width" }, async (args) => {
      const r = await b.resolve("string-width", { resolveDir: args.resolveDir, kind: "require-call", pluginData: { real: true } });
      return { path: r.path };
    });
  },
};

import { rmSync } from "node:fs";
rmSync("dist/bundle", { recursive: true, force: true });

const src = path.resolve("src");
/**
 * What the core imports on demand: the source, and its file under dist/bundle/. ES modules in
 * heavy/; yargs is CommonJS beside the core, compiled with a code cache as the core is, because
 * `ouzo --help` and usage errors are start-up latency too (an ES module has no code cache in
 * Node 20, and importing one starts node's ESM loader: together ~15 ms).
 */
const HEAVY = new Map([
  [path.join(src, "cli/commands/sync.ts"), "heavy/sync.mjs"],
  [path.join(src, "cli/commands/metadata.ts"), "heavy/metadata.mjs"],
  [path.join(src, "cli/commands/demo.ts"), "heavy/demo.mjs"],
  [path.join(src, "cli/commands/emerge.ts"), "heavy/emerge.mjs"],
  [path.join(src, "cli/commands/ebuild.ts"), "heavy/ebuild.mjs"],
  [path.join(src, "cli/commands/installed.ts"), "heavy/installed.mjs"],
  [path.join(src, "cli/commands/depends.ts"), "heavy/depends.mjs"],
  [path.join(src, "cli/commands/anise.ts"), "heavy/anise.cjs"],
  [path.join(src, "cli/commands/aniseAdmin.ts"), "heavy/aniseAdmin.mjs"],
  [path.join(src, "cli/commands/aniseQuery.ts"), "heavy/aniseQuery.mjs"],
  [path.join(src, "sync/KitSync.ts"), "heavy/KitSync.mjs"],
  [path.join(src, "core/lock.ts"), "heavy/lock.mjs"],
  ["yargs", "yargs.cjs"],
  ["ora", "heavy/ora.mjs"],
]);

/**
 * The core is compiled by bin/ouzo.js through vm.Script, to use V8's code cache (see there), and
 * code compiled that way cannot run import() in Node 20 without --experimental-vm-modules. So
 * the core's dynamic imports of heavy modules become calls of `__ouzoImport(file)`, a function
 * bin/ouzo.js passes in, which imports the heavy file from an ordinary ES module. Type-level
 * `typeof import(...)` is left alone. In tests and in src/ these are plain import() calls.
 */
const heavyImports = {
  name: "heavy-imports",
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      const contents = text.replace(/(?<!typeof\s)\bimport\(\s*"([^"]+)"\s*\)/g, (whole, spec) => {
        const key = spec.startsWith(".") ? path.resolve(path.dirname(args.path), spec).replace(/\.js$/, ".ts") : spec;
        const name = HEAVY.get(key);
        return name ? `__ouzoImport("./${name}")` : whole;
      });
      return { contents, loader: "ts" };
    });
  },
};

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  external: ["better-sqlite3", "zstd-napi"],
  logLevel: "warning",
};

// What this build is, for data kept between runs that only the same code may read back (the
// configuration snapshot): a digest of the sources and the package manifest.
function buildId() {
  const h = createHash("sha256");
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(`${p}\0`).update(fs.readFileSync(p)).update("\0");
    }
  };
  walk("src");
  h.update(fs.readFileSync("package.json"));
  return h.digest("hex").slice(0, 16);
}
common.define = { __OUZO_BUILD__: JSON.stringify(buildId()) };

// yargs and ora are entries of their own: the core imports their default export.
const reexport = {
  name: "reexport",
  setup(b) {
    b.onResolve({ filter: /^reexport:/ }, (args) => ({ path: args.path.slice("reexport:".length), namespace: "reexport" }));
    b.onLoad({ filter: /.*/, namespace: "reexport" }, (args) => ({ contents: `export { default } from "${args.path}";`, resolveDir: process.cwd(), loader: "js" }));
  },
};
// The CommonJS files bin/ouzo.js compiles with vm.Script and a code cache, in dist/bundle/, with
// import.meta.url from their file name.
const commonJs = {
  ...common,
  format: "cjs",
  outdir: "dist/bundle",
  outExtension: { ".js": ".cjs" },
  define: { ...common.define, "import.meta.url": "__ouzoModuleUrl" },
  banner: { js: "const __ouzoModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
};
/**
 * In CommonJS output esbuild wraps each `import * as fs from "node:fs"` in a copy of the module's
 * properties (its __toESM helper), one copy per importing module: in the anise file that was ~90
 * copies of node:fs and node:path, ~9,000 property definitions, ~8 ms of the start of an install.
 * The copy is a read-only view of the module, the same for every importer: here each module's is
 * made once. esbuild's helper text changes seldom; when it does, the build says so.
 */
function shareInterop(file) {
  const text = fs.readFileSync(file, "utf8");
  const helper = "var __toESM = (mod, isNodeMode, target) =>";
  if (!text.includes(helper)) {
    if (text.includes("__toESM(")) throw new Error(`${file}: esbuild's __toESM helper is not as scripts/bundle.js expects it (shareInterop)`);
    return;
  }
  const shared =
    "var __toESMViews = [new WeakMap(), new WeakMap()];\n" +
    "var __toESM = (mod, isNodeMode) => {\n" +
    "  if (mod == null || (typeof mod !== \"object\" && typeof mod !== \"function\")) return __toESMView(mod, isNodeMode);\n" +
    "  const views = __toESMViews[isNodeMode ? 1 : 0];\n" +
    "  let view = views.get(mod);\n" +
    "  if (!view) views.set(mod, (view = __toESMView(mod, isNodeMode)));\n" +
    "  return view;\n" +
    "};\n" +
    "var __toESMView = (mod, isNodeMode, target) =>";
  fs.writeFileSync(file, text.replace(helper, shared));
}

/**
 * undici's HTTP/2 client loads node:http2 when its module is evaluated (~9 ms at the start of an
 * install; the Agent's pool requires it), though it is used only with `allowH2`, which ouzo never
 * sets. The anise file gets, for that one importer, what undici itself falls back to when node
 * has no http2, and a connect that says why it cannot.
 */
const noHttp2 = {
  name: "no-http2-for-undici",
  setup(b) {
    b.onResolve({ filter: /^node:http2$/ }, (args) => (/undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/.test(args.importer) ? { path: "http2", namespace: "no-http2" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "no-http2" }, () => ({
      contents: "module.exports = { constants: {}, connect() { throw new Error('HTTP/2 is not in this build of ouzo (undici allowH2)'); } };",
      loader: "js",
    }));
  },
};

// the core: one file
await build({ ...commonJs, entryPoints: { ouzo: "src/cli/main.ts" }, plugins: [heavyImports] });
// yargs, beside the core (see HEAVY)
await build({ ...commonJs, entryPoints: { yargs: "reexport:yargs" }, plugins: [reexport, lazyStringWidth] });
// the anise commands, one CommonJS file with a code cache of its own (see HEAVY)
await build({ ...commonJs, entryPoints: { anise: "src/cli/commands/anise.ts" }, outdir: "dist/bundle/heavy", plugins: [heavyImports, lazyStringWidth, noHttp2] });
for (const f of ["dist/bundle/ouzo.cjs", "dist/bundle/yargs.cjs", "dist/bundle/heavy/anise.cjs"]) shareInterop(f);

await build({
  ...common,
  format: "esm",
  outExtension: { ".js": ".mjs" },
  banner: { js: "import { createRequire as __ouzoRequire } from 'node:module'; const require = __ouzoRequire(import.meta.url);" },
  entryPoints: Object.fromEntries(
    [...HEAVY]
      .filter(([, file]) => file.startsWith("heavy/") && file.endsWith(".mjs"))
      .map(([source, file]) => [path.basename(file, ".mjs"), source.startsWith("/") ? source : `reexport:${source}`]),
  ),
  outdir: "dist/bundle/heavy",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  plugins: [reexport, lazyStringWidth],
});

// V8's code cache for the core, made by running a few commands on the demo configuration, so that
// the first run after an install starts as fast as the later ones.
await import("./warm-code-cache.js");
