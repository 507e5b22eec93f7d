// CONFIG_PROTECT (build spec §10.4): which paths are configuration the user may have edited,
// the `._cfgNNNN_<name>` files that carry an update beside them, and confmem — the updates the
// user has already seen and rejected (${EROOT}/var/lib/portage/config).
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { atomicWriteFile } from "../core/fsutil.js";
import { lstatIfExists } from "./rootPath.js";

const trimSlash = (p: string) => p.replace(/\/+$/, "") || "/";
const beneath = (p: string, e: string) => e === "/" || p === e || p.startsWith(`${e}/`);

export class ConfigProtect {
  private readonly protect: string[];
  private readonly mask: string[];

  constructor(protect: readonly string[], mask: readonly string[]) {
    this.protect = protect.filter((p) => p.startsWith("/")).map(trimSlash);
    this.mask = mask.filter((p) => p.startsWith("/")).map(trimSlash);
  }

  /** Beneath a CONFIG_PROTECT entry and not beneath a CONFIG_PROTECT_MASK entry at least as long (the mask wins ties). */
  isProtected(p: string): boolean {
    let best = -1;
    for (const e of this.protect) if (e.length > best && beneath(p, e)) best = e.length;
    if (best < 0) return false;
    for (const e of this.mask) if (e.length >= best && beneath(p, e)) return false;
    return true;
  }

  get empty(): boolean {
    return this.protect.length === 0;
  }

  /** No path at or below the directory `dir` can be protected (masks aside: a cautious answer). */
  noneBelow(dir: string): boolean {
    return !this.protect.some((e) => beneath(dir, e) || beneath(e, dir));
  }
}

/** A zero-size `.keep*` file is never protected (§10.4). */
export const neverProtected = (p: string, size: number): boolean => size === 0 && path.posix.basename(p).startsWith(".keep");

export function md5File(file: string): string {
  return createHash("md5").update(fs.readFileSync(file)).digest("hex");
}

/** What a protected path holds, as confmem and CONTENTS compare it: the md5 of a file, the text of a symlink. */
export function currentValue(file: string, st: fs.Stats | undefined = lstatIfExists(file)): string | undefined {
  if (!st) return undefined;
  if (st.isSymbolicLink()) return fs.readlinkSync(file);
  if (st.isFile()) return md5File(file);
  return undefined;
}

const CFG_RE = /^\._cfg(\d{4})_(.*)$/s;

/**
 * The `._cfg` name for an update of `base` in the host directory `dir`: one more than the highest
 * number there (0000 when none), unless the most recent one already holds the update, which is
 * then reused. `taken` holds names this merge already chose in the directory.
 */
export function cfgName(dir: string, base: string, newValue: string, taken: ReadonlySet<string> = new Set()): string {
  let high = -1;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // the directory does not exist yet: the first number
  }
  for (const n of [...names, ...taken]) {
    const m = CFG_RE.exec(n);
    if (m && m[2] === base) high = Math.max(high, Number(m[1]));
  }
  if (high >= 0) {
    const last = `._cfg${String(high).padStart(4, "0")}_${base}`;
    if (!taken.has(last) && currentValue(path.join(dir, last)) === newValue) return last;
  }
  return `._cfg${String(high + 1).padStart(4, "0")}_${base}`;
}

export function confmemFile(root: string): string {
  return path.join(root, "var", "lib", "portage", "config");
}

/** confmem: `<path> <md5-or-link-target>` per line (Portage's writedict format). */
export function readConfmem(root: string): Map<string, string> {
  const out = new Map<string, string>();
  let text = "";
  try {
    text = fs.readFileSync(confmemFile(root), "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const sp = line.indexOf(" ");
    if (sp > 0) out.set(line.slice(0, sp), line.slice(sp + 1).trim());
  }
  return out;
}

/** Apply changes to confmem; written atomically, and only when something changes (idempotent, so recovery may repeat it). */
export function updateConfmem(root: string, set: Readonly<Record<string, string>>, del: readonly string[]): void {
  if (!Object.keys(set).length && !del.length) return;
  const cur = readConfmem(root);
  const before = serialize(cur);
  for (const p of del) cur.delete(p);
  for (const [p, v] of Object.entries(set)) cur.set(p, v);
  const after = serialize(cur);
  if (after !== before) atomicWriteFile(confmemFile(root), after);
}

function serialize(m: Map<string, string>): string {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k} ${v}\n`).join("");
}
