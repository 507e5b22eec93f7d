#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// main() resolves once the command has finished all its work and written its output (standard
// streams are synchronous on Linux), so ouzo exits at once: otherwise node waits for V8's
// background compilations of the command's hot code, which nobody will run (~5-10 ms).
import("../dist/bundle/ouzo.mjs").then((m) => m.main(process.argv.slice(2))).then(() => process.exit());
