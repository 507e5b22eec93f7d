// Atom parsing and version comparison throughput (issue: foundation).
import { Atom } from "../dist/pms/atom.js";
import { Version, compareVersions } from "../dist/pms/version.js";
import { figure } from "./util.js";

const atoms = [];
const ops = ["", ">=", "<", "=", "~", ">", "<="];
for (let i = 0; i < 1000; i++) {
  const op = ops[i % ops.length];
  const ver = op ? `-${i % 13}.${i % 7}.${i}${i % 5 === 0 ? "_rc1" : ""}${i % 3 === 0 ? "-r1" : ""}`.replace(/^-(.*)-r1$/, op === "~" ? "-$1" : "-$1-r1") : "";
  const slot = i % 4 === 0 ? ":0/1.2=" : i % 4 === 1 ? ":3" : "";
  const use = i % 6 === 0 ? "[ssl,-doc,python_targets_python3_11(-)?]" : "";
  atoms.push(`${op}dev-libs/package${i}${ver}${slot}${use}`);
}
for (const a of atoms) Atom.parse(a); // all valid

function rate(fn, n) {
  fn(Math.min(n, 20000));
  const t0 = process.hrtime.bigint();
  fn(n);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return Math.round(n / s);
}

const parseRate = rate((n) => {
  for (let i = 0; i < n; i++) Atom.parse(atoms[i % atoms.length]);
}, 2_000_000);
figure("atom parsing (mixed EAPI 8 atoms)", parseRate.toLocaleString("en"), "atoms/s", "≥ 1,000,000");

const versions = [];
for (let i = 0; i < 1000; i++) versions.push(Version.parse(`${i % 9}.${i % 31}.${i % 7}${i % 11 === 0 ? "b" : ""}${i % 5 === 0 ? "_p" + i : ""}${i % 3 === 0 ? "-r" + (i % 4) : ""}`));
let sink = 0;
const cmpRate = rate((n) => {
  for (let i = 0; i < n; i++) sink += compareVersions(versions[i % 1000], versions[(i * 7 + 3) % 1000]);
}, 20_000_000);
figure("version comparison (parsed versions)", cmpRate.toLocaleString("en"), "cmp/s", "≥ 5,000,000");
if (sink === 0.5) console.log("");
