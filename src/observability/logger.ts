/**
 * Structured JSON-lines logging, the one way the project writes a log line. Every line passes
 * through the redactor (secrets.ts) so a configured secret can never reach a log, whoever logs it
 * (our code or the Temporal SDK).
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { redact } from './secrets';

const LEVELS: Record<LogLevel, number> = { TRACE: 10, DEBUG: 20, INFO: 30, WARN: 40, ERROR: 50 };

export type LineSink = (line: string) => void;

/** Where log lines go unless told otherwise: stderr, keeping stdout for a command's output. */
export const stderrLines: LineSink = (line) => process.stderr.write(`${line}\n`);
/** For processes whose log is their output (simulators, `db:migrate`'s report). */
export const stdoutLines: LineSink = (line) => process.stdout.write(`${line}\n`);

export class JsonLogger implements Logger {
  private readonly threshold: number;

  constructor(
    private readonly level: LogLevel = 'INFO',
    private readonly sink: LineSink = stderrLines,
    private readonly bindings: LogMetadata = {},
  ) {
    this.threshold = LEVELS[level];
  }

  child(bindings: LogMetadata): JsonLogger {
    return new JsonLogger(this.level, this.sink, { ...this.bindings, ...bindings });
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (LEVELS[level] < this.threshold) return;
    const entry = {
      time: new Date().toISOString(),
      level: level.toLowerCase(),
      msg: message,
      ...this.bindings,
      ...meta,
    };
    this.sink(redact(JSON.stringify(entry, jsonSafe)));
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

function jsonSafe(key: string, value: unknown): unknown {
  // The SDK puts an activity's task token in its log context; whoever holds the token can
  // complete or fail the activity, so it never reaches a log (the workflow and activity ids do).
  if (key === 'taskToken') return undefined;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export function parseLogLevel(value: string | undefined): LogLevel {
  const upper = (value ?? 'INFO').toUpperCase();
  return upper in LEVELS ? (upper as LogLevel) : 'INFO';
}
