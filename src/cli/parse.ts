/** Argument parsing shared by the commands: strict flags, errors that name the flag. */
import { parseArgs } from 'node:util';
import { UsageError } from './io';

type FlagSpec = Record<string, { type: 'string' } | { type: 'boolean' }>;

export function parseFlags(
  args: string[],
  options: FlagSpec,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function intFlag(
  values: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function oneOf<T extends string>(
  values: Record<string, unknown>,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name}: expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function jobIdArg(positionals: string[], command: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`jobId: required (render-queue ${command} <jobId>)`);
  if (!UUID.test(id)) throw new UsageError(`jobId: "${id}" is not a uuid`);
  return id;
}

export function parsePayload(text: string | undefined): unknown {
  if (text === undefined) throw new UsageError('payload: required (--payload \'{"key":"value"}\')');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`payload: not valid JSON (${(err as Error).message})`);
  }
}
