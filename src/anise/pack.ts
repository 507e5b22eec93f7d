// Making anise packages (anise.md §5, §6): a tar of a rootfs fragment (relative names, directory
// entries, modes, owners, mtimes, symlinks, hard links), zstd-compressed, named by the package's
// fingerprint, with its artifact metadata written beside it as a `.metadata.yaml` sidecar (what
// `anise-build pack` leaves for `create-repo`). The files come from ROOT as an installed package's
// CONTENTS lists them, or from an image directory (a binary package unpacked by the caller); a
// package built from Portage carries its VDB entry under the `portage` subset (§6, §11).
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import YAML from "yaml";
import { CompressStream } from "zstd-napi";
import { OuzoError } from "../core/errors.js";
import { Atom } from "../pms/atom.js";
import { type DepNode, parseDependencies, reduce } from "../pms/depspec.js";
import { eapiFeatures } from "../pms/eapi.js";
import { parseContents } from "../vdb/contents.js";
import type { InstalledPackage } from "../vdb/installed.js";
import { fingerprint, packageDocument, type PackageRefSpec, type PackageSpec } from "./AnisePackage.js";
import { RECORD } from "./AniseRecord.js";

/** One entry to pack: its name in the archive (relative) and where it is on this host. */
interface PackEntry {
  readonly name: string;
  readonly host: string;
}

export interface PackResult {
  readonly artifact: string;
  readonly sidecar: string;
  readonly sha256: string;
  readonly files: string[];
  /** The metadata document written to the sidecar (metadata.json's content in a repository). */
  readonly metadata: Record<string, unknown>;
}

/** The `portage` subset: files under it are installed only where that subset is enabled (§11). */
const PORTAGE_SUBSET = { rules: { portage: ["^/var/db/pkg/"] } };

/** Files of the VDB entry that describe one system only, never packed. */
const VDB_LOCAL = new Set(["COUNTER", "CONTENTS", ...Object.values(RECORD)]);

/** Walk an image directory: every entry, parents first, names sorted. */
function walk(dir: string, rel = "", out: PackEntry[] = []): PackEntry[] {
  for (const n of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    out.push({ name: r, host: path.join(dir, r) });
    if (fs.lstatSync(path.join(dir, r)).isDirectory()) walk(dir, r, out);
  }
  return out;
}

/** The entries of an installed package in ROOT, from its CONTENTS (what is still there). */
function fromContents(root: string, pkg: InstalledPackage): PackEntry[] {
  const text = fs.readFileSync(path.join(pkg.dir, "CONTENTS"), "utf8");
  const out: PackEntry[] = [];
  const seen = new Set<string>();
  const add = (p: string) => {
    const name = p.replace(/^\/+/, "");
    if (!name || seen.has(name)) return;
    const host = path.join(root, name);
    if (!fs.lstatSync(host, { throwIfNoEntry: false })) return;
    seen.add(name);
    out.push({ name, host });
  };
  for (const e of parseContents(text)) {
    // parents first, even those CONTENTS does not list
    const parts = e.path.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) add(parts.slice(0, i).join("/"));
    add(e.path);
  }
  return out;
}

/** Dependencies as anise writes them: leaves of the (USE-reduced) runtime dependencies; the first alternative of `||`. */
export function dependenciesAsRefs(text: string, use: ReadonlySet<string>, eapi = "8"): { requires: PackageRefSpec[]; conflicts: PackageRefSpec[] } {
  const requires: PackageRefSpec[] = [];
  const conflicts: PackageRefSpec[] = [];
  if (!text.trim()) return { requires, conflicts };
  const nodes = reduce(parseDependencies(text, eapiFeatures(eapi) ?? eapiFeatures("8")!), use);
  const seen = new Set<string>();
  const leaf = (a: Atom) => {
    const op = a.operator === "=*" || a.operator === "~" ? ">=" : (a.operator ?? "");
    const r = { category: a.category, name: a.package_, version: a.version ? `${op}${a.version.text}` : ">=0" };
    const key = `${a.blocker ? "!" : ""}${r.category}/${r.name}${r.version}`;
    if (seen.has(key)) return;
    seen.add(key);
    (a.blocker ? conflicts : requires).push(r);
  };
  const visit = (n: DepNode<Atom>) => {
    if (n.kind === "leaf") leaf(n.value);
    else if (n.kind === "any" || n.kind === "exactlyOne" || n.kind === "atMostOne") {
      if (n.children[0]) visit(n.children[0]);
    } else n.children.forEach(visit);
  };
  nodes.forEach(visit);
  return { requires, conflicts };
}

/** The package object of an installed package built from source. */
export function specOfInstalled(pkg: InstalledPackage): PackageSpec {
  const deps = dependenciesAsRefs(`${pkg.rdepend} ${pkg.pdepend}`, new Set(pkg.use), pkg.eapi);
  return {
    category: pkg.category,
    name: pkg.package,
    version: pkg.version.text,
    requires: deps.requires,
    conflicts: deps.conflicts,
    provides: [],
    useFlags: [...pkg.use],
    hidden: false,
    annotations: {},
    labels: { "original.package.name": `${pkg.category}/${pkg.package}`, "original.package.version": pkg.version.text, "original.package.slot": pkg.slot, ...(pkg.repo ? { "original.package.repository": pkg.repo } : {}) },
    description: pkg.description,
    license: pkg.license,
    uri: [],
  };
}

export interface PackInput {
  readonly spec: PackageSpec;
  /** Files from ROOT per an installed package's CONTENTS, or from an image directory. */
  readonly source: { readonly kind: "installed"; readonly root: string; readonly pkg: InstalledPackage } | { readonly kind: "image"; readonly dir: string };
  /** The VDB entry to carry (name → bytes), under var/db/pkg/<cat>/<PF>/; none when empty. */
  readonly vdb?: ReadonlyMap<string, Buffer>;
  readonly vdbPf?: string;
  readonly outDir: string;
  /** zstd level (default 3). */
  readonly level?: number;
}

/** Pack a package; see the file comment. */
export async function packPackage(input: PackInput): Promise<PackResult> {
  const spec = input.spec;
  const entries = input.source.kind === "installed" ? fromContents(input.source.root, input.source.pkg) : walk(input.source.dir);
  const vdb = input.vdb && input.vdb.size ? [...input.vdb].filter(([n]) => !VDB_LOCAL.has(n)) : [];
  const annotations = { ...spec.annotations, ...(vdb.length ? { subsets: PORTAGE_SUBSET } : {}) };
  const full: PackageSpec = { ...spec, annotations };
  const base = `${fingerprint(full)}.package.tar.zst`;
  fs.mkdirSync(input.outDir, { recursive: true });
  const artifact = path.join(input.outDir, base);
  const tmp = path.join(input.outDir, `.${base}.${process.pid}.tmp`);
  const files: string[] = [];
  const pack = tar.pack();
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const writing = pipeline(pack, new CompressStream({ compressionLevel: input.level ?? 3 }), tap, fs.createWriteStream(tmp));
  const put = (header: Parameters<tar.Pack["entry"]>[0], data?: Buffer | fs.ReadStream) =>
    new Promise<void>((resolve, reject) => {
      if (data === undefined) {
        pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
        return;
      }
      if (Buffer.isBuffer(data)) {
        pack.entry(header, data, (err) => (err ? reject(err) : resolve()));
        return;
      }
      const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
      data.on("error", reject);
      data.pipe(sink);
    });
  try {
    const inodes = new Map<string, string>();
    for (const e of entries) {
      const st = fs.lstatSync(e.host);
      const common = { name: e.name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
      if (st.isDirectory()) await put({ ...common, type: "directory" });
      else if (st.isSymbolicLink()) {
        await put({ ...common, type: "symlink", linkname: fs.readlinkSync(e.host) });
        files.push(e.name);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) await put({ ...common, type: "link", linkname: first });
        else {
          if (st.nlink > 1) inodes.set(key, e.name);
          await put({ ...common, type: "file", size: st.size }, st.size < 1 << 20 ? fs.readFileSync(e.host) : fs.createReadStream(e.host));
        }
        files.push(e.name);
      } else if (st.isFIFO()) {
        await put({ ...common, type: "fifo" });
        files.push(e.name);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const major = Math.floor(st.rdev / 256) & 0xfff;
        const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00) >>> 0);
        await put({ ...common, type: st.isBlockDevice() ? "block-device" : "character-device", devmajor: major, devminor: minor });
        files.push(e.name);
      }
    }
    if (vdb.length) {
      const dir = `var/db/pkg/${spec.category}/${input.vdbPf ?? `${spec.name}-${spec.version}`}`;
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      for (const d of ["var", "var/db", "var/db/pkg", `var/db/pkg/${spec.category}`, dir]) {
        if (!entries.some((e) => e.name === d)) await put({ name: d, type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: now });
      }
      for (const [n, data] of vdb.sort(([a], [b]) => (a < b ? -1 : 1))) {
        await put({ name: `${dir}/${n}`, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: now, size: data.length }, data);
        files.push(`${dir}/${n}`);
      }
    }
    pack.finalize();
    await writing;
  } catch (e) {
    pack.destroy();
    fs.rmSync(tmp, { force: true });
    throw new OuzoError("ANISE_PACK", `cannot pack ${spec.category}/${spec.name}-${spec.version}: ${(e as Error).message}`);
  }
  fs.renameSync(tmp, artifact);
  const sha256 = hash.digest("hex");
  const doc = packageDocument(full);
  const metadata: Record<string, unknown> = {
    path: base,
    checksums: { sha256 },
    compressiontype: "zstd",
    files,
    runtime: doc,
    compilespec: { package: doc },
  };
  const sidecar = path.join(input.outDir, `${fingerprint(full)}.metadata.yaml`);
  fs.writeFileSync(sidecar, YAML.stringify(metadata));
  return { artifact, sidecar, sha256, files, metadata };
}

/** The files of a VDB entry directory, for carrying (name → bytes). */
export function readVdbFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of fs.readdirSync(dir)) {
    const p = path.join(dir, n);
    if (fs.statSync(p).isFile()) out.set(n, fs.readFileSync(p));
  }
  return out;
}
