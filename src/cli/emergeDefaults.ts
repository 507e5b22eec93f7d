// EMERGE_DEFAULT_OPTS (emerge spec §1.1): from the environment, else from make.conf of the
// configuration root the command line names (--config-root, --root, PORTAGE_CONFIGROOT, ROOT),
// which are read before it is known. Split as the shell splits a line.
import * as path from "node:path";
import { readMakeConf } from "../config/shellVars.js";
import { configRootOf, type GlobalArgs } from "./context.js";
import { shellWords } from "./emergeArgv.js";

/** The value of `--name` in argv (`--name=v` or `--name v`), the last one given. */
function optionValue(argv: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === "--") break;
    if (w.startsWith(`--${name}=`)) v = w.slice(name.length + 3);
    else if (w === `--${name}` && i + 1 < argv.length) v = argv[++i];
  }
  return v;
}

/** The words of EMERGE_DEFAULT_OPTS for this command line. */
export function emergeDefaultOpts(argv: readonly string[]): string[] {
  let text = process.env.EMERGE_DEFAULT_OPTS;
  if (text === undefined) {
    const args: GlobalArgs = { root: optionValue(argv, "root"), configRoot: optionValue(argv, "config-root") } as GlobalArgs;
    const vars = readMakeConf(path.join(configRootOf(args), "etc", "portage"));
    text = vars.filter((a) => a.name === "EMERGE_DEFAULT_OPTS").pop()?.value;
  }
  return text ? shellWords(text) : [];
}
