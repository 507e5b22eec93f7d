import { parseArgs } from "node:util";
import type { Argv } from "yargs";

/**
 * ouzo's command line, declared once. yargs builds the help, the usage errors and the command
 * suggestions from this table. A plain, well-formed command line (the common case, and the one
 * scripts run) is read by `quickParse` with node's own util.parseArgs instead: loading and
 * running yargs costs about 30 ms on the 2-core test machine, a fifth of the start-up budget.
 * Anything quickParse is not sure of goes to yargs, so both agree by construction; a test
 * compares them on a corpus of command lines.
 */

export interface OptionSpec {
  readonly type: "string" | "boolean" | "number";
  readonly describe: string;
  readonly alias?: string;
  readonly default?: string | boolean | number;
  readonly choices?: readonly string[];
  /** Repeatable: the values are collected into an array. */
  readonly array?: boolean;
}

export interface CommandSpec<H> {
  /** yargs' usage form, with every word: `profile arch <name>`, `vercmp [a] [b]`, `atom <atoms..>`. */
  readonly usage: string;
  readonly describe: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Words after the command that start with `-` are arguments (`mix-ins -kde`), not options. */
  readonly dashArgs?: boolean;
  readonly run: H;
}

export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  root: { type: "string", describe: "install into this ROOT (Portage's ROOT)" },
  "config-root": { type: "string", describe: "read /etc/portage from here (PORTAGE_CONFIGROOT)" },
  json: { type: "boolean", describe: "print one JSON document" },
  quiet: { type: "boolean", alias: "q", describe: "print less" },
  verbose: { type: "boolean", alias: "v", describe: "print more" },
  color: { type: "string", choices: ["auto", "always", "never"], default: "auto", describe: "colour output" },
  "cache-dir": { type: "string", describe: "where caches live (default ROOT/var/cache/ouzo; env OUZO_CACHE_DIR)" },
};

interface Positional {
  readonly name: string;
  readonly required: boolean;
  readonly variadic: boolean;
}

/** The command words and positionals of a usage string. */
function shape(usage: string): { words: string[]; positionals: Positional[] } {
  const words: string[] = [];
  const positionals: Positional[] = [];
  for (const t of usage.split(" ")) {
    const m = /^([<[])([\w-]+)(\.\.)?[>\]]$/.exec(t);
    if (m) positionals.push({ name: m[2]!, required: m[1] === "<", variadic: !!m[3] });
    else words.push(t);
  }
  return { words, positionals };
}

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export type ParsedArgs = Record<string, unknown>;

/**
 * Read a plain command line without yargs: the command's words first, then its positionals and
 * known options in any order. Returns undefined for anything else (help, errors, `--`, repeated
 * options, a bad number or choice), which yargs then handles and explains.
 */
export function quickParse<H>(argv: readonly string[], commands: readonly CommandSpec<H>[]): { command: CommandSpec<H>; args: ParsedArgs } | undefined {
  if (argv.some((a) => a === "--" || a === "--help" || a === "-h" || a === "--version" || a === "-V")) return undefined;
  const command = commands.find((c) => shape(c.usage).words.every((w, i) => argv[i] === w));
  if (!command) return undefined;
  const { words, positionals } = shape(command.usage);
  const rest = argv.slice(words.length);
  if (command.dashArgs && rest.some((a) => a.startsWith("-"))) return undefined;
  const specs: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...command.options };
  const options: NonNullable<Parameters<typeof parseArgs>[0]>["options"] = {};
  for (const [name, o] of Object.entries(specs)) {
    options[name] = { type: o.type === "boolean" ? "boolean" : "string", ...(o.alias ? { short: o.alias } : {}), ...(o.array ? { multiple: true } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, strict: true, allowPositionals: true, allowNegative: true, tokens: true } as Parameters<typeof parseArgs>[0] & { allowNegative: boolean });
  } catch {
    return undefined;
  }
  // an option given twice: yargs makes an array of it
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== "option") continue;
    if (seen.has(t.name) && !specs[t.name]?.array) return undefined;
    seen.add(t.name);
  }
  const args: ParsedArgs = {};
  for (const [name, o] of Object.entries(specs)) {
    let v: unknown = (parsed.values as Record<string, unknown>)[name];
    if (v === undefined) v = o.default;
    else if (o.type === "number") {
      v = Number(v);
      if (!Number.isFinite(v)) return undefined;
    }
    if (o.choices && v !== undefined && !o.choices.includes(v as string)) return undefined;
    if (v === undefined) continue;
    args[name] = v;
    args[camel(name)] = v;
    if (o.alias) args[o.alias] = v;
  }
  const given = parsed.positionals;
  let i = 0;
  for (const p of positionals) {
    if (p.variadic) {
      if (p.required && i >= given.length) return undefined;
      args[p.name] = given.slice(i);
      i = given.length;
    } else if (i < given.length) args[p.name] = given[i++];
    else if (p.required) return undefined;
  }
  if (i < given.length) return undefined;
  return { command, args };
}

/** Declare the table to yargs: commands of two words are grouped under their first word. */
export function declare<H>(cli: Argv, commands: readonly CommandSpec<H>[], groups: Readonly<Record<string, string>>, onChosen: (c: CommandSpec<H>) => void): Argv {
  for (const [name, o] of Object.entries(GLOBAL_OPTIONS)) cli = cli.option(name, { ...yargsOption(o), global: true });
  const builder = (c: CommandSpec<H>) => (y: Argv) => {
    onChosen(c);
    for (const p of shape(c.usage).positionals) y = y.positional(p.name, { type: "string", ...(p.variadic ? { array: true } : {}), ...(p.required ? { demandOption: true } : {}) });
    for (const [name, o] of Object.entries(c.options ?? {})) y = y.option(name, yargsOption(o));
    if (c.dashArgs) y = y.parserConfiguration({ "unknown-options-as-args": true });
    return y;
  };
  const done = new Set<string>();
  for (const c of commands) {
    const first = shape(c.usage).words[0]!;
    if (!(first in groups)) {
      cli = cli.command(c.usage, c.describe, builder(c));
      continue;
    }
    if (done.has(first)) continue;
    done.add(first);
    const members = commands.filter((m) => shape(m.usage).words[0] === first);
    cli = cli.command(first, groups[first]!, (y) => {
      for (const m of members) y = y.command(m.usage.slice(first.length + 1), m.describe, builder(m));
      return y.demandCommand(1, `${first} needs a subcommand; see 'ouzo ${first} --help'`);
    });
  }
  return cli;
}

function yargsOption(o: OptionSpec) {
  return {
    type: o.type,
    describe: o.describe,
    ...(o.alias ? { alias: o.alias } : {}),
    ...(o.default !== undefined ? { default: o.default } : {}),
    ...(o.choices ? { choices: [...o.choices] } : {}),
    ...(o.array ? { array: true } : {}),
  } as const;
}
