import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FileLock } from "../src/core/lock.js";
import { REPO_ROOT, tmpdir } from "./helpers.js";

/** Another process holding the lock until it is killed; resolves once it holds it. */
function holder(file: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `const { FileLock } = await import(${JSON.stringify(path.join(REPO_ROOT, "dist/core/lock.js"))});
const lock = new FileLock(${JSON.stringify(file)});
await lock.acquire();
process.stdout.write("held\\n");
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the holder exited with ${code}`)));
    child.stdout.once("data", () =>
      resolve({
        pid: child.pid!,
        kill: () =>
          new Promise((done) => {
            child.removeAllListeners("exit");
            child.once("exit", () => done());
            child.kill("SIGKILL");
          }),
      }),
    );
  });
}

/** A process taking and letting go of a Portage-style lock (deleted by each holder that lets go) `times` times; resolves with what it printed. */
function contender(file: string, times: number): Promise<{ code: number | null; out: string }> {
  const script = `const { withPortageLock } = await import(${JSON.stringify(path.join(REPO_ROOT, "dist/vdb/vdbLock.js"))});
let failed = 0;
for (let i = 0; i < ${times}; i++) {
  try { await withPortageLock(${JSON.stringify(file)}, () => {}); } catch (e) { failed++; console.log(e.message); }
}
console.log("failed " + failed);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

describe("FileLock", () => {
  it("changes hands among many processes without an error, though each holder deletes the file as it lets go", async () => {
    // a waiter can open the file while its holder deletes it and another recreates it: SQLite
    // then reports an I/O error, which is the lock changing hands, not a failure
    const file = path.join(tmpdir(), "var", "db", ".pkg.portage_lockfile");
    const runs = await Promise.all(Array.from({ length: 8 }, () => contender(file, 150)));
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe("failed 0");
    }
  });


  it("is refused while another process holds it, and taken at once when that process is killed", async () => {
    const file = path.join(tmpdir(), "state", "sync.lock");
    const other = await holder(file);
    const lock = new FileLock(file);
    expect(lock.tryAcquire()).toBe(false);
    let waitedFor: number | undefined;
    await expect(lock.acquire({ timeoutMs: 300, onWait: (pid) => (waitedFor = pid) })).rejects.toThrow(`locked by process ${other.pid} for more than 0.3 s`);
    expect(waitedFor).toBe(other.pid);
    // SIGKILL leaves the lock file and the pid file behind; the kernel has let go of the lock
    await other.kill();
    expect(fs.existsSync(file)).toBe(true);
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
  });

  it("excludes a second holder in the same process until the first lets go", async () => {
    const file = path.join(tmpdir(), "metadata.db.lock");
    const a = new FileLock(file);
    const b = new FileLock(file);
    await a.acquire();
    expect(b.tryAcquire()).toBe(false);
    const order: string[] = [];
    let startedWaiting!: () => void;
    const isWaiting = new Promise<void>((r) => (startedWaiting = r));
    const waiting = b.acquire({ onWait: () => startedWaiting() }).then(() => order.push("b"));
    await isWaiting;
    order.push("a releases");
    a.release();
    await waiting;
    expect(order).toEqual(["a releases", "b"]);
    expect(fs.readFileSync(`${file}.pid`, "utf8")).toBe(`${process.pid}\n`);
    b.release();
    expect(fs.existsSync(`${file}.pid`)).toBe(false);
  });

  it("takes over the pid file an older ouzo used as its lock", () => {
    const file = path.join(tmpdir(), "metadata.db.lock");
    fs.writeFileSync(file, "4242");
    const lock = new FileLock(file);
    expect(lock.tryAcquire()).toBe(true);
    expect(new FileLock(file).tryAcquire()).toBe(false);
    lock.release();
  });

  it("names the file when it cannot be opened", () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "not-a-dir"), "");
    const file = path.join(dir, "not-a-dir", "sync.lock");
    expect(() => new FileLock(file).tryAcquire()).toThrow(/cannot open the lock/);
  });
});
