// Importing an existing anise system: its bbolt database (written here by hand, as bbolt and
// storm lay it out: meta pages, a branch page, leaf pages, inline and nested buckets) read
// without being changed, and each package recorded in /var/db/pkg with the files it has on disk.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { readAniseDb } from "../src/anise/importDb.js";
import { readInstalled } from "../src/vdb/installed.js";
import { anise } from "./aniseFixture.js";
import { tmpdir } from "./helpers.js";

const PAGE = 4096;

interface Item {
  key: Buffer;
  value?: Buffer;
  /** A nested bucket: its entries inline, or on page `page`. */
  bucket?: { items: Item[] } | { page: number };
}

/** A page's body (header first): leaf elements, then keys and values; `id` 0 for an inline page. */
function leaf(items: Item[], id = 0): Buffer {
  const values = items.map((it) => {
    if (!it.bucket) return it.value!;
    const head = Buffer.alloc(16);
    if ("page" in it.bucket) {
      head.writeBigUInt64LE(BigInt(it.bucket.page), 0);
      return head;
    }
    return Buffer.concat([head, leaf(it.bucket.items)]);
  });
  const header = Buffer.alloc(16 + items.length * 16);
  header.writeBigUInt64LE(BigInt(id), 0);
  header.writeUInt16LE(0x02, 8);
  header.writeUInt16LE(items.length, 10);
  let data = Buffer.alloc(0);
  items.forEach((it, i) => {
    const e = 16 + i * 16;
    const pos = header.length + data.length - e;
    header.writeUInt32LE(it.bucket ? 1 : 0, e);
    header.writeUInt32LE(pos, e + 4);
    header.writeUInt32LE(it.key.length, e + 8);
    header.writeUInt32LE(values[i]!.length, e + 12);
    data = Buffer.concat([data, it.key, values[i]!]);
  });
  return Buffer.concat([header, data]);
}

function branch(children: { key: Buffer; page: number }[], id: number): Buffer {
  const header = Buffer.alloc(16 + children.length * 16);
  header.writeBigUInt64LE(BigInt(id), 0);
  header.writeUInt16LE(0x01, 8);
  header.writeUInt16LE(children.length, 10);
  let data = Buffer.alloc(0);
  children.forEach((c, i) => {
    const e = 16 + i * 16;
    header.writeUInt32LE(header.length + data.length - e, e);
    header.writeUInt32LE(c.key.length, e + 4);
    header.writeBigUInt64LE(BigInt(c.page), e + 8);
    data = Buffer.concat([data, c.key]);
  });
  return Buffer.concat([header, data]);
}

function fnv(buf: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of buf) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

function meta(id: number, txid: number, pages: number): Buffer {
  const p = Buffer.alloc(PAGE);
  p.writeBigUInt64LE(BigInt(id), 0);
  p.writeUInt16LE(0x04, 8);
  const m = 16;
  p.writeUInt32LE(0xed0cdaed, m);
  p.writeUInt32LE(2, m + 4);
  p.writeUInt32LE(PAGE, m + 8);
  p.writeBigUInt64LE(3n, m + 16); // root bucket's page
  p.writeBigUInt64LE(2n, m + 32); // freelist
  p.writeBigUInt64LE(BigInt(pages), m + 40);
  p.writeBigUInt64LE(BigInt(txid), m + 48);
  p.writeBigUInt64LE(fnv(p.subarray(m, m + 56)), m + 56);
  return p;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc(PAGE - b.length)]);
const id8 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const json = (x: unknown) => Buffer.from(JSON.stringify(x));
const k = (s: string) => Buffer.from(s);

/** anise.db with two packages: records on two leaf pages under a branch page, files and finalizers in nested inline buckets. */
function aniseDb(file: string): void {
  const pkgA = { id: 1, name: "mark", category: "repository", version: "20250104", repository: "geaaru", requires: null, hidden: false };
  const pkgB = { id: 2, name: "tool", category: "app-misc", version: "1.2+3", repository: "mottainai", requires: [{ name: "mark", category: "repository", version: ">=0" }], labels: { "original.package.slot": "0" } };
  const pages: Buffer[] = [];
  pages[0] = meta(0, 7, 8);
  pages[1] = meta(1, 6, 8);
  const free = Buffer.alloc(16);
  free.writeBigUInt64LE(2n, 0);
  free.writeUInt16LE(0x10, 8);
  pages[2] = pad(free);
  pages[3] = pad(
    leaf(
      [
        { key: k("DefaultPackage"), bucket: { page: 4 } },
        { key: k("files"), bucket: { items: [{ key: k("PackageFile"), bucket: { items: [{ key: id8(1), value: json({ ID: 1, PackageFingerprint: "mark-repository-20250104", Files: ["etc/anise/repos.conf.d/mark.yml"] }) }, { key: id8(2), value: json({ ID: 2, PackageFingerprint: "tool-app-misc-1.2+3", Files: ["usr/bin/tool", "usr/lib/tool.so", "usr/share/gone"] }) }, { key: k("__storm_index_PackageFingerprint"), bucket: { items: [{ key: k("mark-repository-20250104"), value: id8(1) }] } }] } }] } },
        { key: k("finalizers"), bucket: { items: [{ key: k("PackageFinalizer"), bucket: { items: [{ key: id8(1), value: json({ ID: 1, PackageFingerprint: "tool-app-misc-1.2+3", Shell: [], Install: ["ldconfig"], Uninstall: ["echo bye > /bye"] }) }] } }] } },
        { key: k("__storm_db"), bucket: { items: [{ key: k("version"), value: json("2.0.0") }] } },
      ],
      3,
    ),
  );
  pages[4] = pad(branch([{ key: id8(1), page: 5 }, { key: id8(2), page: 6 }], 4));
  pages[5] = pad(leaf([{ key: id8(1), value: json(pkgA) }, { key: k("__storm_metadata"), bucket: { items: [{ key: k("Codec"), value: json("json") }] } }], 5));
  pages[6] = pad(leaf([{ key: id8(2), value: json(pkgB) }], 6));
  pages[7] = Buffer.alloc(PAGE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat(pages));
}

describe("importing an anise system's database", () => {
  it("reads bbolt through storm's layout", () => {
    const file = path.join(tmpdir(), "anise.db");
    aniseDb(file);
    const pkgs = readAniseDb(file);
    expect(pkgs.map((p) => `${p.spec.category}/${p.spec.name}-${p.spec.version}::${p.repository} ${p.files.length}`)).toEqual(["repository/mark-20250104::geaaru 1", "app-misc/tool-1.2+3::mottainai 3"]);
    expect(pkgs[1]!.finalizer).toEqual({ shell: ["sh", "-c"], install: ["ldconfig"], uninstall: ["echo bye > /bye"] });
    expect(pkgs[1]!.spec.requires).toEqual([{ category: "repository", name: "mark", version: ">=0" }]);
  });

  it("records each package in /var/db/pkg with the files on disk, and leaves the database as it was", async () => {
    const root = tmpdir();
    const db = path.join(root, "var/cache/anise/anise.db");
    aniseDb(db);
    const before = fs.readFileSync(db);
    for (const [rel, text] of [["etc/anise/repos.conf.d/mark.yml", "name: mark\n"], ["usr/bin/tool", "#!/bin/sh\n"], ["usr/lib/tool.so", "so\n"]] as const) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
    const r = await anise(["database", "import", "--system-target", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(readInstalled(root).map((p) => p.cpv)).toEqual(["app-misc/tool-1.2", "repository/mark-20250104"]);
    const tool = readInstalled(root).find((p) => p.package === "tool")!;
    const contents = fs.readFileSync(path.join(tool.dir, "CONTENTS"), "utf8");
    expect(contents).toContain(`obj /usr/bin/tool ${createHash("md5").update("#!/bin/sh\n").digest("hex")} `);
    expect(contents).not.toContain("/usr/share/gone");
    expect(tool.rdepend).toBe("repository/mark");
    expect(fs.readFileSync(path.join(tool.dir, "ANISE_VERSION"), "utf8").trim()).toBe("1.2+3");
    expect(fs.readFileSync(db).equals(before)).toBe(true);
    const get = YAML.parse((await anise(["database", "get", "tool", "--system-target", root])).stdout);
    expect(get.finalizer.uninstall).toEqual(["echo bye > /bye"]);
    const belongs = await anise(["q", "belongs", "/usr/lib/tool.so", "--system-target", root]);
    expect(belongs.stdout).toContain("app-misc/tool-1.2");
    // a second import finds them recorded
    const again = await anise(["database", "import", "--system-target", root]);
    expect(again.stdout).toContain("app-misc/tool-1.2+3: already recorded as app-misc/tool-1.2");
    // and they can be removed like any package
    const rm = await anise(["uninstall", "-y", "--skip-finalizers", "repository/mark", "--system-target", root]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(readInstalled(root)).toEqual([]);
    expect(fs.existsSync(path.join(root, "usr/bin/tool"))).toBe(false);
  });
});
