// The build directory of one package: PORTAGE_TMPDIR/portage/<cat>/<pf> (build spec §5.5), every
// path of it named once here. People and tools expect this layout; ouzo's own files start ".ouzo".
import * as fs from "node:fs";
import * as path from "node:path";
import { OuzoError } from "../core/errors.js";

/** Phases with a marker file, in the order a source build runs them (spec §1.8). */
export const MARKED_PHASES = ["setup", "unpack", "prepare", "configure", "compile", "test", "install", "instprep", "package"] as const;
export type MarkedPhase = (typeof MARKED_PHASES)[number];

export class BuildDir {
  /** PORTAGE_BUILDDIR */
  readonly dir: string;
  constructor(readonly tmpdir: string, readonly category: string, readonly pf: string) {
    this.dir = path.join(tmpdir, "portage", category, pf);
  }

  get work(): string { return path.join(this.dir, "work"); }
  get image(): string { return path.join(this.dir, "image"); }
  get temp(): string { return path.join(this.dir, "temp"); }
  get home(): string { return path.join(this.dir, "homedir"); }
  get empty(): string { return path.join(this.dir, "empty"); }
  get distdir(): string { return path.join(this.dir, "distdir"); }
  get files(): string { return path.join(this.dir, "files"); }
  get repo(): string { return path.join(this.dir, "repo"); }
  get buildInfo(): string { return path.join(this.dir, "build-info"); }
  get log(): string { return path.join(this.temp, "build.log"); }
  get environment(): string { return path.join(this.temp, "environment"); }
  /** Where a die anywhere in a phase's process tree leaves its message (phase.sh). */
  get dieFile(): string { return path.join(this.temp, ".ouzo_die"); }
  get lockFile(): string { return path.join(this.tmpdir, "portage", this.category, `.${this.pf}.portage_lockfile`); }

  /** Marker name (spec §1.8): "." + phase without a final "e" + "ed"; instprep doubles its p. */
  marker(phase: MarkedPhase | "pretend"): string {
    return path.join(this.dir, phase === "instprep" ? ".instprepped" : `.${phase.replace(/e$/, "")}ed`);
  }

  done(phase: MarkedPhase): boolean {
    return fs.existsSync(this.marker(phase));
  }

  mark(phase: MarkedPhase): void {
    fs.writeFileSync(this.marker(phase), "");
  }

  /**
   * prepare_build_dirs (spec §5.5): the directories a phase expects, HOME emptied, FILESDIR and
   * REPODIR links to the repository.
   */
  prepare(ebuildDir: string, repoRoot: string, workdirMode = 0o700): void {
    const tmp = path.join(this.tmpdir, "portage");
    try {
      fs.mkdirSync(tmp, { recursive: true });
    } catch (e) {
      throw new OuzoError("build-tmpdir", `PORTAGE_TMPDIR ${this.tmpdir}: cannot create ${tmp}: ${(e as Error).message}`);
    }
    fs.rmSync(this.home, { recursive: true, force: true });
    for (const d of [this.dir, this.temp, path.join(this.temp, "logging"), this.home, this.empty, this.buildInfo]) fs.mkdirSync(d, { recursive: true });
    if (!fs.existsSync(this.work)) fs.mkdirSync(this.work, { mode: workdirMode });
    relink(this.files, path.join(ebuildDir, "files"));
    relink(this.repo, repoRoot);
  }

  /** clean (spec §5.7): everything of an earlier build, or with keepwork only the image and HOME. */
  clean(opts: { keepwork?: boolean; keeptemp?: boolean } = {}): void {
    for (const d of [this.image, this.home, this.empty, this.distdir]) fs.rmSync(d, { recursive: true, force: true });
    fs.rmSync(this.marker("install"), { force: true });
    if (opts.keepwork) return;
    if (!opts.keeptemp) fs.rmSync(this.temp, { recursive: true, force: true });
    for (const p of MARKED_PHASES) fs.rmSync(this.marker(p), { force: true });
    for (const d of [this.buildInfo, this.work, this.files, this.repo]) fs.rmSync(d, { recursive: true, force: true });
    if (!opts.keeptemp) {
      fs.rmSync(this.dir, { recursive: true, force: true });
      for (const d of [path.dirname(this.dir)]) {
        try {
          fs.rmdirSync(d);
        } catch {
          // not empty: other packages of the category are being built
        }
      }
    }
  }
}

function relink(link: string, target: string): void {
  try {
    if (fs.readlinkSync(link) === target) return;
  } catch {
    // missing or not a link
  }
  fs.rmSync(link, { force: true, recursive: true });
  fs.symlinkSync(target, link);
}
