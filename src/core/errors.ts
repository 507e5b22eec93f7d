/** Errors are values with a stable code, a one-line message and where they come from. */
export interface ErrorOrigin {
  file?: string;
  line?: number;
  pkg?: string;
}

/** Marks every OuzoError, whichever copy of this module made it (see hasInstance below). */
const OUZO_ERROR = Symbol.for("ouzo.OuzoError");

export class OuzoError extends Error {
  /**
   * The CLI's light commands and its heavy ones (sync, regen, demo) are bundled apart, each with
   * its own copy of this module: an error made by one copy is an OuzoError for the other too.
   */
  static override [Symbol.hasInstance](x: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
    return this === OuzoError && typeof x === "object" && x !== null && (x as { [OUZO_ERROR]?: boolean })[OUZO_ERROR] === true;
  }

  readonly [OUZO_ERROR] = true;
  readonly code: string;
  readonly origin: ErrorOrigin;
  /** Process exit code when this error reaches the CLI: 1 failure, 2 usage. */
  readonly exitCode: number;

  constructor(code: string, message: string, origin: ErrorOrigin = {}, exitCode = 1) {
    super(message);
    this.name = "OuzoError";
    this.code = code;
    this.origin = origin;
    this.exitCode = exitCode;
  }

  /** One line for a human: `file:line: message` or `pkg: message`. */
  describe(): string {
    const where = this.origin.file
      ? this.origin.line !== undefined
        ? `${this.origin.file}:${this.origin.line}: `
        : `${this.origin.file}: `
      : this.origin.pkg
        ? `${this.origin.pkg}: `
        : "";
    return `${where}${this.message}`;
  }
}

export class UsageError extends OuzoError {
  constructor(message: string) {
    super("USAGE", message, {}, 2);
  }
}
