import * as readline from "node:readline";
import { OuzoError, UsageError } from "../../core/errors.js";
import { Atom } from "../../pms/atom.js";
import { USER_CONFIG_EAPI, eapiFeatures } from "../../pms/eapi.js";
import { Version, compareVersions } from "../../pms/version.js";
import type { Output } from "../../ui/Output.js";

const SYMBOL = ["<", "=", ">"] as const;

function compareOrThrow(a: string, b: string): number {
  return Math.sign(compareVersions(Version.parse(a), Version.parse(b)));
}

/** `ouzo vercmp A B` and `ouzo vercmp --stdin`. Returns the exit code. */
export async function vercmpCommand(args: { a?: string; b?: string; stdin?: boolean; json?: boolean }, out: Output): Promise<number> {
  if (!args.stdin) {
    if (args.a === undefined || args.b === undefined) throw new UsageError("vercmp needs two versions (or --stdin)");
    const cmp = compareOrThrow(args.a, args.b);
    if (args.json) out.json({ a: args.a, b: args.b, cmp });
    else out.result(SYMBOL[cmp + 1]!);
    return 0;
  }
  let failed = false;
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const lines: string[] = [];
  let n = 0;
  for await (const raw of rl) {
    n++;
    const line = raw.trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw new OuzoError("BAD_INPUT", `expected 'A B', found '${line}'`, { file: "<stdin>", line: n });
    const [a, b] = parts as [string, string];
    try {
      const cmp = compareOrThrow(a, b);
      lines.push(args.json ? JSON.stringify({ a, b, cmp }) : SYMBOL[cmp + 1]!);
    } catch (e) {
      if (!(e instanceof OuzoError)) throw e;
      failed = true;
      out.error(`<stdin>:${n}: ${e.message}`);
      lines.push(args.json ? JSON.stringify({ a, b, cmp: null, error: e.message }) : "?");
    }
  }
  process.stdout.write(lines.length ? lines.join("\n") + "\n" : "");
  return failed ? 1 : 0;
}

/** JSON shape of `ouzo atom --json`, exactly these keys. */
export function atomJson(input: string, eapi: string) {
  const features = eapi === "user" ? USER_CONFIG_EAPI : eapiFeatures(eapi);
  if (!features) throw new UsageError(`unknown EAPI '${eapi}'`);
  try {
    const a = Atom.parse(input, features);
    return {
      input,
      valid: true,
      error: null,
      canonical: a.toString(),
      blocker: a.blocker ?? null,
      operator: a.operator ?? null,
      category: a.category,
      package: a.package_,
      version: a.version?.text ?? null,
      revision: a.version?.hasRevision ? a.version.revision : null,
      slot: a.slot ?? null,
      subslot: a.subslot ?? null,
      slotOperator: a.slotOperator ?? null,
      use: a.useDeps.map((u) => u.text),
      repo: a.repo ?? null,
    };
  } catch (e) {
    if (!(e instanceof OuzoError)) throw e;
    return {
      input, valid: false, error: e.message, canonical: null, blocker: null, operator: null, category: null, package: null,
      version: null, revision: null, slot: null, subslot: null, slotOperator: null, use: [], repo: null,
    };
  }
}

export function atomCommand(args: { atoms: string[]; eapi: string; json?: boolean }, out: Output): number {
  if (!args.atoms.length) throw new UsageError("atom needs at least one atom");
  const results = args.atoms.map((a) => atomJson(a, String(args.eapi)));
  if (args.json) out.json(results);
  else {
    for (const r of results) {
      if (r.valid) out.result(`${r.canonical}\tvalid`);
      else out.error(r.error!);
    }
  }
  return results.every((r) => r.valid) ? 0 : 1;
}
