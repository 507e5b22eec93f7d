import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Config } from "../../config/Config.js";
import type { Output } from "../../ui/Output.js";
import { installDemoConfig } from "../demoTree.js";
import { profileShow } from "./profile.js";

/** `npm start`: ouzo's pipeline on the bundled demo kits, in a throwaway ROOT, with no network. */
export async function demoCommand(args: { keep?: boolean }, out: Output): Promise<number> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ouzo-demo-"));
  try {
    out.line(out.color("bold", `ouzo demo in throwaway ROOT ${root}`));
    out.line();
    out.line(out.color("cyan", "==> loading the demo configuration (kits, Funtoo profile tree, /etc/portage)"));
    installDemoConfig(root);
    const config = new Config({ root, configRoot: root, reporter: out });
    profileShow(config, out);

    out.line();
    out.line(out.color("cyan", "==> ouzo regen --write-md5-cache (metadata cache of every kit, through ouzo's ebuild.sh)"));
    const { regenCommand, infoCommand } = await import("./metadata.js");
    const cacheDir = path.join(root, "var", "cache", "ouzo");
    const regen = await regenCommand(config, { cacheDir, writeMd5Cache: true }, out);
    out.line();
    out.line(out.color("cyan", "==> ouzo regen again (nothing is stale)"));
    await regenCommand(config, { cacheDir }, out);
    out.line();
    out.line(out.color("cyan", "==> ouzo info app-misc/hello"));
    await infoCommand(config, { cacheDir, atom: "app-misc/hello" }, out);
    out.line();
    out.line(out.color("cyan", "==> ouzo info dev-libs/libdemo"));
    await infoCommand(config, { cacheDir, atom: "dev-libs/libdemo" }, out);
    return regen;
  } finally {
    if (args.keep) out.line(`\nROOT kept at ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}
