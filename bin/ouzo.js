#!/usr/bin/env node
// Entry point. The CLI's core is dist/bundle/ouzo.cjs (built by `npm ci` through the prepare
// script; scripts/bundle.js says what is in it). It is compiled here with vm.Script so that V8
// can reuse the machine code of an earlier run: dist/bundle/ouzo.cjs.cache, made at build time
// and remade here when missing or rejected (a different node). Compiling the core and the
// functions a command calls costs ~15 ms of each start otherwise. V8 checks that the cache
// belongs to this source, node and flags; a stale one is ignored, never trusted. yargs
// (dist/bundle/yargs.cjs, for help and usage errors) and the installing anise commands
// (dist/bundle/heavy/anise.cjs) are loaded the same way when needed.
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

// bin/ouzo (the command) moved NODE_EXTRA_CA_CERTS aside so that node would not load the
// certificates at start: put it back for child processes, and tell downloads to load them.
if (process.env.OUZO_NODE_EXTRA_CA_CERTS !== undefined) {
  globalThis[Symbol.for("ouzo.deferredExtraCaCerts")] = process.env.OUZO_NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = process.env.OUZO_NODE_EXTRA_CA_CERTS;
  delete process.env.OUZO_NODE_EXTRA_CA_CERTS;
}

const BUNDLE = path.join(__dirname, "..", "dist", "bundle");
const CORE = path.join(BUNDLE, "ouzo.cjs");

/** Every file compiled here: its script, and whether V8 took its cache. */
const compiled = [];

/** Compile and run a CommonJS file of the bundle with its code cache; its exports. */
function requireCached(file, extra = {}) {
  const source = fs.readFileSync(file, "utf8");
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  const names = ["exports", "require", "module", "__filename", "__dirname", ...Object.keys(extra)];
  const script = new vm.Script(`(function (${names.join(", ")}) {${source}\n})`, { filename: file, cachedData });
  const entry = { file, script, cacheUsed: cachedData !== undefined && !script.cachedDataRejected };
  compiled.push(entry);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, path.dirname(file), ...Object.values(extra));
  return module.exports;
}

/** The CommonJS files of the bundle importHeavy has loaded: their exports. */
const cjsLoaded = new Map();

/**
 * The core's imports of what it loads on demand: CommonJS files through requireCached, ES
 * modules with import() (code compiled by vm.Script cannot import in Node 20).
 */
function importHeavy(file) {
  const full = path.join(BUNDLE, file);
  if (!file.endsWith(".cjs")) return import(pathToFileURL(full).href);
  // loaded once, as import() and require() load a module once (`ouzo emerge` asks for the anise
  // commands at every merge)
  let loaded = cjsLoaded.get(full);
  if (!loaded) cjsLoaded.set(full, (loaded = Promise.resolve(requireCached(full, { __ouzoImport: importHeavy }))));
  return loaded;
}

/** The core's exports, and what to remember of its compilation. */
function loadCore() {
  const exports = requireCached(CORE, { __ouzoImport: importHeavy });
  const { script, cacheUsed } = compiled.find((c) => c.file === CORE);
  return { main: exports.main, script, cacheUsed };
}

/**
 * Write the code compiled so far as the caches (temp file and rename; best effort): of the files
 * whose cache was missing or rejected, or of every file compiled (`all`, at build time).
 */
function saveCodeCaches(all = false) {
  for (const { file, script, cacheUsed } of compiled) {
    if (cacheUsed && !all) continue;
    const cache = `${file}.cache`;
    const tmp = `${cache}.${process.pid}.tmp`;
    try {
      fs.accessSync(path.dirname(file), fs.constants.W_OK); // a read-only install: not worth making
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cache);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }
}

module.exports = { loadCore, saveCodeCaches, importHeavy };

if (require.main === module) {
  const { main } = loadCore();
  main(process.argv.slice(2)).then(() => {
    saveCodeCaches();
    // main() resolves once the command has finished its work, so ouzo exits at once: otherwise
    // node waits for V8's background compilations of the command's hot code, which nobody will
    // run (~5-10 ms). Files and terminals are written synchronously, but a pipe whose reader is
    // slower than ouzo (a 2 MB --json plan) still holds output: exit once it has drained.
    const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
    if (!pending.length) process.exit();
    let left = pending.length;
    for (const s of pending) s.once("drain", () => --left === 0 && process.exit());
  });
}
