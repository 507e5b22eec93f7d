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

/** Re-throw an error from a pure parser with the file and line it came from. */
export function locate<T>(file: string, line: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof OuzoError && !e.origin.file) {
      throw new OuzoError(e.code, e.message, { ...e.origin, file, line }, e.exitCode);
    }
    throw e;
  }
}
