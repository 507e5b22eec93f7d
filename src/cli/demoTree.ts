import * as fs from "node:fs";
import * as path from "node:path";
import { packagePath } from "../core/paths.js";

export const DEMO_FIXTURES = packagePath("fixtures", "demo");
export const DEMO_KITS = ["core-kit", "dev-kit", "gnome-kit", "python-kit"] as const;

/**
 * Lay the demo configuration into a ROOT: /etc/portage from fixtures, the kits as plain directories
 * under /var/git/meta-repo/kits, and repos.conf as ego writes it.
 */
export function installDemoConfig(root: string, opts: { kits?: boolean } = {}): void {
  fs.cpSync(path.join(DEMO_FIXTURES, "etc"), path.join(root, "etc"), { recursive: true });
  const kitsDir = path.join(root, "var", "git", "meta-repo", "kits");
  if (opts.kits !== false) {
    for (const k of DEMO_KITS) fs.cpSync(path.join(DEMO_FIXTURES, "kits", k), path.join(kitsDir, k), { recursive: true });
  }
  const reposConf = path.join(root, "etc", "portage", "repos.conf");
  fs.mkdirSync(reposConf, { recursive: true });
  for (const k of DEMO_KITS) {
    const head = k === "core-kit" ? "[DEFAULT]\nmain-repo = core-kit\n\n" : "";
    fs.writeFileSync(path.join(reposConf, `ego-${k}`), `${head}[${k}]\nlocation = ${path.join(kitsDir, k)}\nauto-sync = no\npriority = 1\n`);
  }
}
