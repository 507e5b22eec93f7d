// The image ${D} as a list of entries, top-down, directories before their contents (build spec
// §10.1 step 6, §10.3). Names that could not be recorded in CONTENTS stop the merge here, before
// any change (§9.4, §10.8 "ouzo should").
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";
import type { Reporter } from "../core/reporter.js";

export type ImageType = "dir" | "obj" | "sym" | "fif" | "dev";

export interface ImageEntry {
  /** The path as merged and recorded: "/usr/bin/foo". */
  readonly path: string;
  /** The entry's host path inside the image. */
  readonly src: string;
  readonly type: ImageType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Milliseconds, as stat gives them; CONTENTS records the whole seconds. */
  readonly mtimeMs: number;
  readonly atimeMs: number;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  readonly nlink: number;
  readonly rdev: number;
  /** A symlink's text, with a leading ${D} taken off (EAPI ≤ 8). */
  readonly target?: string;
  /** The text had ${D} in front and must be created anew rather than moved. */
  readonly rewritten?: boolean;
  /** A regular file's MD5, when whoever wrote the image computed it while writing (else the merge reads the file). */
  readonly md5?: string;
}

/** Whole seconds of an mtime, as CONTENTS records it. */
export const seconds = (ms: number): number => Math.floor(ms / 1000);

/** A path CONTENTS cannot record stops the merge before any change. */
export function checkImageName(p: string): void {
  if (/[\n\r]/.test(p)) throw new OuzoError("merge-bad-name", `the image holds a name with a newline or carriage return, which CONTENTS cannot record: ${JSON.stringify(p)}`);
  if (p.includes("\uFFFD")) throw new OuzoError("merge-bad-name", `the image holds a name that is not valid UTF-8: ${JSON.stringify(p)}`);
}

/** A symlink whose path or text CONTENTS cannot record (`sym PATH -> TARGET MTIME`). */
export function checkSymlinkText(p: string, target: string): void {
  if (p.includes(" -> ") || target.includes(" -> ") || /[\n\r]/.test(target)) {
    throw new OuzoError("merge-bad-name", `the symlink ${p} -> ${target} cannot be recorded in CONTENTS (' -> ' or a newline in its path or target)`);
  }
}

/**
 * Entries given by whoever wrote the image (the anise unpacker keeps its files flat, under
 * numbered names, and says where each goes): checked as a walk would check them.
 */
export function checkImageEntries(entries: readonly ImageEntry[]): readonly ImageEntry[] {
  for (const e of entries) {
    checkImageName(e.path);
    if (e.type === "sym") checkSymlinkText(e.path, e.target ?? "");
  }
  return entries;
}

export function walkImage(imageDir: string, opts: { eapi?: string; reporter?: Reporter } = {}): ImageEntry[] {
  const image = path.resolve(imageDir);
  const top = fs.lstatSync(image, { throwIfNoEntry: false });
  if (!top?.isDirectory()) throw new OuzoError("merge-no-image", `the image ${image} is not a directory`);
  const out: ImageEntry[] = [];
  const stripD = !/^(9|[1-9]\d+)$/.test(opts.eapi ?? "0");
  const visit = (dir: string, rel: string) => {
    const names = fs.readdirSync(dir).sort();
    for (const name of names) {
      const p = `${rel}/${name}`;
      checkImageName(p);
      const src = `${dir}/${name}`;
      const st = fs.lstatSync(src);
      const base = { path: p, src, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, atimeMs: st.atimeMs, size: st.size, dev: st.dev, ino: st.ino, nlink: st.nlink, rdev: st.rdev };
      if (st.isDirectory()) {
        out.push({ ...base, type: "dir" });
        visit(src, p);
      } else if (st.isFile()) out.push({ ...base, type: "obj" });
      else if (st.isSymbolicLink()) {
        let target = fs.readlinkSync(src);
        let rewritten = false;
        if (stripD && (target === image || target.startsWith(`${image}/`))) {
          target = target.slice(image.length) || "/";
          rewritten = true;
          opts.reporter?.report({ kind: "warning", code: "merge-qa-symlink", message: `QA: the symlink ${p} pointed into the image (${image}); it now points at ${target}` });
        }
        checkSymlinkText(p, target);
        out.push({ ...base, type: "sym", target, ...(rewritten ? { rewritten } : {}) });
      } else if (st.isFIFO()) out.push({ ...base, type: "fif" });
      else if (st.isCharacterDevice() || st.isBlockDevice()) out.push({ ...base, type: "dev", mode: st.mode });
      else opts.reporter?.report({ kind: "warning", code: "merge-socket", message: `${p} is a socket; sockets are not merged` });
    }
  };
  visit(image, "");
  return out;
}
