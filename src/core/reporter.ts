/** Core code never prints: it reports events, and the CLI picks how to render them. */
export type ReportEvent =
  | { kind: "started"; task: string; total?: number }
  | { kind: "progress"; task: string; done: number; total?: number; item?: string }
  | { kind: "finished"; task: string; message?: string }
  | { kind: "warning"; code: string; message: string }
  | { kind: "info"; message: string }
  /** Something a person waiting should know (a long task starting and why): shown unless --quiet or --json. */
  | { kind: "notice"; message: string };

export interface Reporter {
  report(event: ReportEvent): void;
}

/** Collects events; used by tests and by callers that render at the end. */
export class CollectingReporter implements Reporter {
  readonly events: ReportEvent[] = [];
  report(event: ReportEvent): void {
    this.events.push(event);
  }
  warnings(): string[] {
    return this.events.flatMap((e) => (e.kind === "warning" ? [e.message] : []));
  }
}

export const silentReporter: Reporter = { report() {} };
