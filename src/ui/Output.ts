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
  private readonly started = new Map<string, number>();

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
    if (this.opts.quiet) return;
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
      case "started":
        this.started.set(e.task, Date.now());
        break;
      case "progress": {
        if (this.opts.json || this.opts.quiet || !this.err.isTTY) return;
        this.err.write(`\r\x1b[K${progressLine(e.task, e.done, e.total, this.started.get(e.task), this.err.columns || 100)}${e.item ? ` ${e.item}` : ""}`.slice(0, (this.err.columns || 100) + 4));
        this.progressShown = true;
        break;
      }
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

/** `task [#####.....] 120/1250 85/s ETA 13s` */
export function progressLine(task: string, done: number, total: number | undefined, startedAt: number | undefined, width: number): string {
  const elapsed = startedAt ? (Date.now() - startedAt) / 1000 : 0;
  const rate = elapsed > 0 ? done / elapsed : 0;
  let bar = "";
  if (total) {
    const n = Math.max(10, Math.min(30, width - 60));
    const filled = Math.round((done / total) * n);
    bar = ` [${"#".repeat(filled)}${".".repeat(n - filled)}] ${done}/${total}`;
  } else bar = ` ${done}`;
  const eta = total && rate > 0 ? ` ETA ${Math.ceil((total - done) / rate)}s` : "";
  return `${task}${bar} ${rate.toFixed(0)}/s${eta}`;
}
