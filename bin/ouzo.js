#!/usr/bin/env node
// Entry point. The CLI's core is dist/bundle/ouzo.cjs (built by `npm ci` through the prepare
// script; scripts/bundle.js says what is in it). It is compiled here with vm.Script so that V8
// can reuse the machine code of an earlier run: dist/bundle/ouzo.cjs.cache, made at build time
// and remade here when missing or rejected (a different node). Compiling the core and the
// functions a command calls costs ~15 ms of each start otherwise. V8 checks that the cache
// belongs to this source, node and flags; a stale one is ignored, never trusted.
//
// This file is CommonJS (bin/package.json says so): started as an ES module, it costs node's ESM
// loader and the ES facades of the built-in modules it imports, 6-11 ms before ouzo's own code
// runs. The ESM loader now starts only when a command imports a heavy part.
"use strict";
const fs = require("node:fs");
const { createRequire } = require("node:module");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const vm = require("node:vm");

const BUNDLE = path.join(__dirname, "..", "dist", "bundle");
const CORE = path.join(BUNDLE, "ouzo.cjs");
const CACHE = `${CORE}.cache`;

/** The core's exports, and what to remember of its compilation. */
function loadCore() {
  const source = fs.readFileSync(CORE, "utf8");
  let cachedData;
  try {
    cachedData = fs.readFileSync(CACHE);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __ouzoImport) {${source}\n})`, { filename: CORE, cachedData });
  const module = { exports: {} };
  // heavy parts are ES modules, imported from here (code compiled by vm.Script cannot import)
  const importHeavy = (file) => import(pathToFileURL(path.join(BUNDLE, file)).href);
  script.runInThisContext()(module.exports, createRequire(CORE), module, CORE, BUNDLE, importHeavy);
  return { main: module.exports.main, script, cacheUsed: cachedData !== undefined && !script.cachedDataRejected };
}

/** Write the code compiled so far as the cache (temp file and rename; best effort). */
function saveCodeCache(script) {
  const tmp = `${CACHE}.${process.pid}.tmp`;
  try {
    fs.accessSync(BUNDLE, fs.constants.W_OK); // a read-only install: not worth making
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, CACHE);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

module.exports = { loadCore, saveCodeCache };

if (require.main === module) {
  const { main, script, cacheUsed } = loadCore();
  main(process.argv.slice(2)).then(() => {
    if (!cacheUsed) saveCodeCache(script);
    // main() resolves once the command has finished its work and written its output (standard
    // streams are synchronous on Linux), so ouzo exits at once: otherwise node waits for V8's
    // background compilations of the command's hot code, which nobody will run (~5-10 ms).
    process.exit();
  });
}
