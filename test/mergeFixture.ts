// Images for the merge tests (test/merge.test.ts, test/mergeCrash.test.ts): a tree of files,
// symlinks, directories, FIFOs and hard links written from a plain description.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";

/** The mtime image files get unless they say otherwise (seconds). */
export const T0 = 1_600_000_000;

/** One image entry: text (a file), a symlink, a directory, a FIFO, or a hard link to an earlier name. */
export type Spec = string | { text: string; mode?: number; mtime?: number } | { link: string } | { dir: true; mode?: number } | { fifo: true } | { hardlink: string };

export function writeImage(image: string, files: Record<string, Spec>): void {
  fs.mkdirSync(image, { recursive: true });
  for (const [rel, spec] of Object.entries(files)) {
    const host = path.join(image, rel);
    fs.mkdirSync(path.dirname(host), { recursive: true });
    if (typeof spec === "string" || "text" in spec) {
      const s = typeof spec === "string" ? { text: spec } : spec;
      fs.writeFileSync(host, s.text);
      if (s.mode !== undefined) fs.chmodSync(host, s.mode);
      fs.utimesSync(host, s.mtime ?? T0, s.mtime ?? T0);
    } else if ("link" in spec) {
      fs.symlinkSync(spec.link, host);
      fs.lutimesSync(host, T0, T0);
    } else if ("dir" in spec) {
      fs.mkdirSync(host, { recursive: true });
      if (spec.mode !== undefined) fs.chmodSync(host, spec.mode);
    } else if ("fifo" in spec) {
      expect(spawnSync("mkfifo", [host]).status).toBe(0);
    } else fs.linkSync(path.join(image, spec.hardlink), host);
  }
}
