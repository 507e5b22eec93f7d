// Bundle the CLI: a few files load far faster than a tree of modules (start-up latency is a
// target), and splitting keeps what `ouzo --version` or `--help` parse small. Native addons stay
// external.
//
// yargs and its cliui import `string-width`, whose module body builds an Intl.Segmenter and
// Unicode tables (~40 ms here) although widths are only needed to lay out help text. The plugin
// below hands yargs a stub: for printable ASCII the display width is the length by definition;
// any other string loads the real `string-width` on first use, through esbuild's lazily
// initialised require of a bundled ES module.
import { build } from "esbuild";
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

await build({
  entryPoints: { ouzo: "src/cli/main.ts" },
  outdir: "dist/bundle",
  outExtension: { ".js": ".mjs" },
  // each command's code in its own chunk, loaded when that command runs
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["better-sqlite3", "zstd-napi"],
  banner: { js: "import { createRequire as __ouzoRequire } from 'node:module'; const require = __ouzoRequire(import.meta.url);" },
  plugins: [lazyStringWidth],
  logLevel: "warning",
});
void path;
