import type { Ora } from "ora";
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
  /** When each task last printed a plain progress line (stderr that cannot redraw). */
  private readonly plainAt = new Map<string, number>();
  /** ora, once `live()` has loaded it for a terminal; then each task shows a spinner line. */
  private makeSpinner: ((text: string) => Ora) | undefined;
  private spinner: Ora | undefined;

  /**
   * Whether stderr is a terminal that can redraw a line in place. A dumb terminal cannot, and a
   * CI log that happens to be a terminal keeps every redraw as a line of its own.
   */
  private readonly redraws: boolean;

  constructor(readonly opts: OutputOptions, private readonly out: NodeJS.WriteStream = process.stdout, private readonly err: NodeJS.WriteStream = process.stderr) {
    this.useColor = opts.color === "always" || (opts.color === "auto" && !!out.isTTY && !process.env.NO_COLOR);
    this.redraws = !!err.isTTY && process.env.TERM !== "dumb" && !("CI" in process.env);
  }

  /**
   * Commands with long tasks (sync, regen) call this first: on a terminal wide enough to draw
   * on, progress becomes an ora spinner line. Pipes, --json and --quiet keep plain output.
   */
  async live(): Promise<void> {
    if (this.opts.json || this.opts.quiet || !this.redraws || (this.err.columns ?? 0) < 20) return;
    const { default: ora } = await import("ora");
    this.makeSpinner = (text) => ora({ text, stream: this.err, discardStdin: false, color: this.useColor ? "cyan" : false }).start();
  }

  /** Write a whole line to stderr without tearing a spinner line. */
  private errLine(text: string): void {
    if (this.spinner) {
      this.spinner.clear();
      this.err.write(text + "\n");
      this.spinner.render();
    } else {
      this.clearProgress();
      this.err.write(text + "\n");
    }
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

  /** A message a person needs while they wait (to stderr), which --quiet silences. */
  notice(message: string): void {
    if (!this.opts.quiet) this.errLine(message);
  }

  warn(message: string): void {
    if (this.opts.quiet) return;
    this.errLine(`${this.color("yellow", "warning:")} ${message}`);
  }

  error(message: string): void {
    this.stopSpinner();
    this.errLine(`${this.color("red", "ouzo:")} ${message}`);
  }

  report(e: ReportEvent): void {
    switch (e.kind) {
      case "warning":
        if (!this.opts.quiet) this.warn(e.message);
        break;
      case "info":
        if (this.opts.verbose) this.errLine(e.message);
        break;
      case "notice":
        if (!this.opts.json) this.notice(e.message);
        break;
      case "started":
        this.started.set(e.task, Date.now());
        if (this.makeSpinner) {
          this.stopSpinner();
          this.spinner = this.makeSpinner(e.task);
        }
        break;
      case "progress": {
        if (!this.spinner && (this.opts.json || this.opts.quiet)) return;
        if (!this.spinner && !this.redraws) {
          // a pipe, a log or a dumb terminal: a plain line now and then, once a task runs long
          const now = Date.now();
          const since = now - (this.started.get(e.task) ?? now);
          if (since < PLAIN_AFTER_MS || now - (this.plainAt.get(e.task) ?? 0) < PLAIN_EVERY_MS) return;
          this.plainAt.set(e.task, now);
          this.err.write(progressLine(e.task, e.done, e.total, this.started.get(e.task), 0, false) + (e.item ? ` ${e.item}` : "") + "\n");
          return;
        }
        const cols = this.err.columns || 100;
        const text = `${progressLine(e.task, e.done, e.total, this.started.get(e.task), cols)}${e.item ? ` ${e.item}` : ""}`;
        if (this.spinner) this.spinner.text = text.slice(0, Math.max(10, cols - 3));
        else {
          this.err.write(`\r\x1b[K${text}`.slice(0, cols + 4));
          this.progressShown = true;
        }
        break;
      }
      case "finished":
        this.stopSpinner();
        this.clearProgress();
        if (e.message && !this.opts.quiet && !this.opts.json) this.err.write(e.message + "\n");
        break;
      default:
        break;
    }
  }

  private stopSpinner(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }

  clearProgress(): void {
    if (this.progressShown) {
      this.err.write("\r\x1b[K");
      this.progressShown = false;
    }
  }
}

/** A task that runs this long gets plain progress lines where stderr cannot redraw, */
const PLAIN_AFTER_MS = 5000;
/** one every so often. */
const PLAIN_EVERY_MS = 15000;

/** `95s` or `3m05s`. */
function duration(seconds: number): string {
  const s = Math.ceil(seconds);
  return s < 100 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/**
 * `task [#####.....] 120/1250 85/s ETA 13s` (a bar when `bar`, as on a terminal; `120/1250 (9%)`
 * on a plain line). The rate is the task's average since it started: steadier than the last
 * seconds' rate, so the ETA does not jump; it is not shown before the task has a few seconds or
 * items behind it, when it would mean nothing.
 */
export function progressLine(task: string, done: number, total: number | undefined, startedAt: number | undefined, width: number, bar = true): string {
  const elapsed = startedAt ? (Date.now() - startedAt) / 1000 : 0;
  const rate = elapsed > 0 ? done / elapsed : 0;
  let count: string;
  if (total && bar) {
    const n = Math.max(10, Math.min(30, width - 60));
    const filled = Math.round((done / total) * n);
    count = ` [${"#".repeat(filled)}${".".repeat(n - filled)}] ${done}/${total}`;
  } else if (total) count = `: ${done}/${total} (${Math.floor((done / total) * 100)}%)`;
  else count = ` ${done}`;
  const settled = elapsed >= 2 && done >= 3;
  const speed = settled ? ` ${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s` : "";
  const eta = settled && total && rate > 0 ? `${bar ? " ETA" : ", about"} ${duration((total - done) / rate)}${bar ? "" : " left"}` : "";
  return `${task}${count}${speed}${eta}`;
}
