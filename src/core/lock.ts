import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "./errors.js";

/**
 * An exclusive lock held by a lock file containing the holder's pid. A lock left by a dead process is taken over.
 * Waits up to `timeoutMs` for a live holder to let go.
 */
export class FileLock {
  private held = false;
  constructor(readonly file: string) {}

  async acquire(timeoutMs = 600_000): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const start = Date.now();
    for (;;) {
      try {
        const fd = fs.openSync(this.file, "wx");
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const holder = Number(fs.readFileSync(this.file, "utf8").trim() || "0");
      if (!holder || !processAlive(holder)) {
        fs.rmSync(this.file, { force: true });
        continue;
      }
      if (Date.now() - start > timeoutMs) {
        throw new OuzoError("LOCKED", `lock held by process ${holder}`, { file: this.file });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  release(): void {
    if (this.held) {
      fs.rmSync(this.file, { force: true });
      this.held = false;
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
