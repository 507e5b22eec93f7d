import { afterEach, describe, expect, it, vi } from "vitest";
import { Output, progressLine } from "../src/ui/Output.js";

/** A stream that keeps what is written, as a pipe or a log file would receive it. */
function sink(): NodeJS.WriteStream & { text: string } {
  const s = { text: "", isTTY: false, columns: undefined, write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

afterEach(() => vi.useRealTimers());

describe("progress where stderr cannot redraw (a pipe, a log)", () => {
  it("is silent for a short task, then prints a plain line every 15 s with a steady rate and ETA", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const err = sink();
    const out = new Output({ json: false, quiet: false, verbose: false, color: "never" }, sink(), err);
    out.report({ kind: "started", task: "regen: sourcing 1000 ebuilds of 3 repositories", total: 1000 });
    vi.advanceTimersByTime(4000);
    out.report({ kind: "progress", task: "regen: sourcing 1000 ebuilds of 3 repositories", done: 40, total: 1000 });
    expect(err.text).toBe("");
    vi.advanceTimersByTime(1000);
    out.report({ kind: "progress", task: "regen: sourcing 1000 ebuilds of 3 repositories", done: 50, total: 1000 });
    expect(err.text).toBe("regen: sourcing 1000 ebuilds of 3 repositories: 50/1000 (5%) 10/s, about 95s left\n");
    vi.advanceTimersByTime(5000);
    out.report({ kind: "progress", task: "regen: sourcing 1000 ebuilds of 3 repositories", done: 100, total: 1000 });
    expect(err.text.split("\n")).toHaveLength(2);
    vi.advanceTimersByTime(10000);
    out.report({ kind: "progress", task: "regen: sourcing 1000 ebuilds of 3 repositories", done: 200, total: 1000 });
    expect(err.text.split("\n")[1]).toBe("regen: sourcing 1000 ebuilds of 3 repositories: 200/1000 (20%) 10/s, about 80s left");
  });

  it("says nothing with --json or --quiet", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    for (const opts of [{ json: true, quiet: false }, { json: false, quiet: true }]) {
      const err = sink();
      const out = new Output({ ...opts, verbose: false, color: "never" }, sink(), err);
      out.report({ kind: "started", task: "t", total: 10 });
      vi.advanceTimersByTime(60000);
      out.report({ kind: "progress", task: "t", done: 5, total: 10 });
      out.report({ kind: "notice", message: "a notice" });
      expect(err.text).toBe("");
    }
  });
});

describe("the progress line", () => {
  it("shows no rate or ETA before a task has a few seconds and items behind it, then minutes past 100 s", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    expect(progressLine("sync kits", 1, 30, Date.now() - 500, 100)).toBe("sync kits [#.............................] 1/30");
    expect(progressLine("regen", 30, 22000, Date.now() - 10_000, 100)).toBe(`regen [${".".repeat(30)}] 30/22000 3.0/s ETA 122m04s`);
  });
});
