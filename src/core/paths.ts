import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/** ouzo's installation directory (where package.json, profiles/ and fixtures/ live), bundled or not. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj) && fs.readFileSync(pj, "utf8").includes('"name": "ouzo"')) return (cached = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find ouzo's package root");
    dir = up;
  }
}

export function packagePath(...parts: string[]): string {
  return path.join(packageRoot(), ...parts);
}
