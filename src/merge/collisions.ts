// Collision checks (build spec §10.2): made before any change; FEATURES decide whether a file of
// the image that would overwrite something not ours stops the merge.
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";
import { parseContents } from "../vdb/contents.js";
import { readInstalled } from "../vdb/installed.js";
import type { OwnerIndex } from "../vdb/ownerIndex.js";

export interface Collision {
  /** The path as the image names it (or the non-directory in the way of one of its directories). */
  readonly path: string;
  /** Installed packages (cat/pf) that own it; empty for an orphan. */
  readonly owners: string[];
}

/**
 * Who owns each path among the installed packages, leaving out `exclude` (the instances being
 * replaced): through ouzo's owner index when the caller has one, else by reading CONTENTS.
 */
export function findOwners(root: string, paths: readonly string[], exclude: ReadonlySet<string>, index?: OwnerIndex): Map<string, string[]> {
  const out = new Map<string, string[]>(paths.map((p) => [p, []]));
  if (!paths.length) return out;
  if (index) {
    const found = index.owners([...paths]);
    for (const p of paths) out.set(p, (found.get(p) ?? []).filter((c) => !exclude.has(c)));
    return out;
  }
  for (const pkg of readInstalled(root)) {
    if (exclude.has(pkg.cpv)) continue;
    let text: string;
    try {
      text = fs.readFileSync(path.join(pkg.dir, "CONTENTS"), "utf8");
    } catch {
      continue;
    }
    for (const e of parseContents(text)) {
      const owners = out.get(e.path);
      if (owners && !owners.includes(pkg.cpv)) owners.push(pkg.cpv);
    }
  }
  return out;
}

/**
 * The §10.2 outcome table: collision-protect refuses any collision, protect-owned refuses those
 * owned by another installed package and warns about orphans, neither only warns. Returns the
 * collisions the merge goes on with.
 */
export function judgeCollisions(cpv: string, candidates: readonly string[], features: ReadonlySet<string>, owners: () => Map<string, string[]>, reporter?: Reporter): Collision[] {
  if (!candidates.length) return [];
  const protect = features.has("collision-protect");
  const owned = protect || features.has("protect-owned") ? owners() : new Map<string, string[]>();
  const list: Collision[] = candidates.map((p) => ({ path: p, owners: owned.get(p) ?? [] }));
  const refuse = protect || list.some((c) => c.owners.length);
  const shown = list
    .slice(0, 20)
    .map((c) => `${c.path}${c.owners.length ? ` (owned by ${c.owners.join(", ")})` : " (no owner)"}`)
    .join("; ");
  if (refuse) {
    throw new OuzoError("merge-collision", `Package '${cpv}' NOT merged due to file collisions (${list.length}): ${shown}${list.length > 20 ? "; …" : ""}`, { pkg: cpv });
  }
  reporter?.report({ kind: "warning", code: "merge-collision", message: `This package will overwrite one or more files that may belong to other packages: ${shown}` });
  return list;
}
