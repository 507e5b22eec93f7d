// `ouzo env-update` (Portage's env-update): /etc/env.d gathered into /etc/profile.env, csh.env
// and ld.so.conf of ROOT, then ldconfig when the libraries may have changed (build spec §10.7).
// Merges and unmerges run the same step themselves; this is for after editing env.d by hand.
import { envUpdateLocked } from "../../merge/envUpdate.js";
import type { Output } from "../../ui/Output.js";
import { rootOf, type GlobalArgs } from "../context.js";

export async function envUpdateCommand(args: GlobalArgs & { ldconfig?: boolean }, out: Output): Promise<number> {
  const root = rootOf(args);
  const r = await envUpdateLocked(root, { ldconfig: args.ldconfig !== false, reporter: out });
  if (out.opts.json) {
    out.json({ root, active: r.active, written: r.written, ldconfig: r.ldconfig, failed: r.failed, env: Object.fromEntries(r.env) });
    return r.active && !r.failed.length ? 0 : 1;
  }
  if (!r.active) {
    out.error(`${root === "/" ? "" : root}/etc/env.d does not exist: nothing to gather (is ${root} a Gentoo-family system?)`);
    return 1;
  }
  if (r.failed.length) return 1; // the warning said which file and what to do
  out.result(`>>> ${r.env.size} variable(s) from /etc/env.d${r.written.length ? `; rewrote ${r.written.join(", ")}` : "; nothing changed"}`);
  if (r.ldconfig.ran) out.result(">>> Regenerating /etc/ld.so.cache...");
  return 0;
}
