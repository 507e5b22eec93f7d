import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { listDir } from "../core/fsutil.js";

/** A repository definition (anise's repos.conf.d YAML). */
export interface AniseRepoDef {
  readonly name: string;
  readonly description: string;
  readonly type: "http" | "disk";
  readonly urls: readonly string[];
  /** Lower is preferred (anise's default 9999). */
  readonly priority: number;
  readonly enable: boolean;
  readonly auth: { readonly token?: string; readonly basic?: string } | undefined;
  readonly file: string;
}

/**
 * Definitions from every directory given (ouzo's own first, then /etc/anise/repos.conf.d); a name
 * seen twice keeps the first. Files lacking name, urls or type are skipped with a warning, as anise
 * does; `._cfg` files are ignored.
 */
export function readRepoDefs(dirs: readonly string[], warn: (m: string) => void): AniseRepoDef[] {
  const out = new Map<string, AniseRepoDef>();
  for (const dir of dirs) {
    const names = (listDir(dir) ?? []).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith("._cfg") && !n.startsWith(".")).sort();
    for (const n of names) {
      const file = path.join(dir, n);
      let doc: Record<string, unknown>;
      try {
        doc = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
      } catch (e) {
        warn(`${file}: invalid YAML: ${(e as Error).message.split("\n")[0]}`);
        continue;
      }
      const name = doc.name;
      const urls = doc.urls;
      const type = doc.type;
      if (typeof name !== "string" || !Array.isArray(urls) || !urls.length || (type !== "http" && type !== "disk")) {
        warn(`${file}: skipped: a repository needs name, urls and type (http or disk)`);
        continue;
      }
      if (out.has(name)) continue;
      const auth = doc.auth as Record<string, unknown> | undefined;
      out.set(name, {
        name,
        description: String(doc.description ?? ""),
        type,
        urls: urls.map(String),
        priority: Number.isFinite(Number(doc.priority)) && doc.priority !== undefined ? Number(doc.priority) : 9999,
        enable: doc.enable === undefined ? true : doc.enable === true,
        auth: auth ? { token: typeof auth.token === "string" ? auth.token : undefined, basic: typeof auth.basic === "string" ? auth.basic : undefined } : undefined,
        file,
      });
    }
  }
  return [...out.values()].sort((a, b) => a.priority - b.priority || (a.name < b.name ? -1 : 1));
}

