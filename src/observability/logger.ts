/**
 * Structured JSON-lines logging. Every line passes through the redactor so a configured secret
 * can never reach a log, whoever logs it (our code or the Temporal SDK).
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

const LEVELS: Record<LogLevel, number> = { TRACE: 10, DEBUG: 20, INFO: 30, WARN: 40, ERROR: 50 };

const secrets = new Set<string>();

/** Registers values that must never be printed (keys, passwords, URLs with credentials). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  // Credentials inside any connection URL, registered or not.
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s/]+@/gi, '$1[redacted]@');
}

export type LineSink = (line: string) => void;

export class JsonLogger implements Logger {
  private readonly threshold: number;

  constructor(
    private readonly level: LogLevel = 'INFO',
    private readonly sink: LineSink = (line) => process.stderr.write(`${line}\n`),
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
