import type { Reporter, ReportEvent } from "../core/reporter.js";

export type ColorMode = "auto" | "always" | "never";

export interface OutputOptions {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly color: ColorMode;
}

const CODES = { bold: 1, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const;

/** Where the CLI writes: plain lines to a pipe, colours on a terminal, one JSON document with --json. */
export class Output implements Reporter {
  readonly useColor: boolean;
  private progressShown = false;

  constructor(readonly opts: OutputOptions, private readonly out: NodeJS.WriteStream = process.stdout, private readonly err: NodeJS.WriteStream = process.stderr) {
    this.useColor = opts.color === "always" || (opts.color === "auto" && !!out.isTTY && !process.env.NO_COLOR);
  }

  color(name: keyof typeof CODES, text: string): string {
    return this.useColor ? `\x1b[${CODES[name]}m${text}\x1b[0m` : text;
  }

  line(text = ""): void {
    if (!this.opts.json && !this.opts.quiet) this.out.write(text + "\n");
  }

  /** Results that matter even with --quiet. */
  result(text: string): void {
    if (!this.opts.json) this.out.write(text + "\n");
  }

  json(value: unknown): void {
    this.out.write(JSON.stringify(value, null, 2) + "\n");
  }

  warn(message: string): void {
    this.clearProgress();
    this.err.write(`${this.color("yellow", "warning:")} ${message}\n`);
  }

  error(message: string): void {
    this.clearProgress();
    this.err.write(`${this.color("red", "ouzo:")} ${message}\n`);
  }

  report(e: ReportEvent): void {
    switch (e.kind) {
      case "warning":
        if (!this.opts.quiet) this.warn(e.message);
        break;
      case "info":
        if (this.opts.verbose) this.err.write(e.message + "\n");
        break;
      case "progress":
        if (this.opts.json || this.opts.quiet || !this.err.isTTY) return;
        this.err.write(`\r\x1b[K${e.task}: ${e.done}${e.total ? `/${e.total}` : ""}${e.item ? ` ${e.item}` : ""}`);
        this.progressShown = true;
        break;
      case "finished":
        this.clearProgress();
        if (e.message && !this.opts.quiet && !this.opts.json) this.err.write(e.message + "\n");
        break;
      default:
        break;
    }
  }

  clearProgress(): void {
    if (this.progressShown) {
      this.err.write("\r\x1b[K");
      this.progressShown = false;
    }
  }
}
