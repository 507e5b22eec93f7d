import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** CLI tests run the compiled bundle: build it from the current sources first. */
export default function setup(): void {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: fileURLToPath(new URL("../", import.meta.url)), stdio: "inherit" });
}
