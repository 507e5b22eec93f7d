// kill -9 of a merge at random points (build spec §10.8): a child process merges (a fresh install,
// and an upgrade that replaces, ._cfg's and drops files) or unmerges (§11), and prints one line per event; the test
// kills it right after the Nth line, N drawn at random over the whole run, then recovers. After
// the recovery ROOT must be exactly the state before the merge or exactly the state after an
// uninterrupted one — every file old or new, the vdb holding one entry, nothing staged or
// half-written left — and a second recovery must find nothing to do. Some recoveries are killed
// too, and recovered again.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { mergePackage } from "../src/merge/merge.js";
import { recoverInterrupted, type RecoveryReport } from "../src/merge/recover.js";
import type { MergeHooks } from "../src/merge/transaction.js";
import { readInstalled } from "../src/vdb/installed.js";
import { tmpdir } from "./helpers.js";
import { T0, writeImage, type Spec } from "./mergeFixture.js";

const CHILD = fileURLToPath(new URL("./mergeCrashChild.mjs", import.meta.url));
const FEATURES = ["protect-owned", "config-protect-if-modified", "unmerge-orphans"];
const UPGRADE_RUNS = Number(process.env.OUZO_CRASH_UPGRADE_RUNS ?? 36);
const FRESH_RUNS = Number(process.env.OUZO_CRASH_FRESH_RUNS ?? 16);
const UNMERGE_RUNS = Number(process.env.OUZO_CRASH_UNMERGE_RUNS ?? 10);
/** Stepped kills after each of the first and the last this many lines of the upgrade and of the unmerge. */
const HEAD_SWEEP = 3;
const TAIL_SWEEP = 12;
/** Of the upgrade runs, every this many has its recovery killed as well. */
const KILL_RECOVERY_EVERY = 4;
const SEED = Number(process.env.OUZO_CRASH_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small seeded generator, so a failing run can be repeated with OUZO_CRASH_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


function image(version: 1 | 2): Record<string, Spec> {
  const files: Record<string, Spec> = {
    "usr/bin/foo": { text: `#!/bin/sh\necho foo ${version}\n`, mode: 0o755 },
    "usr/bin/foo-hard": { hardlink: "usr/bin/foo" },
    "usr/bin/foo-link": { link: "foo" },
    "usr/share/foo/same.txt": { text: "the same in both versions\n", mtime: version === 1 ? T0 : T0 + 100 },
    "etc/foo/foo.conf": `conf v${version}\n`,
    "etc/foo/plain.conf": `plain v${version}\n`,
  };
  for (let i = 0; i < 30; i++) files[`usr/lib/foo/mod${String(i).padStart(2, "0")}.so`] = `v${version} module ${i}\n`.repeat(50);
  for (let i = 0; i < 10; i++) files[`usr/share/foo/data/${i}.txt`] = `v${version} data ${i}\n`;
  if (version === 1) {
    files["usr/share/foo/dropped.txt"] = "only in 1\n";
    files["usr/share/foo-olddir/x"] = "only in 1\n";
  } else {
    files["usr/share/foo/newdir/n.txt"] = "only in 2\n";
    files["usr/share/foo/data-link"] = { link: "data/0.txt" };
  }
  return files;
}


function buildDir(base: string, pf: string): { imageDir: string; buildInfoDir: string } {
  const imageDir = path.join(base, "image");
  writeImage(imageDir, image(pf === "foo-1.0" ? 1 : 2));
  const buildInfoDir = path.join(base, "build-info");
  fs.mkdirSync(buildInfoDir, { recursive: true });
  for (const [k, v] of Object.entries({ CATEGORY: "app-misc", PF: pf, SLOT: "0", EAPI: "8", USE: "", repository: "core-kit" })) fs.writeFileSync(path.join(buildInfoDir, k), `${v}\n`);
  return { imageDir, buildInfoDir };
}

/** cp -a: hard links, modes, mtimes (of symlinks too) kept, as the ROOT had them. */
function copyTree(from: string, to: string): void {
  const r = spawnSync("cp", ["-a", from, to], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
}

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

/** What is under a directory: type, mode, content hash, link text, mtime, and which files share an inode. */
function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (d: string, rel: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (skip(r)) continue;
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(p, r);
      } else if (st.isSymbolicLink()) out[r] = `sym ${fs.readlinkSync(p)} ${Math.floor(st.mtimeMs / 1000)}`;
      else if (st.isFile()) {
        const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
        if (st.nlink > 1 && !first) inodes.set(st.ino, r);
        // the package manager's state (vdb, confmem) is written at merge time: its mtimes say when, not what
        const mtime = r.startsWith("var/") ? "" : ` ${Math.floor(st.mtimeMs / 1000)}`;
        out[r] = `obj ${mode} ${md5(fs.readFileSync(p))}${mtime}${first ? ` =${first}` : ""}`;
      } else out[r] = `other ${mode}`;
    }
  };
  walk(dir, "");
  return out;
}

/** ROOT without what a merge may leave that is not the system's state: lock files, the burnt COUNTER, the (empty) journal directory, the hooks' log. */
const rootState = (root: string) => snapshot(root, (r) => r.includes("portage_lockfile") || r === "var/cache/edb/counter" || r === "var/lib/ouzo" || r === "hooks.log");

interface ChildRun {
  lines: string[];
  killed: boolean;
}

/**
 * Run the child; with `killAfter`, SIGKILL it as soon as its Nth line has arrived. Free-running,
 * the child goes on meanwhile, so the kill lands somewhere inside an operation; `stepped`, it
 * waits after each line for a go-ahead, so the kill lands exactly after the Nth event.
 */
function runChild(args: object, killAfter?: number, stepped = false): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, OUZO_CRASH_STEP: stepped ? "1" : "0" } });
    child.stdin.on("error", () => {}); // writes to a child just killed
    const lines: string[] = [];
    let partial = "";
    let stderr = "";
    let killed = false;
    child.stdout.on("data", (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (killAfter !== undefined && lines.length >= killAfter && !killed) killed = child.kill("SIGKILL");
        else if (stepped && !killed) child.stdin.write("g");
      }
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (!killed && code !== 0) reject(new Error(`the merge child failed (${code ?? signal}): ${stderr}`));
      else resolve({ lines, killed: killed && signal === "SIGKILL" });
    });
  });
}

function recoveryHooks(root: string): MergeHooks {
  const log = (phase: string) => async (old: { cpv: string }, by: string) => fs.appendFileSync(path.join(root, "hooks.log"), `${phase} ${old.cpv} ${by}\n`);
  return { prerm: log("prerm"), postrm: log("postrm") };
}

type Kind = "fresh" | "upgrade" | "unmerge";

interface Scenario {
  kind: Kind;
  template: string;
  /** ROOT before, and after an uninterrupted run. */
  old: Record<string, string>;
  ref: Record<string, string>;
  pristineImage: Record<string, string>;
  /** Lines an uninterrupted run prints, and with the new directories moved whole. */
  lines: number;
  wholeLines: number;
}

const FOO1 = "app-misc/foo-1.0";
const FOO2 = "app-misc/foo-2.0";

async function makeScenario(kind: Kind): Promise<Scenario> {
  const base = tmpdir(`ouzo-crash-${kind}-`);
  const template = path.join(base, "template");
  // a ROOT as a stage has it: the directories of the vdb, the COUNTER and ouzo's journal exist
  for (const d of ["var/db/pkg", "var/cache/edb", "var/lib"]) fs.mkdirSync(path.join(template, d), { recursive: true });
  fs.mkdirSync(path.join(template, "etc"), { recursive: true });
  fs.writeFileSync(path.join(template, "etc/hostname"), "box\n");
  if (kind !== "fresh") {
    const b = buildDir(path.join(base, "build-1"), "foo-1.0");
    await mergePackage({ root: template, category: "app-misc", pf: "foo-1.0", slot: "0", ...b, configProtect: ["/etc"], configProtectMask: [], features: new Set(FEATURES), replacing: [] });
    fs.writeFileSync(path.join(template, "etc/foo/foo.conf"), "conf v1, edited by the admin\n");
  }
  const pristine = path.join(base, "pristine");
  buildDir(pristine, "foo-2.0");
  // the uninterrupted run: the state a recovery that rolls forward must reach, and the number of lines
  const refRoot = path.join(base, "ref-root");
  copyTree(template, refRoot);
  const b = buildDir(path.join(base, "ref-build"), "foo-2.0");
  const run = await runChild(childArgs(kind, refRoot, b));
  expect(run.lines.at(-1)).toBe("done");
  const ref = rootState(refRoot);
  // moving the new directories whole ends in the same state, in fewer steps
  const wholeRoot = path.join(base, "whole-root");
  copyTree(template, wholeRoot);
  const wholeRun = await runChild(childArgs(kind, wholeRoot, buildDir(path.join(base, "whole-build"), "foo-2.0"), false, kind !== "unmerge"));
  expect(wholeRun.lines.at(-1)).toBe("done");
  expect(rootState(wholeRoot)).toEqual(ref);
  return { kind, template, old: rootState(template), ref, pristineImage: snapshot(path.join(pristine, "image")), lines: run.lines.length, wholeLines: wholeRun.lines.length };
}

/** Every directory of an image, as MergeRequest.wholeDirs names them: a walked image holds exactly its entries. */
function imageDirs(image: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      out.push(`${rel}/${e.name}`);
      walk(path.join(d, e.name), `${rel}/${e.name}`);
    }
  };
  walk(image, "");
  return out;
}

/** The child's request; `whole`: the image's new directories are moved into ROOT whole (MergeRequest.wholeDirs). */
function childArgs(kind: Kind, root: string, b: { imageDir: string; buildInfoDir: string }, recover = false, whole = false) {
  const mode = recover ? { mode: "recover" } : kind === "unmerge" ? { mode: "unmerge", cpv: FOO1 } : {};
  return { root, category: "app-misc", pf: "foo-2.0", pn: "foo", slot: "0", ...b, configProtect: ["/etc"], configProtectMask: [], features: FEATURES, ...mode, ...(whole ? { wholeDirs: imageDirs(b.imageDir) } : {}) };
}

interface Outcome {
  state: string;
  killedAt: number;
  progress: number;
}

async function crashOnce(s: Scenario, runDir: string, killAfter: number, stepped: boolean, killRecoveryAfter?: number, whole = false): Promise<Outcome> {
  const where = `(scenario ${s.kind}${whole ? " with whole directories" : ""}, kill after line ${killAfter}${stepped ? " stepped" : ""}${killRecoveryAfter ? `, recovery killed after line ${killRecoveryAfter}` : ""}, OUZO_CRASH_SEED=${SEED})`;
  const root = path.join(runDir, "root");
  copyTree(s.template, root);
  const b = buildDir(path.join(runDir, "build"), "foo-2.0");
  const run = await runChild(childArgs(s.kind, root, b, false, whole), killAfter, stepped);
  if (killRecoveryAfter !== undefined) await runChild(childArgs(s.kind, root, b, true), killRecoveryAfter);
  const report: RecoveryReport = await recoverInterrupted(root, undefined, { hooks: recoveryHooks(root) });
  expect(report.strayMerging, where).toEqual([]);
  expect(report.transactions.length, where).toBeLessThanOrEqual(1);
  const tx = report.transactions[0];
  // a second recovery has nothing left to do
  expect(await recoverInterrupted(root), where).toEqual({ transactions: [], strayMerging: [] });
  const journal = path.join(root, "var/lib/ouzo/journal");
  expect(fs.existsSync(journal) ? fs.readdirSync(journal) : [], where).toEqual([]);

  const state = rootState(root);
  const installed = readInstalled(root).map((p) => p.cpv);
  const hooksLog = fs.existsSync(path.join(root, "hooks.log")) ? fs.readFileSync(path.join(root, "hooks.log"), "utf8") : "";
  const before = s.kind === "fresh" ? [] : [FOO1];
  const after = s.kind === "unmerge" ? [] : [FOO2];
  const by = s.kind === "unmerge" ? "" : "2.0";
  // the removed instance's phases ran (a phase cut short is run again, so at least once), prerm first
  const phasesRan = new RegExp(`^(prerm ${FOO1} ${by}\\n)+(postrm ${FOO1} ${by}\\n)+$`);
  let finished: boolean;
  if (JSON.stringify(installed) === JSON.stringify(after)) {
    finished = true;
    expect(state, where).toEqual(s.ref);
    if (s.kind !== "fresh") expect(hooksLog, where).toMatch(phasesRan);
  } else {
    finished = false;
    expect(installed, where).toEqual(before);
    expect(state, where).toEqual(s.old);
    // an unmerge is rolled back until its pkg_prerm is recorded (it may have run); a merge until every file is staged
    expect(hooksLog, where).toMatch(s.kind === "unmerge" ? new RegExp(`^(prerm ${FOO1} \\n)?$`) : /^$/);
    // rolled back: the image has every file again, so the build need not be repeated
    if (s.kind !== "unmerge") expect(snapshot(b.imageDir), where).toEqual(s.pristineImage);
  }
  const label = `${tx ? `${tx.action} at ${tx.state}` : finished ? "finished before the kill" : "killed before the journal"}${whole ? " (whole directories)" : ""}`;
  return { state: label, killedAt: killAfter, progress: run.lines.length };
}

describe("kill -9 during a merge or an unmerge, then recovery", () => {
  it(`leaves every file old or new and the vdb consistent after ${FRESH_RUNS + UPGRADE_RUNS + UNMERGE_RUNS} kills at random points and ${2 * (HEAD_SWEEP + TAIL_SWEEP + 1)} at the first and last steps (seed ${SEED})`, async () => {
    const random = rng(SEED);
    const outcomes: (Outcome & { scenario: string })[] = [];
    for (const [kind, runs] of [["fresh", FRESH_RUNS], ["upgrade", UPGRADE_RUNS], ["unmerge", UNMERGE_RUNS]] as const) {
      const scenario = await makeScenario(kind);
      for (let i = 0; i < runs; i++) {
        // every other pair of runs moves the new directories whole, stepped and free-running
        const whole = kind !== "unmerge" && Math.floor(i / 2) % 2 === 1;
        const killAfter = 1 + Math.floor(random() * (whole ? scenario.wholeLines : scenario.lines));
        const killRecovery = kind !== "fresh" && i % KILL_RECOVERY_EVERY === KILL_RECOVERY_EVERY - 1 ? 1 + Math.floor(random() * 40) : undefined;
        const o = await crashOnce(scenario, tmpdir("ouzo-crash-run-"), killAfter, i % 2 === 0, killRecovery, whole);
        outcomes.push({ ...o, scenario: kind });
      }
      if (kind !== "fresh") {
        // the steps after the last file is in place are short (old prerm, removal, postrm, confmem,
        // vdb commit), and so is an unmerge's start: a random draw rarely lands there, so each of
        // those lines gets a stepped kill
        for (const [label, from, to] of [["first steps", 1, HEAD_SWEEP], ["last steps", scenario.lines - TAIL_SWEEP, scenario.lines]] as const) {
          for (let n = Math.max(1, from); n <= to; n++) {
            const o = await crashOnce(scenario, tmpdir("ouzo-crash-run-"), n, true);
            outcomes.push({ ...o, scenario: `${kind} (${label})` });
          }
        }
      }
    }
    const histogram: Record<string, number> = {};
    for (const o of outcomes) histogram[`${o.scenario}: ${o.state}`] = (histogram[`${o.scenario}: ${o.state}`] ?? 0) + 1;
    const kills = outcomes.map((o) => o.killedAt);
    console.log(`kill -9 runs: ${outcomes.length} (seed ${SEED}); killed after line ${Math.min(...kills)}..${Math.max(...kills)}; recovered states:\n${Object.entries(histogram).sort().map(([k, v]) => `  ${k}: ${v}`).join("\n")}`);
    // the kills landed on both sides of the point of no return
    expect(outcomes.some((o) => o.state.startsWith("rolled-back")), JSON.stringify(histogram)).toBe(true);
    expect(outcomes.some((o) => o.state.startsWith("rolled-forward")), JSON.stringify(histogram)).toBe(true);
    expect(outcomes.some((o) => o.state.startsWith("rolled-back") && o.state.endsWith("(whole directories)")), JSON.stringify(histogram)).toBe(true);
  });
});
