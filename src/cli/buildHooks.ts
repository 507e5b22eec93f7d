// Where a build's words go: the phase headers (">>> Compiling source in …"), the phases' own
// output, warnings. --quiet shows nothing but errors; --quiet-build (emerge's option) keeps the
// headers and hides the phases' output, which a failure then shows the end of.
import type { BuildHooks } from "../build/build.js";
import type { Output } from "../ui/Output.js";

export function buildHooks(out: Output, opts: { quiet?: boolean; quietBuild?: boolean } = {}): BuildHooks {
  const headers = !opts.quiet && !out.opts.json;
  const output = headers && !opts.quietBuild;
  return {
    reporter: out,
    quietBuild: !output,
    onMessage: (line) => {
      if (headers) process.stderr.write(`${line}\n`);
    },
    onOutput: (chunk) => {
      if (output) process.stderr.write(chunk);
    },
  };
}
