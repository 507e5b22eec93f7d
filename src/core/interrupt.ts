/**
 * What happens when a signal ends ouzo (Ctrl-C, `kill`, a service manager's stop, a closed
 * terminal): the programs it runs are stopped and waited for, each piece of work in progress
 * cleans up what it can and says what is kept, one line tells the user, and ouzo then ends by the
 * same signal, as it would have. A second signal during that ends ouzo at once.
 */

/** Cleans up after interrupted work; returns what to tell the user (what was kept, what to do). */
export type Cleanup = () => string | undefined;

/**
 * One state for the process: the CLI's core and its heavy commands are bundled apart, each with
 * its own copy of this module (as errors.ts notes), and a cleanup registered by one copy must be
 * run by the handler another copy installed.
 */
interface State {
  readonly cleanups: Cleanup[];
  stopChildren: ((signal: NodeJS.Signals) => Promise<void>) | undefined;
  installed: boolean;
}
const KEY = Symbol.for("ouzo.interrupt");
const state: State = ((globalThis as Record<symbol, State | undefined>)[KEY] ??= { cleanups: [], stopChildren: undefined, installed: false });
const cleanups = state.cleanups;

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export function installInterruptHandling(): void {
  if (state.installed) return;
  state.installed = true;
  for (const signal of SIGNALS) {
    process.once(signal, () => {
      // the other handlers go too: a second signal now takes the default action and ends ouzo
      for (const s of SIGNALS) process.removeAllListeners(s);
      void (async () => {
        await state.stopChildren?.(signal);
        const said: string[] = [];
        for (const c of [...cleanups].reverse()) {
          try {
            const m = c();
            if (m) said.push(m);
          } catch (e) {
            said.push(`cleaning up failed: ${(e as Error).message}`);
          }
        }
        // on a terminal, off the line a spinner or ^C left
        process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}ouzo: interrupted (${signal})${said.length ? `: ${said.join("; ")}` : ""}\n`);
        process.kill(process.pid, signal);
      })();
    });
  }
}

/**
 * Register a cleanup for the work that is starting; call the returned function once it is over.
 * It runs only where the program installed the handling (the CLI does; a library user, such as
 * a test runner's worker, keeps its own signal behaviour).
 */
export function onInterrupt(cleanup: Cleanup): () => void {
  cleanups.push(cleanup);
  return () => {
    const i = cleanups.indexOf(cleanup);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** How the running child processes are stopped (core/spawn.ts registers it). */
export function setChildStopper(fn: (signal: NodeJS.Signals) => Promise<void>): void {
  state.stopChildren = fn;
}
