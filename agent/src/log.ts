/**
 * Structured JSON logs, one object per line on stdout (the systemd journal keeps them). Fields
 * are chosen by the caller; keys, tokens, certificates and request bodies are never passed in.
 * The field names are the control plane's: `time` (RFC 3339), `level` (a name), `msg`, `err`
 * (see `errorFields`) and snake_case ids such as `tenant_id` and `appliance_id`.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Readonly<
  Record<string, string | number | boolean | null | undefined | ErrorFields>
>;

/** An error in a log line: `{ err: { type, code, message } }` (no stack, no cause data). */
export interface ErrorFields {
  readonly type: string;
  readonly code?: string;
  readonly message: string;
}

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
}

export function jsonLogger(
  write: (line: string) => void,
  now: () => Date = () => new Date(),
  minLevel: LogLevel = "info",
): Logger {
  const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return {
    log(level, msg, fields) {
      if (rank[level] < rank[minLevel]) return;
      write(`${JSON.stringify({ time: now().toISOString(), level, msg, ...fields })}\n`);
    },
  };
}

/** A logger that keeps lines in memory, for tests and the lab. */
export function memoryLogger(): Logger & { lines: { level: LogLevel; msg: string }[] } {
  const lines: { level: LogLevel; msg: string; fields?: LogFields }[] = [];
  return { lines, log: (level, msg, fields) => lines.push({ level, msg, fields }) };
}

/** The message of an error for a log line: its code and message, never its stack or cause data. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** The `err` field of a log line for `error`. */
export function errorFields(error: unknown): { err: ErrorFields } {
  if (!(error instanceof Error)) return { err: { type: typeof error, message: String(error) } };
  const code = (error as { code?: unknown }).code;
  return {
    err: {
      type: error.name,
      ...(typeof code === "string" ? { code } : {}),
      message: error.message,
    },
  };
}
