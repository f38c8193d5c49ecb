/** CLI plumbing: exit codes, output in text or JSON, and errors as one clear line. */
import { ZodError } from 'zod';
import { redact } from '../observability/secrets';
import { errorFirstLine } from '../shared/error-message';
import { EXIT_BAD_INPUT } from './usage';

export const EXIT = { ok: 0, failure: 1, badInput: EXIT_BAD_INPUT } as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Output {
  json: boolean;
  print(text: string, data: unknown): void;
}

export function output(json: boolean, write: (s: string) => void = (s) => process.stdout.write(s)): Output {
  return {
    json,
    print(text, data) {
      write(json ? `${JSON.stringify(data)}\n` : `${text}\n`);
    },
  };
}

/** Maps an error to its exit code and the single line a person reads. */
export function classifyError(err: unknown): { code: number; message: string } {
  const { code, message } = classify(err);
  return { code, message: printable(message) };
}

/**
 * By class name, not instanceof: the CLI loads each command's modules on demand, and a loader
 * that evaluates a module twice (tsx mixes require and import) would make two classes of one error.
 */
const BAD_INPUT_ERRORS: ReadonlySet<string> = new Set<string>([
  'UsageError',
  'InvalidSubmissionError',
  'ConfigError',
  'ZodError',
]);

function classify(err: unknown): { code: number; message: string } {
  if (err instanceof Error && (BAD_INPUT_ERRORS.has(err.name) || err instanceof ZodError)) {
    return { code: EXIT.badInput, message: redact(err.message) };
  }
  if (err instanceof Error && err.name === 'UnreachableError') {
    return { code: EXIT.failure, message: redact(err.message) };
  }
  return { code: EXIT.failure, message: redact(errorFirstLine(err)) };
}

/** Messages echo arguments: escape control characters so none reaches the terminal raw (newlines, escapes). */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const control = /[\u0000-\u001f\u007f-\u009f]/g;
  return text.replace(control, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
