// What an emerge run leaves for people and tools (build spec §13): /var/log/emerge.log in the
// format qlop and genlop read, the elog messages of each package (the end-of-run summary, and
// /var/log/ouzo/messages.jsonl, one JSON record per message).
import * as fs from "node:fs";
import * as path from "node:path";
import type { Output } from "../ui/Output.js";

export class EmergeLog {
  private readonly file: string;
  constructor(root: string) {
    this.file = path.join(root, "var", "log", "emerge.log");
  }

  /** One line, `<epoch>: <text>`; text starts with the spacing of §13.5 (two spaces for most lines). */
  write(text: string): void {
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, `${Math.floor(Date.now() / 1000)}: ${text}\n`, { mode: 0o660 });
    } catch {
      // a log that cannot be written does not stop a merge
    }
  }
}

export type ElogType = "INFO" | "LOG" | "WARN" | "ERROR" | "QA";
export interface ElogMessage {
  readonly phase: string;
  readonly type: ElogType;
  readonly text: string;
}

/** PORTAGE_ELOG_CLASSES: which types are kept (Portage's default: log warn error). */
export function elogClasses(value: string | undefined): Set<ElogType> {
  const words = (value ?? "log warn error").split(/\s+/).filter(Boolean);
  return new Set(words.map((w) => w.toUpperCase()) as ElogType[]);
}

/** The messages a package's phases logged (T/logging/<phase>, lines "<TYPE> <text>"), in phase order. */
export function readElog(tempDir: string, classes: ReadonlySet<ElogType>): ElogMessage[] {
  const dir = path.join(tempDir, "logging");
  const order = ["pretend", "setup", "unpack", "prepare", "configure", "compile", "test", "install", "preinst", "postinst", "prerm", "postrm", "other"];
  let phases: string[];
  try {
    phases = fs.readdirSync(dir).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  } catch {
    return [];
  }
  const out: ElogMessage[] = [];
  for (const phase of phases) {
    for (const line of fs.readFileSync(path.join(dir, phase), "utf8").split("\n")) {
      const m = /^(INFO|LOG|WARN|ERROR|QA) (.*)$/.exec(line);
      if (!m) continue;
      const type = m[1] as ElogType;
      // INFO lines are shown with LOG's class, as Portage groups einfo and elog
      if (!classes.has(type === "INFO" ? "LOG" : type) || type === "INFO") continue;
      out.push({ phase, type, text: m[2]! });
    }
  }
  return out;
}

export class ElogSummary {
  private readonly packages: { cpv: string; messages: ElogMessage[] }[] = [];
  constructor(private readonly root: string) {}

  add(cpv: string, messages: ElogMessage[]): void {
    if (!messages.length) return;
    this.packages.push({ cpv, messages });
    try {
      const dir = path.join(this.root, "var", "log", "ouzo");
      fs.mkdirSync(dir, { recursive: true });
      const time = new Date().toISOString();
      fs.appendFileSync(path.join(dir, "messages.jsonl"), messages.map((m) => JSON.stringify({ time, package: cpv, phase: m.phase, type: m.type, message: m.text })).join("\n") + "\n");
    } catch {
      // as for emerge.log
    }
  }

  /** The end-of-run summary (§13.5), each line in its type's colour. */
  print(out: Output, rootShown: string | undefined): void {
    for (const p of this.packages) {
      out.result("");
      out.result(` * Messages for package ${p.cpv}${rootShown ? ` merged to ${rootShown}` : ""}:`);
      out.result("");
      for (const m of p.messages) {
        const star = m.type === "ERROR" ? out.color("red", "*") : m.type === "WARN" || m.type === "QA" ? out.color("yellow", "*") : out.color("green", "*");
        out.result(` ${star} ${m.text}`);
      }
    }
  }
}
