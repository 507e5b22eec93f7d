import { Output } from "../ui/Output.js";
import type { GlobalArgs } from "./context.js";

/** The renderer for a command's global options. Kept apart from context.ts so that the CLI entry does not load the configuration code. */
export function makeOutput(args: GlobalArgs): Output {
  return new Output({ json: !!args.json, quiet: !!args.quiet, verbose: !!args.verbose, color: args.color ?? "auto" });
}
