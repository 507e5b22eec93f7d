// The saved shell state going out of and coming into a build directory (build spec §2.5):
// environment.bz2 made from T/environment.install (build-info, the vdb after pkg_*inst), and an
// environment.bz2 from elsewhere (a vdb entry, a binary package) loaded as T/environment without
// the variables of the machine that made it.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fsutil.js";
import type { BuildDir } from "./BuildDir.js";

/** Variables a saved environment from elsewhere must not bring along (spec §2.5 "Load"). */
const FOREIGN = /^declare -[-a-zA-Z]* (FEATURES|PORTAGE_FEATURES|PATH|LANG|LC_[A-Z_]+|SANDBOX_[A-Z_]+)=/;

/** A vdb or binpkg environment, decompressed, without the variables of the machine that made it. */
export function preprocessEnvironment(text: string): string {
  const out: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (FOREIGN.test(line)) {
      // these values are single-line; skip a quoted continuation all the same
      let quotes = (line.match(/(?<!\\)"/g) ?? []).length;
      while (quotes % 2 === 1 && i + 1 < lines.length) quotes += (lines[++i]!.match(/(?<!\\)"/g) ?? []).length;
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

/** The install-variant dump of the last phase (T/environment.install), or undefined when none was made. */
export function installEnvironment(dir: BuildDir): string | undefined {
  const env = path.join(dir.temp, "environment.install");
  return fs.existsSync(env) ? env : undefined;
}

/** `src` compressed with bzip2 -9 (PORTAGE_BZIP2_COMMAND's default) into `dest`, atomically. */
export function writeEnvironmentBz2(src: string, dest: string, what: string): void {
  const r = spawnSync("bzip2", ["-9", "-c", src], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new OuzoError("bzip2-failed", `${what}: bzip2 of the environment failed: ${r.stderr?.toString().trim() || r.error?.message}`);
  atomicWriteFile(dest, r.stdout);
}

/** An environment.bz2 from a vdb entry or a binary package, cleaned, as the build directory's T/environment. */
export function loadForeignEnvironment(bz2: Buffer, dir: BuildDir, code: string, what: string): void {
  const r = spawnSync("bzip2", ["-dc"], { input: bz2, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new OuzoError(code, `${what}: cannot read its environment.bz2: ${r.stderr?.toString().trim() || r.error?.message}`);
  fs.mkdirSync(dir.temp, { recursive: true });
  fs.writeFileSync(dir.environment, preprocessEnvironment(r.stdout.toString("utf8")));
}
