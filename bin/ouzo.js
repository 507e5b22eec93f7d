#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import("../dist/bundle/ouzo.mjs").then((m) => m.main(process.argv.slice(2)));
