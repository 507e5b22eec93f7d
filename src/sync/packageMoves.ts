import * as fs from "node:fs";
import * as path from "node:path";
import { Atom } from "../pms/atom.js";
import { USER_CONFIG_EAPI } from "../pms/eapi.js";
import { listDir } from "../core/fsutil.js";

/** One line of profiles/updates: `move OLD NEW` (OLD may be versioned, as Funtoo's Portage accepts) or `slotmove ATOM OLD NEW`. */
export type PackageMove =
  | { readonly kind: "move"; readonly from: Atom; readonly to: string; readonly file: string; readonly line: number }
  | { readonly kind: "slotmove"; readonly atom: Atom; readonly fromSlot: string; readonly toSlot: string; readonly file: string; readonly line: number };

/** Update files in the order Portage applies them: by year, then quarter (`1Q-2024` … `4Q-2024`), else by name. */
function updateOrder(a: string, b: string): number {
  const k = (n: string) => {
    const m = /^([1-4])Q-(\d{4})$/.exec(n);
    return m ? `${m[2]}-${m[1]}` : n;
  };
  return k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0;
}

export function readPackageMoves(repoLocation: string, warn: (msg: string) => void): PackageMove[] {
  const dir = path.join(repoLocation, "profiles", "updates");
  const files = (listDir(dir) ?? []).filter((f) => !f.startsWith(".")).sort(updateOrder);
  const out: PackageMove[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    fs.readFileSync(file, "utf8")
      .split("\n")
      .forEach((raw, i) => {
        const t = raw.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
        if (!t.length) return;
        const line = i + 1;
        const bad = (why: string) => warn(`${file}:${line}: ${why}`);
        try {
          if (t[0] === "move" && t.length === 3) {
            const to = Atom.parse(t[2]!, USER_CONFIG_EAPI);
            if (to.operator || to.slot) return bad(`the target of a move must be a plain category/package: '${t[2]}'`);
            out.push({ kind: "move", from: Atom.parse(t[1]!, USER_CONFIG_EAPI), to: to.cp, file, line });
          } else if (t[0] === "slotmove" && t.length === 4) {
            out.push({ kind: "slotmove", atom: Atom.parse(t[1]!, USER_CONFIG_EAPI), fromSlot: t[2]!, toSlot: t[3]!, file, line });
          } else bad(`unrecognised update line '${t.join(" ")}'`);
        } catch (e) {
          bad((e as Error).message);
        }
      });
  }
  return out;
}

/** Installed package versions under ROOT/var/db/pkg, as `category/PF` strings. */
export function installedCpvs(root: string): string[] {
  const vdb = path.join(root, "var", "db", "pkg");
  const out: string[] = [];
  for (const c of listDir(vdb) ?? []) {
    for (const pf of listDir(path.join(vdb, c)) ?? []) if (!pf.startsWith("-MERGING-")) out.push(`${c}/${pf}`);
  }
  return out;
}
