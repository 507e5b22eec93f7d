import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import { readFileIfExists } from "../core/fsutil.js";

/** The user git runs as when ouzo runs as root. */
export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** For messages: the user name, or `uid N` when taken from a directory's owner. */
  readonly name: string;
}

/** Look a user up in a passwd file (`name:x:uid:gid:…`). */
export function lookupUser(passwdFile: string, name: string): Identity | undefined {
  for (const line of (readFileIfExists(passwdFile) ?? "").split("\n")) {
    const f = line.split(":");
    if (f[0] !== name || f.length < 4) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid, name };
  }
  return undefined;
}

/**
 * Who runs git during a sync (meta-repo.md §5.3). As root, ego drops to the owner of the
 * meta-repo directory, or to `sync_user` when that directory does not exist yet, so that git
 * never runs as root on files another user controls. A root-owned meta-repo keeps root. Users
 * are looked up in ROOT's passwd file: with --root the tree belongs to that system's users.
 *
 * Returns undefined when git should run as ouzo itself (not root, or root by choice of the
 * owner); `warning` when the default sync_user does not exist.
 */
export function syncIdentity(opts: { metaRepoPath: string; root: string; syncUser: string; syncUserSet: boolean; egoFile: string }): { identity?: Identity; warning?: string } {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return {};
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(opts.metaRepoPath);
  } catch {
    st = undefined;
  }
  if (st) return st.uid === 0 ? {} : { identity: { uid: st.uid, gid: st.gid, name: `uid ${st.uid}` } };
  if (opts.syncUser === "root") return {};
  const passwd = path.join(opts.root, "etc", "passwd");
  const user = lookupUser(passwd, opts.syncUser);
  if (user) return { identity: user };
  if (opts.syncUserSet) throw new OuzoError("SYNC_USER", `sync_user '${opts.syncUser}' does not exist in ${passwd}`, { file: opts.egoFile });
  return { warning: `user '${opts.syncUser}' (ego's default sync_user) does not exist in ${passwd}: git runs as root; set sync_user in ${opts.egoFile}` };
}

/**
 * mkdir -p that gives every directory it creates to `identity`, so that git running as that
 * user can write where ouzo prepared the way.
 */
export function mkdirOwned(dir: string, identity: Identity | undefined): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    fs.mkdirSync(d);
    if (identity) fs.chownSync(d, identity.uid, identity.gid);
  }
}
