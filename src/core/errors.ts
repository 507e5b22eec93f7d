/** Errors are values with a stable code, a one-line message and where they come from. */
export interface ErrorOrigin {
  file?: string;
  line?: number;
  pkg?: string;
}

export class OuzoError extends Error {
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
