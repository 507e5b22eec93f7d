import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileIfChanged } from "../core/fsutil.js";

const MARKER = ":funtoo/kits/python-kit/";

/**
 * ego's profile update (meta-repo.md §8): keep every parent line except the python-kit ones, then
 * append `<kit>:funtoo/kits/python-kit/<P>` for each kit (release_defs order) that has that directory.
 * Returns the lines written, or a warning when no kit has the directory.
 */
export function updatePythonKitLines(parentFile: string, kits: readonly { kit: string; location: string }[], profile: string): { changed: boolean; lines: string[]; warning?: string } {
  const old = fs.existsSync(parentFile) ? fs.readFileSync(parentFile, "utf8") : "";
  const kept = old.split("\n").filter((l) => l.trim() && !l.includes(MARKER));
  const added = kits.filter((k) => fs.existsSync(path.join(k.location, "profiles", "funtoo", "kits", "python-kit", profile))).map((k) => `${k.kit}${MARKER}${profile}`);
  const lines = [...kept, ...added];
  const text = lines.join("\n") + "\n";
  const warning = added.length ? undefined : `no kit has profiles/funtoo/kits/python-kit/${profile}: PYTHON_TARGETS will come from nowhere (set python_kit_profile in ego.conf)`;
  return { changed: writeFileIfChanged(parentFile, text), lines, warning };
}
