import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileIfChanged } from "../core/fsutil.js";

export interface KitLocation {
  readonly kit: string;
  /** Location as written in repos.conf (without the ROOT prefix). */
  readonly location: string;
}

export function reposConfStanza(k: KitLocation, mainRepo: string): string {
  const head = k.kit === mainRepo ? `[DEFAULT]\nmain-repo = ${mainRepo}\n\n` : "";
  return `${head}[${k.kit}]\nlocation = ${k.location}\nauto-sync = no\npriority = 1\n`;
}

/**
 * Write repos.conf as ego does (meta-repo.md §6): one `ego-<kit>` file per kit in kit order,
 * `[DEFAULT] main-repo` in the main kit's file; stale `ego-*` files and symlinks removed, a legacy
 * `funtoo` symlink removed, a repos.conf symlink replaced by a directory. Other files stay.
 * Each file is written atomically and only when its content changes.
 */
export function writeReposConf(dir: string, kits: readonly KitLocation[], mainRepo = "core-kit"): { written: string[]; removed: string[] } {
  const written: string[] = [];
  const removed: string[] = [];
  try {
    if (fs.lstatSync(dir).isSymbolicLink()) {
      fs.rmSync(dir);
      removed.push(dir);
    } else if (fs.lstatSync(dir).isFile()) {
      // a single-file repos.conf: keep it beside the directory we need
      fs.renameSync(dir, `${dir}.ouzo-old`);
      removed.push(dir);
    }
  } catch {
    // absent
  }
  fs.mkdirSync(dir, { recursive: true });
  const wanted = new Set(kits.map((k) => `ego-${k.kit}`));
  for (const k of kits) {
    const file = path.join(dir, `ego-${k.kit}`);
    if (writeFileIfChanged(file, reposConfStanza(k, mainRepo))) written.push(file);
  }
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const link = fs.lstatSync(p).isSymbolicLink();
    if ((name.startsWith("ego-") && !wanted.has(name)) || link || name === "funtoo") {
      fs.rmSync(p, { force: true });
      removed.push(p);
    }
  }
  return { written, removed };
}
