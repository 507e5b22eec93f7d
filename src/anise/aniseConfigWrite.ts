// Changing anise's client configuration (anise.md §7, §11, §14: `repo enable/disable`, `mask
// add/del/enable/disable`, `subsets enable/disable`) in the files AniseConfig.ts reads it from.
// Each file is edited as a YAML document (yaml's Document API), so that its comments, key order
// and other keys stay as they were; a change is first planned for every file it touches (every
// error found before anything is written), then each file is replaced atomically (temporary
// file, fsync, rename, fsync of the directory) with its mode kept.
import * as fs from "node:fs";
import YAML, { type Document, type YAMLSeq } from "yaml";
import { OuzoError, UsageError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fsutil.js";
import { maskRuleAtom } from "./AniseConfig.js";

/** A planned rewrite of one file. */
export interface YamlEdit {
  readonly file: string;
  readonly text: string;
  readonly mode: number;
  /** False when the document came out as it was: nothing is written. */
  readonly changed: boolean;
  /** Whether the file is new. */
  readonly created: boolean;
}

const oneLine = (e: unknown) => (e as Error).message.split("\n")[0]!;

/** The document of `file`; a missing file is an error unless `fresh` gives the document to start from. */
function load(file: string, fresh?: () => Document): { doc: Document; before: string | undefined; mode: number } {
  let text: string;
  let mode = 0o644;
  try {
    text = fs.readFileSync(file, "utf8");
    mode = fs.statSync(file).mode & 0o7777;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && fresh) return { doc: fresh(), before: undefined, mode };
    throw new OuzoError("ANISE_CONFIG", `cannot read it: ${code === "ENOENT" ? "no such file" : oneLine(e)}`, { file });
  }
  const doc = YAML.parseDocument(text);
  if (doc.errors.length) throw new OuzoError("ANISE_CONFIG", `not valid YAML: ${oneLine(doc.errors[0])}`, { file });
  if (doc.contents === null || (YAML.isScalar(doc.contents) && (doc.contents.value === null || doc.contents.value === ""))) doc.contents = doc.createNode({}) as never;
  if (!YAML.isMap(doc.contents)) throw new OuzoError("ANISE_CONFIG", "not a YAML map", { file });
  return { doc, before: text, mode };
}

function plan(file: string, change: (doc: Document) => void, fresh?: () => Document): YamlEdit {
  const { doc, before, mode } = load(file, fresh);
  change(doc);
  // flow lists as people write them (`[a, b]`, yaml's default pads them)
  const text = doc.toString({ flowCollectionPadding: false });
  return { file, text, mode, changed: text !== before, created: before === undefined };
}

/** Write the planned edits that change something; returns the files written. */
export function commitYamlEdits(edits: readonly YamlEdit[]): string[] {
  const written: string[] = [];
  for (const e of edits) {
    if (!e.changed) continue;
    try {
      atomicWriteFile(e.file, e.text, e.mode);
    } catch (err) {
      throw new OuzoError("ANISE_CONFIG", `cannot write it: ${oneLine(err)}`, { file: e.file });
    }
    written.push(e.file);
  }
  return written;
}

/** The list at `keys` (a single string is read as a list of one, as AniseConfig reads it); created when `create`. */
function listAt(doc: Document, keys: string[], file: string, create: boolean): YAMLSeq | undefined {
  let node: unknown;
  try {
    node = doc.getIn(keys, true);
  } catch {
    node = undefined;
  }
  if (YAML.isSeq(node)) return node;
  const empty = node === undefined || node === null || (YAML.isScalar(node) && (node.value === null || node.value === ""));
  if (empty && !create) return undefined;
  if (!empty && !(YAML.isScalar(node) && typeof node.value === "string")) throw new OuzoError("ANISE_CONFIG", `'${keys.join(".")}' is not a list`, { file });
  const seq = doc.createNode(empty ? [] : [(node as YAML.Scalar).value]) as YAMLSeq;
  try {
    doc.setIn(keys, seq);
  } catch (e) {
    throw new OuzoError("ANISE_CONFIG", `cannot set '${keys.join(".")}': ${oneLine(e)}`, { file });
  }
  return seq;
}

const itemText = (item: unknown) => String(YAML.isScalar(item) ? item.value : item);

/** The strings of the list at `keys` (empty when there is none). */
function strings(doc: Document, keys: string[], file: string): string[] {
  return listAt(doc, keys, file, false)?.items.map(itemText) ?? [];
}

/** Remove every item equal to one of `values`; returns the values removed. */
function removeFrom(doc: Document, keys: string[], file: string, values: ReadonlySet<string>): string[] {
  const seq = listAt(doc, keys, file, false);
  if (!seq) return [];
  const removed: string[] = [];
  for (let i = seq.items.length - 1; i >= 0; i--) {
    const v = itemText(seq.items[i]);
    if (values.has(v)) {
      removed.unshift(v);
      seq.items.splice(i, 1);
    }
  }
  return removed;
}

// --- repositories (repos.conf.d) ---

/** Set `enable` in a repository's own definition file. */
export function planRepoEnable(file: string, enable: boolean): YamlEdit {
  return plan(file, (doc) => doc.set("enable", enable));
}

// --- masks (mask.d) ---

export interface MaskFile {
  readonly file: string;
  readonly description: string;
  /** As ouzo reads it: only `enabled: false` disables a file. */
  readonly enabled: boolean;
  readonly rules: readonly string[];
}

/** A mask file as read (for `mask list`). */
export function readMaskFile(file: string): MaskFile {
  const { doc } = load(file);
  const d = doc.get("description");
  return { file, description: d === undefined || d === null ? "" : String(d), enabled: doc.get("enabled") !== false, rules: strings(doc, ["rules"], file) };
}

/** A rule as mask.d takes it (what AniseConfig can read back), or a usage error naming it. */
export function checkMaskRule(rule: string): string {
  const r = rule.trim();
  if (!r || !maskRuleAtom(r)) throw new UsageError(`'${rule}' is not a mask rule: mask.d takes package atoms such as '>=cat/pkg-1.0', '=cat/pkg-2.0' or 'cat/pkg::repo'`);
  return r;
}

/**
 * Add rules to a mask file (made when missing, with `enabled: true`); rules already in it are
 * left. A file without `enabled` gets `enabled: true`: ouzo reads such a file as enabled, but
 * anise reads it as disabled, and the rules added are meant to count for both.
 */
export function planMaskAdd(file: string, rules: readonly string[]): { edit: YamlEdit; added: string[]; present: string[] } {
  const added: string[] = [];
  const present: string[] = [];
  const edit = plan(
    file,
    (doc) => {
      if (doc.get("enabled") === undefined) doc.set("enabled", true);
      const seq = listAt(doc, ["rules"], file, true)!;
      const have = new Set(seq.items.map(itemText));
      for (const r of rules) {
        if (have.has(r)) present.push(r);
        else {
          have.add(r);
          seq.add(doc.createNode(r));
          added.push(r);
        }
      }
    },
    () => new YAML.Document({ description: "Mask rules written by ouzo anise mask add", enabled: true, rules: [] }),
  );
  return { edit, added, present };
}

/** Remove rules from a mask file; returns those it had. */
export function planMaskDel(file: string, rules: ReadonlySet<string>): { edit: YamlEdit; removed: string[] } {
  let removed: string[] = [];
  const edit = plan(file, (doc) => (removed = removeFrom(doc, ["rules"], file, rules)));
  return { edit, removed };
}

/** Set `enabled` of an existing mask file. */
export function planMaskEnable(file: string, enabled: boolean): YamlEdit {
  return plan(file, (doc) => doc.set("enabled", enabled));
}

// --- subsets (subsets.conf.d, anise.yaml's subsets.enabled) ---

/** The subsets a subsets.conf.d file enables (`enabled`), or an anise.yaml (`subsets.enabled`). */
export function enabledSubsetsIn(file: string, keys: string[]): string[] {
  return strings(load(file).doc, keys, file);
}

/** Add subsets to a subsets.conf.d file (made when missing). */
export function planSubsetsEnable(file: string, names: readonly string[]): YamlEdit {
  return plan(
    file,
    (doc) => {
      const seq = listAt(doc, ["enabled"], file, true)!;
      const have = new Set(seq.items.map(itemText));
      for (const n of names) if (!have.has(n)) seq.add(doc.createNode(n));
    },
    () => new YAML.Document({ enabled: [] }),
  );
}

/** Remove subsets from the list at `keys` of a file (`enabled` of subsets.conf.d, `subsets.enabled` of anise.yaml). */
export function planSubsetsDisable(file: string, keys: string[], names: ReadonlySet<string>): { edit: YamlEdit; removed: string[] } {
  let removed: string[] = [];
  const edit = plan(file, (doc) => (removed = removeFrom(doc, keys, file, names)));
  return { edit, removed };
}
