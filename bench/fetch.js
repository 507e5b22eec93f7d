// Distfile fetching (issue #12, build stage): 20 distfiles of 1-50 MB (354 MB in all, random bytes)
// served over HTTP from 127.0.0.1 by another process, fetched into an empty DISTDIR and verified
// against their Manifest entries (BLAKE2B + SHA512, computed while the bytes arrive), 4 at a time
// and one at a time. Beside them, what the same bytes cost without a network: reading
// the files once, copying them, and reading them once while computing both hashes (the floor for
// "download and verify": the network adds a write, and loopback transfer, on top).
import { spawn } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fetchDistfiles } from "../dist/build/fetch.js";
import { figure, median } from "./util.js";

const SIZES_MB = [1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 25, 28, 32, 36, 42, 50];
const MB = 1 << 20;
const TOTAL_MB = SIZES_MB.reduce((a, b) => a + b, 0);

const root = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-bench-fetch-"));
const src = path.join(root, "mirror");
fs.mkdirSync(src);

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

/** A time and the throughput it means for the whole set. */
function timed(name, s) {
  figure(name, s.toFixed(2), "s");
  figure("  = throughput", (TOTAL_MB / s).toFixed(0), "MB/s");
}

/** The distfiles, written once: random bytes, and their Manifest entries computed as they are written. */
function writeDistfiles() {
  const files = [];
  const buf = Buffer.allocUnsafe(MB);
  SIZES_MB.forEach((mb, i) => {
    const name = `pkg${i}-1.${i}.tar.xz`;
    const fd = fs.openSync(path.join(src, name), "w");
    const b2 = createHash("blake2b512");
    const s5 = createHash("sha512");
    for (let k = 0; k < mb; k++) {
      randomFillSync(buf);
      fs.writeSync(fd, buf);
      b2.update(buf);
      s5.update(buf);
    }
    fs.closeSync(fd);
    files.push({ name, manifest: { size: String(mb * MB), hashes: { blake2b: b2.digest("hex"), sha512: s5.digest("hex") } } });
  });
  return files;
}

/** A static file server with Range support in a child process, so it does not share the fetcher's event loop. */
function startServer() {
  const script = `
const http = require("node:http"), fs = require("node:fs"), path = require("node:path");
const dir = ${JSON.stringify(src)};
const server = http.createServer((req, res) => {
  const file = path.join(dir, decodeURIComponent(new URL(req.url, "http://x").pathname));
  let st;
  try { st = fs.statSync(file); } catch { res.writeHead(404).end(); return; }
  const m = /^bytes=(\\d+)-$/.exec(req.headers.range || "");
  const start = m ? Number(m[1]) : 0;
  res.writeHead(m ? 206 : 200, { "content-length": st.size - start, ...(m ? { "content-range": "bytes " + start + "-" + (st.size - 1) + "/" + st.size } : {}) });
  fs.createReadStream(file, { start, highWaterMark: 1 << 20 }).pipe(res);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
    child.stdout.once("data", (d) => resolve({ child, url: `http://127.0.0.1:${String(d).trim()}` }));
  });
}

function dropFrom(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
}

async function main() {
  let t0 = process.hrtime.bigint();
  const files = writeDistfiles();
  console.log(`${files.length} distfiles, ${TOTAL_MB} MB, written and hashed in ${seconds(t0).toFixed(1)} s (under ${root})`);
  const { child, url } = await startServer();
  const distdir = path.join(root, "distfiles");
  const requests = files.map((f) => ({ file: f.name, uris: [`${url}/${f.name}`], manifest: f.manifest }));
  try {
    const fetchRun = async (jobs) => {
      dropFrom(distdir);
      const t = process.hrtime.bigint();
      const results = await fetchDistfiles(requests, { distdir, jobs, connectionsPerHost: jobs });
      const s = seconds(t);
      if (results.some((r) => r.status !== "fetched")) throw new Error(`not all fetched: ${results.map((r) => r.status).join(" ")}`);
      return s;
    };
    // alternated, medians of 3: this shared VM's speed drifts from minute to minute
    const pars = [];
    const seqs = [];
    for (let i = 0; i < 3; i++) {
      pars.push(await fetchRun(4));
      seqs.push(await fetchRun(1));
    }
    const par = median(pars);
    timed(`fetch + verify, ${files.length} files, 4 at a time (median of 3)`, par);
    timed(`fetch + verify, ${files.length} files, 1 at a time (median of 3)`, median(seqs));
    t0 = process.hrtime.bigint();
    const again = await fetchDistfiles(requests, { distdir });
    if (again.some((r) => r.status !== "present")) throw new Error("not all present");
    figure("fetch again: all present (digests remembered)", (seconds(t0) * 1000).toFixed(1), "ms");

    // the same bytes without a network
    const readOnce = () => {
      const buf = Buffer.allocUnsafe(MB);
      const t = process.hrtime.bigint();
      for (const f of files) {
        const fd = fs.openSync(path.join(src, f.name), "r");
        while (fs.readSync(fd, buf, 0, MB, null));
        fs.closeSync(fd);
      }
      return seconds(t);
    };
    const read = median([readOnce(), readOnce(), readOnce()]);
    timed("disk: read the files once (page cache warm)", read);
    const copyDir = path.join(root, "copy");
    const copies = [];
    for (let i = 0; i < 2; i++) {
      dropFrom(copyDir);
      const t = process.hrtime.bigint();
      for (const f of files) fs.copyFileSync(path.join(src, f.name), path.join(copyDir, f.name));
      copies.push(seconds(t));
    }
    fs.rmSync(copyDir, { recursive: true, force: true });
    const copy = Math.min(...copies);
    timed("disk: copy the files (copyFile)", copy);
    const hashOnce = () => {
      const buf = Buffer.allocUnsafe(MB);
      const t = process.hrtime.bigint();
      for (const f of files) {
        const b2 = createHash("blake2b512");
        const s5 = createHash("sha512");
        const fd = fs.openSync(path.join(src, f.name), "r");
        for (let n; (n = fs.readSync(fd, buf, 0, MB, null)); ) {
          b2.update(buf.subarray(0, n));
          s5.update(buf.subarray(0, n));
        }
        fs.closeSync(fd);
      }
      return seconds(t);
    };
    const hash = median([hashOnce(), hashOnce()]);
    timed("read once + BLAKE2B + SHA512 (the verification floor)", hash);
    console.log(`fetch with verification takes ${(par / hash).toFixed(2)}x the time of hashing the files from the page cache, ${(par / copy).toFixed(2)}x a plain copy.`);
  } finally {
    child.removeAllListeners("exit");
    child.kill();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
