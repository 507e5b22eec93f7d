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
    return 0;
  } finally {
    if (args.keep) out.line(`\nROOT kept at ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}
