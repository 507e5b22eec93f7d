// The explanations fixture (fixtures/explain/root: one kit with a package for each failure class
// of emerge spec §11) and a way to resolve on it with the real sources, resolver and facts, without
// the CLI: what `ouzo emerge` hands its failure to.
import * as fs from "node:fs";
import * as path from "node:path";
import { Config } from "../src/config/Config.js";
import { requestOf } from "../src/cli/emergeRequest.js";
import { EmergeFacts } from "../src/cli/emergeExplain.js";
import { EbuildSource, InstalledSource } from "../src/cli/emergeSources.js";
import { MetadataStore } from "../src/metadata/MetadataStore.js";
import { Atom } from "../src/pms/atom.js";
import { USER_CONFIG_EAPI } from "../src/pms/eapi.js";
import { type RequestAtom, ResolveFailure, Resolver, type ResolveOptions, type Selection } from "../src/resolve/resolve.js";
import { Output } from "../src/ui/Output.js";
import { readWorld } from "../src/vdb/world.js";
import { vdb } from "./emergeFixture.js";
import { tmpdir, writeTree } from "./helpers.js";
import { FIXTURES } from "./vectors.js";

export const KIT = "var/db/repos/explain-kit";

/** A copy of the fixture ROOT, with these files on top. */
export function explainRoot(extra: Record<string, string> = {}): string {
  const root = tmpdir("ouzo-explain-");
  fs.cpSync(path.join(FIXTURES, "explain/root"), root, { recursive: true });
  writeTree(root, extra);
  return root;
}

/** An Output that keeps what it is given. */
export function collectingOutput(json = false): { out: Output; stdout: () => string; stderr: () => string } {
  let o = "";
  let e = "";
  const stream = (add: (s: string) => void) => ({ write: (s: string) => (add(s), true), isTTY: false, columns: 80 }) as unknown as NodeJS.WriteStream;
  const out = new Output({ json, quiet: false, verbose: false, color: "never" }, stream((s) => (o += s)), stream((s) => (e += s)));
  return { out, stdout: () => o, stderr: () => e };
}

export interface Context {
  readonly root: string;
  readonly config: Config;
  readonly store: MetadataStore;
  readonly installed: InstalledSource;
  readonly sources: [EbuildSource, InstalledSource];
  readonly facts: EmergeFacts;
  readonly request: RequestAtom[];
  readonly opts: ResolveOptions;
  close(): void;
}

/** The wiring of `ouzo emerge` on a ROOT (its configuration, metadata cache and installed packages). */
export function context(root: string, atoms: readonly string[], opts: ResolveOptions = {}, out = collectingOutput().out): Context {
  const config = new Config({ root, configRoot: root, env: {} });
  const store = new MetadataStore(config.repos, path.join(root, "var/cache/ouzo/metadata.db"), { reporter: out });
  const installed = new InstalledSource(root, out);
  const request = requestOf(config, atoms, root, installed);
  const world = readWorld(root);
  return {
    root,
    config,
    store,
    installed,
    sources: [new EbuildSource(config, store, out), installed],
    facts: new EmergeFacts(config, store, installed.all),
    request,
    opts: { selected: world.atoms, ...opts },
    close: () => store.close(),
  };
}

/** Resolve as `ouzo emerge -p` does (one pass): the selection, or the failure. */
export async function resolveIn(ctx: Context): Promise<{ selection?: Selection; failure?: ResolveFailure }> {
  try {
    return { selection: await new Resolver(ctx.sources, ctx.opts).resolve(ctx.request) };
  } catch (e) {
    if (e instanceof ResolveFailure) return { failure: e };
    throw e;
  }
}

export const atom = (s: string) => Atom.parse(s, USER_CONFIG_EAPI);

/** Lines of a configuration file that `text` names as `file:line` are real: the file exists and has that line. */
export function lineExists(ref: string): boolean {
  const m = /^(\/.*):(\d+)$/.exec(ref);
  if (!m) return false;
  const lines = fs.readFileSync(m[1]!, "utf8").split("\n");
  return Number(m[2]) >= 1 && Number(m[2]) <= lines.length && lines[Number(m[2]) - 1]!.trim() !== "";
}

/** An installed package of the fixture kit (its vdb files). */
export const installedPackage = (cpv: string, files: Record<string, string> = {}) => vdb(cpv, { repository: "explain-kit", ...files });
const pkg = installedPackage;

/**
 * An installed system: @world has app-misc/top (and the fixture's app-misc/older); top needs liba
 * (whose || group the installed alt1 satisfies first), lang:1 and multi, and builds with
 * buildonly; orphan, alt2, lang-2.0 (slot 2) and multi-1.0 (an older slot) are needed by nothing.
 */
export const SYSTEM: Record<string, string> = {
  "var/lib/portage/world": "app-misc/older\napp-misc/top\n",
  ...pkg("app-misc/top-1.0", { RDEPEND: "dev-libs/liba dev-lang/lang:1 dev-libs/multi", DEPEND: "app-misc/buildonly" }),
  ...pkg("dev-libs/liba-1.0", { RDEPEND: "|| ( dev-libs/alt1 dev-libs/alt2 )" }),
  ...pkg("dev-libs/alt1-1.0"),
  ...pkg("dev-libs/alt2-1.0"),
  ...pkg("app-misc/buildonly-1.0"),
  ...pkg("dev-libs/orphan-1.0"),
  ...pkg("dev-lang/lang-1.0", { SLOT: "1" }),
  ...pkg("dev-lang/lang-2.0", { SLOT: "2" }),
  ...pkg("dev-libs/multi-1.0", { SLOT: "1" }),
  ...pkg("dev-libs/multi-2.0", { SLOT: "2" }),
};

