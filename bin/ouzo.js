#!/usr/bin/env node
// Entry point. The CLI's core is dist/bundle/ouzo.cjs (built by `npm ci` through the prepare
// script; scripts/bundle.js says what is in it). It is compiled here with vm.Script so that V8
// can reuse the machine code of an earlier run: dist/bundle/ouzo.cjs.cache, made at build time
// and remade here when missing or rejected (a different node). Compiling the core and the
// functions a command calls costs ~15 ms of each start otherwise. V8 checks that the cache
// belongs to this source, node and flags; a stale one is ignored, never trusted.
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as vm from "node:vm";

const BUNDLE = new URL("../dist/bundle/", import.meta.url);
const CORE = fileURLToPath(new URL("ouzo.cjs", BUNDLE));
const CACHE = `${CORE}.cache`;

/** The core's exports, and what to remember of its compilation. */
export function loadCore() {
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
  const importHeavy = (file) => import(new URL(file, BUNDLE).href);
  script.runInThisContext()(module.exports, createRequire(CORE), module, CORE, path.dirname(CORE), importHeavy);
  return { main: module.exports.main, script, cacheUsed: cachedData !== undefined && !script.cachedDataRejected };
}

/** Write the code compiled so far as the cache (temp file and rename; best effort). */
export function saveCodeCache(script) {
  const tmp = `${CACHE}.${process.pid}.tmp`;
  try {
    fs.accessSync(path.dirname(CACHE), fs.constants.W_OK); // a read-only install: not worth making
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, CACHE);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

function isMain() {
  try {
    return fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  const { main, script, cacheUsed } = loadCore();
  await main(process.argv.slice(2));
  if (!cacheUsed) saveCodeCache(script);
  // main() resolves once the command has finished its work and written its output (standard
  // streams are synchronous on Linux), so ouzo exits at once: otherwise node waits for V8's
  // background compilations of the command's hot code, which nobody will run (~5-10 ms).
  process.exit();
}
