import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  collectViolations,
  describeViolation,
  failsBuild,
  parseProbe,
  parseSandboxD,
  prepareSandbox,
  probeSandbox,
  rulesFor,
  sandboxHelperPath,
  wrapCommand,
  type SandboxContext,
  type SandboxRules,
} from "../src/build/sandbox.js";
import { REPO_ROOT, tmpdir } from "./helpers.js";

beforeAll(() => {
  // the helper as `npm ci` builds it; a no-op when it is newer than its source
  execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts", "build-native.js")], { stdio: "inherit" });
});

/** Run argv to its end, stdout and stderr together (the build log sees them so). */
function run(argv: string[], opts: { cwd?: string } = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd ?? "/", stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), output }));
  });
}

function rules(over: Partial<SandboxRules>): SandboxRules {
  return { phase: "compile", landlock: "required", write: [], predict: [], network: "host", namespaces: [], scratch: [], expose: [], create: [], notes: [], ...over };
}

const DEFAULT_FEATURES = ["sandbox", "usersandbox", "network-sandbox", "ipc-sandbox", "pid-sandbox", "userpriv"];

function context(builddir: string, over: Partial<SandboxContext> = {}): SandboxContext {
  return { builddir, features: DEFAULT_FEATURES, restrict: [], properties: [], expose: [], sandboxD: { write: [], predict: [], read: [], deny: [] }, ...over };
}

function buildDir(): string {
  const dir = path.join(tmpdir(), "portage", "app-misc", "hello-1");
  for (const d of ["work", "temp", "image", "homedir"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  return dir;
}

describe("the sandbox helper", () => {
  it("probes the kernel: Landlock ABI, namespaces, reporting, as one line of key=value", () => {
    const raw = spawnSync(sandboxHelperPath(), ["--probe"], { encoding: "utf8" });
    expect(raw.status).toBe(0);
    expect(raw.stdout.trim()).toMatch(/^version=1 landlock=\d+( \w+=\S+)+$/);
    const s = probeSandbox();
    expect(s.built).toBe(true);
    expect(s.landlockAbi).toBeGreaterThanOrEqual(2);
    expect(s.namespaces).toMatchObject({ mount: true, net: true, ipc: true, uts: true, pid: true });
    expect(s.summary).toContain(`Landlock ABI ${s.landlockAbi}`);
    // what a kernel without Landlock makes of it
    const none = parseProbe("version=1 landlock=0 landlock_error=EOPNOTSUPP lsm=lockdown,capability,yama userns=1 mountns=1 netns=1 ipcns=1 utsns=1 pidns=1 audit=unavailable reporting=none root=1");
    expect(none.landlockAbi).toBe(0);
    expect(none.missing[0]).toBe("Landlock is not enabled: add landlock to the lsm= boot parameter; active LSMs: lockdown,capability,yama");
    expect(none.reporting).toBe("log-scan");
  });

  it("refuses a write outside the allowed trees and reports it naming the path", async () => {
    const allowed = tmpdir();
    const outside = tmpdir();
    fs.writeFileSync(path.join(outside, "existing"), "before\n");
    const r = rules({ write: [allowed], log: path.join(allowed, "ouzo-sandbox.log"), auditEnable: true });
    prepareSandbox(r);
    const script = `echo new > ${outside}/created; echo more >> ${outside}/existing; echo ok > ${allowed}/inside; true`;
    const { code, output } = await run(wrapCommand(r, ["bash", "-c", script]));
    expect(code).toBe(0);
    expect(output).toContain(`${outside}/created: Permission denied`);
    expect(fs.existsSync(path.join(outside, "created"))).toBe(false);
    expect(fs.readFileSync(path.join(outside, "existing"), "utf8")).toBe("before\n");
    expect(fs.readFileSync(path.join(allowed, "inside"), "utf8")).toBe("ok\n");

    const support = probeSandbox();
    const found = collectViolations(r, output, support);
    const lines = found.map(describeViolation);
    expect(lines.find((l) => l.includes(`${outside}/created`))).toBeDefined();
    expect(lines.find((l) => l.includes(`${outside}/existing`))).toBeDefined();
    if (support.reporting === "audit") {
      expect(lines).toContain(`ACCESS DENIED (sandbox): fs.make_reg ${outside}/created (by bash, pid ${found[0]!.pid})`);
      expect(found.find((v) => v.op === "fs.write_file")?.path).toBe(`${outside}/existing`);
      expect(found.every(failsBuild)).toBe(true);
    }
  });

  it("allows the build dir, /dev/null, a private /tmp, and a path an earlier addwrite saved", async () => {
    const builddir = buildDir();
    const added = tmpdir();
    const script = `set -e; echo a > ${builddir}/work/f; echo b > /dev/null; echo c > /tmp/ouzo-private; echo d > ${added}/f; echo done`;
    // (the shared /tmp here: a private one would hide the directory rather than refuse it)
    const before = rulesFor("compile", context(builddir, { privateTmp: false }));
    prepareSandbox(before);
    let r = await run(wrapCommand(before, ["bash", "-c", `echo d > ${added}/f`]), { cwd: builddir });
    expect(r.output).toContain(`${added}/f: Permission denied`);
    expect(r.code).not.toBe(0);

    // phase.sh saves SANDBOX_WRITE in ${T}/.ouzo_sandbox_write for the next phase
    fs.writeFileSync(path.join(builddir, "temp", ".ouzo_sandbox_write"), `${added}\n`);
    const after = rulesFor("compile", context(builddir));
    expect(after.write).toContain(added);
    prepareSandbox(after);
    r = await run(wrapCommand(after, ["bash", "-c", script]), { cwd: builddir });
    expect(r.output.trim()).toBe("done");
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(builddir, "work", "f"), "utf8")).toBe("a\n");
    expect(fs.readFileSync(path.join(added, "f"), "utf8")).toBe("d\n");
    // /tmp was the build's own
    expect(fs.existsSync("/tmp/ouzo-private")).toBe(false);
    expect(fs.readFileSync(path.join(builddir, ".ouzo-scratch", "tmp", "ouzo-private"), "utf8")).toBe("c\n");
    expect(collectViolations(after, r.output, probeSandbox())).toEqual([]);
  });

  it("cuts the network: no connection to the parent's 127.0.0.1, while loopback inside works", async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const connect = `exec 3<>/dev/tcp/127.0.0.1/${port} && echo CONNECTED`;
    const inside =
      "const n=require('net');const s=n.createServer(c=>c.end('pong'));" +
      "s.listen(0,'127.0.0.1',()=>n.connect(s.address().port,'127.0.0.1').on('data',d=>{console.log('loopback '+d);process.exit(0)}))";
    try {
      const host = await run(wrapCommand(rules({ network: "host" }), ["bash", "-c", connect]));
      expect(host.output).toContain("CONNECTED");
      const none = await run(wrapCommand(rules({ network: "none" }), ["bash", "-c", connect]));
      expect(none.output).not.toContain("CONNECTED");
      expect(none.code).not.toBe(0);
      const lo = await run(wrapCommand(rules({ network: "loopback", namespaces: ["uts", "ipc"] }), ["bash", "-c", `${connect}; ${JSON.stringify(process.execPath)} -e "${inside}"`]));
      expect(lo.output).not.toContain("CONNECTED");
      expect(lo.output).toContain("loopback pong");
      expect(lo.code).toBe(0);
    } finally {
      server.close();
    }
  });

  it("fails setup with one line and status 125, and a missing program with 127", () => {
    const bad = spawnSync(sandboxHelperPath(), ["--write", "relative/dir", "--", "true"], { encoding: "utf8" });
    expect(bad.status).toBe(125);
    expect(bad.stderr).toBe("ouzo-sandbox: --write relative/dir: the path must be absolute\n");
    const missing = spawnSync(sandboxHelperPath(), ["--", "/nonexistent/program"], { encoding: "utf8" });
    expect(missing.status).toBe(127);
    expect(missing.stderr).toBe("ouzo-sandbox: cannot run /nonexistent/program: No such file or directory\n");
  });
});

describe("the rules of each phase", () => {
  const builddir = "/var/tmp/portage/app-misc/hello-1";
  const T = `${builddir}/temp`;

  it("gives pretend, info and nofetch a read-only view and the host network", () => {
    for (const phase of ["pretend", "info", "nofetch"]) {
      const r = rulesFor(phase, context(builddir));
      expect(r).toMatchObject({ landlock: "required", write: [T], network: "host", scratch: [] });
      expect(r.namespaces).toEqual(["mount", "pid"]);
    }
    expect(rulesFor("setup", context(builddir))).toMatchObject({ landlock: "off", network: "host" });
    expect(rulesFor("postinst", context(builddir)).namespaces).toEqual([]);
    expect(rulesFor("postinst", context(builddir, { root: "/mnt/stage", eroot: "/mnt/stage" }))).toMatchObject({ landlock: "required", write: ["/mnt/stage", builddir] });
  });

  it("sandboxes src phases with loopback only, except live unpack, test_network tests and RESTRICT=network-sandbox", () => {
    const compile = rulesFor("compile", context(builddir));
    expect(compile).toMatchObject({ landlock: "required", write: [builddir], network: "loopback", log: `${T}/ouzo-sandbox.log` });
    expect(compile.namespaces).toEqual(["mount", "ipc", "uts", "pid"]);
    expect(compile.scratch.map((s) => s.path)).toEqual(expect.arrayContaining(["/tmp", "/var/tmp"]));
    const live = rulesFor("unpack", context(builddir, { properties: ["live"], distdir: "/var/cache/distfiles" }));
    expect(live.network).toBe("host");
    expect(live.write).toContain("/var/cache/distfiles/git3-src");
    expect(rulesFor("test", context(builddir, { properties: ["test_network"] })).network).toBe("host");
    expect(rulesFor("test", context(builddir)).predict).toContain("/");
    expect(rulesFor("install", context(builddir, { restrict: ["network-sandbox"] })).network).toBe("host");
    expect(rulesFor("compile", context(builddir, { features: [...DEFAULT_FEATURES, "distcc"] })).network).toBe("host");
  });

  it("turns the parts off with FEATURES=-sandbox, -network-sandbox, -usersandbox", () => {
    const noFs = rulesFor("compile", context(builddir, { features: DEFAULT_FEATURES.filter((f) => f !== "sandbox") }));
    expect(noFs).toMatchObject({ landlock: "off", scratch: [], log: undefined });
    expect(noFs.network).toBe("loopback");
    const noNet = rulesFor("compile", context(builddir, { features: DEFAULT_FEATURES.filter((f) => f !== "network-sandbox") }));
    expect(noNet.network).toBe("host");
    expect(noNet.namespaces).not.toContain("uts");
    const noUser = rulesFor("compile", context(builddir, { uid: 250, gid: 250, features: DEFAULT_FEATURES.filter((f) => f !== "usersandbox") }));
    expect(noUser.landlock).toBe("off");
    expect(rulesFor("install", context(builddir, { uid: 250, features: DEFAULT_FEATURES.filter((f) => f !== "usersandbox") })).landlock).toBe("required");
    const bare = rulesFor("setup", context(builddir, { features: [] }));
    expect(wrapCommand(bare, ["bash", "phase.sh", "setup"])).toEqual(["bash", "phase.sh", "setup"]);
  });

  it("reads /etc/sandbox.d files in name order", () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "10openssl"), 'SANDBOX_PREDICT="/dev/crypto"\n');
    fs.writeFileSync(path.join(dir, "20fontconfig"), "# cache\nSANDBOX_PREDICT='/var/cache/fontconfig'\nSANDBOX_WRITE=\"/opt/a:/opt/b\"\n");
    expect(parseSandboxD(dir)).toEqual({ write: ["/opt/a", "/opt/b"], predict: ["/dev/crypto", "/var/cache/fontconfig"], read: [], deny: [] });
    expect(parseSandboxD(path.join(dir, "missing"))).toEqual({ write: [], predict: [], read: [], deny: [] });
  });
});
