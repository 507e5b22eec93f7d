// The demo's build: the build fixture's hello-1.0 fetched from an HTTP server on 127.0.0.1, built
// through its phases in the sandbox, and packed as a binary package.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { probeSandbox } from "../build/sandbox.js";
import { Config } from "../config/Config.js";
import { packagePath } from "../core/paths.js";
import { requireProgram } from "../core/spawn.js";
import type { Output } from "../ui/Output.js";
import { ebuildCommand } from "./commands/ebuild.js";

/** A mirror on 127.0.0.1 serving `dir` as /distfiles/. */
async function serveDistfiles(dir: string): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    const name = path.basename(req.url ?? "");
    const file = path.join(dir, name);
    if (req.url === `/distfiles/${name}` && fs.existsSync(file)) res.end(fs.readFileSync(file));
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

export async function demoBuild(base: string, out: Output, step: (text: string) => void): Promise<number> {
  requireProgram("tar", "the demo packs its distfile with tar");
  const root = path.join(base, "build");
  fs.cpSync(packagePath("fixtures", "build", "root"), root, { recursive: true });
  const served = path.join(base, "mirror");
  fs.mkdirSync(served);
  spawnSync("tar", ["-C", packagePath("fixtures", "build", "sources"), "-czf", path.join(served, "hello-1.0.tar.gz"), "hello-1.0"]);
  const mirror = await serveDistfiles(served);
  try {
    const sandbox = probeSandbox();
    const sandboxed = sandbox.built && sandbox.landlockAbi >= 2;
    const dirs = { PORTAGE_TMPDIR: path.join(base, "var-tmp"), DISTDIR: path.join(base, "distfiles"), PKGDIR: path.join(base, "packages") };
    for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
    const makeConf = [...Object.entries(dirs).map(([k, v]) => `${k}="${v}"`), `GENTOO_MIRRORS="${mirror.url}"`, ...(sandboxed ? [] : ['FEATURES="-sandbox -network-sandbox"'])];
    fs.writeFileSync(path.join(root, "etc/portage/make.conf"), makeConf.join("\n") + "\n");
    out.line(`a third throwaway ROOT (${root}) with build-kit, and a mirror on ${mirror.url} serving hello-1.0.tar.gz`);
    if (!sandboxed) out.line(`the sandbox is not available here (${sandbox.missing[0] ?? "no Landlock"}): building with FEATURES="-sandbox -network-sandbox"`);
    const ebuild = path.join(root, "var/db/repos/build-kit/app-misc/hello/hello-1.0.ebuild");
    const config = new Config({ root, configRoot: root, reporter: out });
    const g = { root, configRoot: root, color: out.opts.color, quiet: out.opts.quiet, verbose: out.opts.verbose };
    step("ouzo ebuild hello-1.0.ebuild manifest (the distfile fetched from the mirror, its DIST line written)");
    let rc = await ebuildCommand(config, { ...g, ebuild, phases: ["manifest"] }, out);
    out.line(fs.readFileSync(path.join(path.dirname(ebuild), "Manifest"), "utf8").trim().replace(/(BLAKE2B \w{16})\w+/, "$1…").replace(/(SHA512 \w{16})\w+/, "$1…"));
    step(`ouzo ebuild --quiet-build hello-1.0.ebuild package (phases in ${sandboxed ? "the Landlock sandbox" : "plain bash"}, the image step, an xpak .tbz2)`);
    rc ||= await ebuildCommand(config, { ...g, ebuild, phases: ["package"], quietBuild: true }, out);
    const image = path.join(dirs.PORTAGE_TMPDIR, "portage/app-misc/hello-1.0/image");
    const hello = spawnSync(path.join(image, "usr/bin/hello"), { encoding: "utf8" });
    out.line(`the image's /usr/bin/hello prints: ${hello.stdout.trim()}`);
    const binpkg = path.join(dirs.PKGDIR, "app-misc/hello-1.0.tbz2");
    if (fs.existsSync(binpkg)) out.line(`binary package: ${binpkg} (${fs.statSync(binpkg).size} bytes), listed in ${path.join(dirs.PKGDIR, "Packages")}`);

    // building and merging into this ROOT: two packages, an upgrade, queries, an unmerge
    const emerge = await import("./commands/emerge.js");
    const { ownerCommand, installedCommand } = await import("./commands/installed.js");
    const quietBuild = { ...g, quietBuild: true };
    step("ouzo emerge --quiet-build =app-misc/hello-1.0 virtual/greeter (fetch, build in the sandbox, merge into ROOT, the vdb entries, the world file)");
    rc ||= await emerge.emergeCommand(new Config({ root, configRoot: root, reporter: out }), { ...quietBuild, atoms: ["=app-misc/hello-1.0", "virtual/greeter"] }, out);
    step("ouzo owner /usr/bin/hello /etc/hello.conf; ouzo installed");
    await ownerCommand({ ...g, paths: ["/usr/bin/hello", "/etc/hello.conf"] }, out);
    await installedCommand({ ...g }, out);
    fs.writeFileSync(path.join(root, "etc/hello.conf"), "greeting=ahoy\n");
    step("the user edits /etc/hello.conf; ouzo emerge -u --quiet-build app-misc/hello (1.0 → 1.1: its prerm runs from the vdb, the file 1.1 dropped goes, the edited configuration stays, the new one waits as ._cfg0000_)");
    rc ||= await emerge.emergeCommand(new Config({ root, configRoot: root, reporter: out }), { ...quietBuild, update: true, atoms: ["app-misc/hello"] }, out);
    out.line(`/etc: ${fs.readdirSync(path.join(root, "etc")).filter((f) => f.includes("hello")).join(" ")}; /usr/lib64/libhello.a ${fs.existsSync(path.join(root, "usr/lib64/libhello.a")) ? "still there" : "removed"}`);
    step("ouzo emerge -C virtual/greeter");
    rc ||= await emerge.emergeCommand(new Config({ root, configRoot: root, reporter: out }), { ...g, unmerge: true, atoms: ["virtual/greeter"] }, out);
    await installedCommand({ ...g }, out);

    // an anise package beside the source-built ones, in the same installed view
    const { aniseDemo } = await import("./commands/anise.js");
    step("ouzo anise pack + create-repo (a local anise repository), ouzo anise repo-update, ouzo anise install app-misc/anise-hello, ouzo anise q belongs");
    rc ||= await aniseDemo(base, g, out);
    step("ouzo installed (source-built and anise-installed packages, one view)");
    await installedCommand({ ...g }, out);
    return rc;
  } finally {
    mirror.close();
  }
}
