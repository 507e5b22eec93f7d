// env-update (build spec §10.7) on real files: /etc/env.d gathered into profile.env, csh.env and
// ld.so.conf, read back by bash; ldconfig run into a temporary ROOT only when it is needed; and
// the step taken by emerge's merges and unmerges and by anise installs.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { envUpdate } from "../src/merge/envUpdate.js";
import type { ReportEvent } from "../src/core/reporter.js";
import { serveAniseRepo, stopAniseServers } from "./aniseFixture.js";
import { buildSystem } from "./buildFixture.js";
import { ouzo, tmpdir, writeTree } from "./helpers.js";

afterEach(stopAniseServers);

const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), "utf8");
const isRoot = process.getuid?.() === 0;

/** A ROOT with a base env.d file and a package's, plus names env-update must pass over. */
function envRoot(): string {
  const root = tmpdir();
  writeTree(root, {
    "etc/env.d/00basic": 'PATH="/usr/local/bin:/usr/bin"\nLDPATH="/usr/lib64"\nCONFIG_PROTECT="/usr/share/config"\nMANPATH="/usr/share/man"\nEDITOR="/bin/nano"\nCOLON_SEPARATED="GOPATHS"\n',
    // later files add to the cumulative keys (without repeating an item) and replace the others
    "etc/env.d/50foo": "PATH=\"/opt/foo/bin:/usr/bin\"\nLDPATH='/opt/foo/lib'\nCONFIG_PROTECT=\"/opt/foo/etc /usr/share/config\"\nEDITOR=/usr/bin/vim\nGOPATHS=/a:/b\nGREETING=\"it's ${HOME}\"\nLESSKEY=$'x'\n",
    "etc/env.d/60more": "GOPATHS=/b:/c\n",
    "etc/env.d/1x": "IGNORED=short\n",
    "etc/env.d/.70hidden": "IGNORED=hidden\n",
    "etc/env.d/70backup~": "IGNORED=tilde\n",
    "etc/env.d/70old.bak": "IGNORED=bak\n",
    "etc/env.d/ab70": "IGNORED=letters\n",
    "usr/lib64/.keep": "",
  });
  return root;
}

describe("env-update", () => {
  it("gathers env.d into profile.env, csh.env and ld.so.conf that the shell reads back as written", () => {
    const root = envRoot();
    const r = envUpdate(root, { ldconfig: false });
    expect(r.active).toBe(true);
    expect([...r.written].sort()).toEqual(["/etc/csh.env", "/etc/ld.so.conf", "/etc/profile.env"]);
    const profile = read(root, "etc/profile.env");
    expect(profile.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual([
      "export CONFIG_PROTECT='/usr/share/config /opt/foo/etc'",
      "export EDITOR='/usr/bin/vim'",
      "export GOPATHS='/a:/b:/c'",
      "export GREETING='it'\\''s ${HOME}'",
      "export LESSKEY=$'x'",
      "export MANPATH='/usr/share/man'",
      "export PATH='/usr/local/bin:/usr/bin:/opt/foo/bin'",
    ]);
    expect(profile).not.toContain("IGNORED");
    expect(profile).not.toContain("LDPATH");
    // what bash makes of it is what the files said: no expansion, the quote kept
    const sh = spawnSync("bash", ["-c", `source '${path.join(root, "etc/profile.env")}'; printf '%s|%s|%s' "$GREETING" "$PATH" "$LESSKEY"`], { encoding: "utf8", env: { HOME: "/home/x" } });
    expect(sh.stdout).toBe("it's ${HOME}|/usr/local/bin:/usr/bin:/opt/foo/bin|x");
    expect(read(root, "etc/csh.env")).toContain("setenv EDITOR '/usr/bin/vim'\n");
    expect(read(root, "etc/ld.so.conf").split("\n").filter((l) => l && !l.startsWith("#"))).toEqual(["/usr/lib64", "/opt/foo/lib"]);

    // nothing changed: nothing is written
    const mtime = fs.statSync(path.join(root, "etc/profile.env")).mtimeMs;
    expect(envUpdate(root, { ldconfig: false }).written).toEqual([]);
    expect(fs.statSync(path.join(root, "etc/profile.env")).mtimeMs).toBe(mtime);
  });

  it("names a file it cannot read and rewrites nothing until it is fixed", () => {
    const root = envRoot();
    envUpdate(root, { ldconfig: false });
    const before = read(root, "etc/ld.so.conf");
    // a broken file would otherwise take its LDPATH out of the library cache
    fs.writeFileSync(path.join(root, "etc/env.d/55broken"), 'LDPATH="/opt/broken/lib"\nBAD="unterminated\n');
    fs.writeFileSync(path.join(root, "etc/env.d/56new"), 'NEWVAR="x"\n');
    const events: ReportEvent[] = [];
    const r = envUpdate(root, { ldconfig: false, reporter: { report: (e) => events.push(e) } });
    expect(r.written).toEqual([]);
    expect(r.failed).toEqual([expect.stringMatching(/etc\/env\.d\/55broken:2$/)]);
    expect(read(root, "etc/ld.so.conf")).toBe(before);
    expect(read(root, "etc/profile.env")).not.toContain("NEWVAR");
    const messages = events.flatMap((e) => (e.kind === "warning" ? [e.message] : []));
    expect(messages.join("\n")).toMatch(/55broken:2: unterminated double quote/);
    expect(ouzo(["env-update", "--root", root, "--no-ldconfig"]).code).toBe(1);
    // fixed: everything is written again
    fs.writeFileSync(path.join(root, "etc/env.d/55broken"), 'LDPATH="/opt/broken/lib"\n');
    expect(envUpdate(root, { ldconfig: false }).written).toContain("/etc/profile.env");
    expect(read(root, "etc/ld.so.conf")).toContain("/opt/broken/lib");
  });

  it("leaves a ROOT without env.d or profile.env alone", () => {
    const root = tmpdir();
    const r = envUpdate(root);
    expect(r.active).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
    const cli = ouzo(["env-update", "--root", root]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("/etc/env.d does not exist");
  });

  it.runIf(isRoot)("runs ldconfig into ROOT when LDPATH or a library directory changed, and not otherwise", () => {
    const root = envRoot();
    const first = envUpdate(root);
    expect(first.ldconfig).toEqual({ ran: true, reason: "LDPATH changed" });
    expect(fs.existsSync(path.join(root, "etc/ld.so.cache"))).toBe(true);
    expect(JSON.parse(read(root, "var/cache/edb/mtimedb")).ldpath).toHaveProperty("/usr/lib64");
    expect(envUpdate(root).ldconfig).toEqual({ ran: false, reason: "nothing changed" });
    // a merge that put a file into a library directory
    expect(envUpdate(root, { touched: ["/usr/lib64/libnew.so.1"] }).ldconfig).toEqual({ ran: true, reason: "files were merged into a library directory" });
    // a directory whose mtime moved since the cache was made (set back, as a removal an hour ago would)
    const old = new Date(Date.now() - 3_600_000);
    fs.utimesSync(path.join(root, "usr/lib64"), old, old);
    expect(envUpdate(root, { ldconfig: false }).ldconfig.ran).toBe(false);
    // --no-ldconfig left the cache's record alone: the next run still knows it has work
    expect(envUpdate(root).ldconfig).toEqual({ ran: true, reason: "a library directory changed" });
    const cli = ouzo(["env-update", "--root", root]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain("nothing changed");
  });

  it.runIf(isRoot)("uses ${CHOST}-ldconfig for a cross-compiled ROOT, and says so when there is none", () => {
    const root = envRoot();
    const cross = { chost: "aarch64-unknown-linux-gnu", cbuild: "x86_64-pc-linux-gnu" };
    const events: ReportEvent[] = [];
    const none = envUpdate(root, { ...cross, reporter: { report: (e) => events.push(e) } });
    expect(none.ldconfig).toEqual({ ran: false, reason: "aarch64-unknown-linux-gnu-ldconfig was not found" });
    expect(events.some((e) => e.kind === "warning" && e.message.includes("run aarch64-unknown-linux-gnu-ldconfig -r"))).toBe(true);
    // a cross ldconfig on PATH is the one that runs (never the host's)
    const bin = tmpdir();
    const log = path.join(bin, "args");
    fs.writeFileSync(path.join(bin, "aarch64-unknown-linux-gnu-ldconfig"), `#!/bin/sh\necho "$@" >> '${log}'\n`, { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      expect(envUpdate(root, cross).ldconfig.ran).toBe(true);
    } finally {
      process.env.PATH = saved;
    }
    expect(fs.readFileSync(log, "utf8")).toContain(`-X -r ${root}`);
  });

  it("runs after emerge merges and unmerges, and after an anise install", async () => {
    const sys = await buildSystem();
    writeTree(path.join(sys.kit, "app-misc", "envd"), {
      "envd-1.ebuild": 'EAPI=8\nDESCRIPTION="puts a file in env.d"\nHOMEPAGE="https://example.invalid"\nLICENSE="MIT"\nSLOT="0"\nKEYWORDS="amd64"\nS="${WORKDIR}"\nsrc_install() {\n\tprintf \'ENVD_GREETING="hello"\\nPATH="/opt/envd/bin"\\n\' > "${T}/50envd" || die\n\tdoenvd "${T}/50envd"\n}\n',
    });
    const r = ouzo(["emerge", "--root", sys.root, "--quiet-build", "app-misc/envd"]);
    expect(r.code, r.stderr).toBe(0);
    expect(read(sys.root, "etc/profile.env")).toContain("export ENVD_GREETING='hello'\n");
    expect(read(sys.root, "etc/profile.env")).toContain("export PATH='/opt/envd/bin'\n");
    const rm = ouzo(["emerge", "--root", sys.root, "-C", "app-misc/envd"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(read(sys.root, "etc/profile.env")).not.toContain("ENVD_GREETING");

    const { root, run } = await serveAniseRepo([{ category: "app-misc", name: "envpkg", version: "1.0", files: { "etc/env.d/60envpkg": 'ANISE_GREETING="from anise"\n' } }]);
    const a = await run("install", "-y", "envpkg");
    expect(a.code, a.stderr).toBe(0);
    expect(read(root, "etc/profile.env")).toContain("export ANISE_GREETING='from anise'\n");
  });
});
