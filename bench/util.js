// Shared helpers for the benchmarks: timing, process runs, figures printed in one format.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../", import.meta.url));
/** The ouzo command, as package.json installs it (bin/ouzo starts node on bin/ouzo.js). */
export const OUZO = path.join(REPO, "bin", "ouzo");

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function figure(name, value, unit, target) {
  const t = target ? `   (target ${target})` : "";
  console.log(`${name.padEnd(58)} ${String(value).padStart(12)} ${unit}${t}`);
}

/** The environment without NODE_EXTRA_CA_CERTS, which bin/ouzo keeps from node's start. */
export const ENV_WITHOUT_EXTRA_CA = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_EXTRA_CA_CERTS"));

/**
 * Wall time of a whole `ouzo` process and of `node -e 0` (node's own start and exit, the floor
 * under every whole-process figure; without NODE_EXTRA_CA_CERTS, as bin/ouzo starts node),
 * measured alternately so that both see the same machine: this VM's speed drifts by tens of
 * percent from minute to minute. Medians of `runs`.
 */
export function timeOuzoAndNode(args, runs = 21, env = process.env) {
  const ouzo = [];
  const node = [];
  let last;
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    last = spawnSync(OUZO, args, { encoding: "utf8", env });
    ouzo.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (last.status !== 0) throw new Error(`ouzo ${args.join(" ")} failed: ${last.stderr}`);
    t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ["-e", "0"], { env: ENV_WITHOUT_EXTRA_CA });
    node.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: median(ouzo), floor: median(node), result: last };
}

/**
 * Record a package of an `emerge -p --json` plan as installed under ROOT (`cpv` may name another
 * version), with the dependencies it was built with, as Portage records them (USE-reduced);
 * returns its /var/db/pkg directory.
 */
export function writePlannedEntry(root, e, cpv, counter) {
  const dir = path.join(root, "var/db/pkg", cpv);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "SLOT"), `${e.slot}/${e.subslot}\n`);
  fs.writeFileSync(path.join(dir, "repository"), `${e.repo}\n`);
  fs.writeFileSync(path.join(dir, "COUNTER"), String(counter));
  fs.writeFileSync(path.join(dir, "EAPI"), "7\n");
  fs.writeFileSync(path.join(dir, "IUSE"), e.use.iuse.join(" ") + "\n");
  fs.writeFileSync(path.join(dir, "USE"), e.use.enabled.join(" ") + "\n");
  for (const cls of ["DEPEND", "RDEPEND", "BDEPEND", "PDEPEND"]) {
    const atoms = e.deps.filter((x) => x.class === cls).map((x) => x.atom);
    if (atoms.length) fs.writeFileSync(path.join(dir, cls), atoms.join(" ") + "\n");
  }
  return dir;
}
