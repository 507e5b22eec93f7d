// How the CLI wires the build's parts: fetching, the sandbox, the image step, binary packages,
// and where a phase's output goes.
import type { BuildHooks } from "../build/build.js";
import type { BuildSettings } from "../build/phaseEnv.js";
import type { Output } from "../ui/Output.js";

export function buildHooks(settings: BuildSettings, out: Output, opts: { quiet?: boolean } = {}): BuildHooks {
  const loud = !opts.quiet && !out.opts.json;
  return {
    reporter: out,
    quietBuild: !loud,
    onMessage: (line) => {
      if (loud) process.stderr.write(`${line}\n`);
    },
    onOutput: (chunk) => {
      if (loud) process.stderr.write(chunk);
    },
  };
}
