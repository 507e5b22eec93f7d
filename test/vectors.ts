import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

/** Rows of a tab-separated vector file; `#` lines and blank lines are skipped. `\n`/`\t` escapes are decoded. */
export function vectorRows(name: string): string[][] {
  return readFileSync(`${FIXTURES}vectors/${name}`, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.split("\t").map((c) => c.replace(/\\n/g, "\n").replace(/\\t/g, "\t")));
}

/** Blocks of lines separated by blank lines (comments skipped). */
export function vectorBlocks(name: string): string[][] {
  const blocks: string[][] = [[]];
  for (const l of readFileSync(`${FIXTURES}vectors/${name}`, "utf8").split("\n")) {
    if (l.startsWith("#")) continue;
    if (l.trim() === "") {
      if (blocks[blocks.length - 1]!.length) blocks.push([]);
    } else blocks[blocks.length - 1]!.push(l.trim());
  }
  return blocks.filter((b) => b.length);
}
