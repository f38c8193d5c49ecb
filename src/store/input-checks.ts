/** Checks both store adapters make before a call leaves the process: same rules, same messages. */
import { z } from 'zod';
import { JobStatusSchema, PrioritySchema, RendererSchema, describeZodError } from '../shared/job-schema';
import { JobStoreConstraintError } from './job-store';
import type { JobListFilter } from './job-store';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const ListFilterSchema = z
  .object({
    status: JobStatusSchema.optional(),
    priority: PrioritySchema.optional(),
    renderer: RendererSchema.optional(),
    limit: z.number().int().min(1).max(500).optional(),
    beforeCreatedAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

/** A `listJobs` filter, checked: a bad one is refused before any query. */
export function parseListFilter(filter: JobListFilter): z.infer<typeof ListFilterSchema> {
  const parsed = ListFilterSchema.safeParse(filter);
  if (!parsed.success) throw invalidInput(`invalid job filter: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** Bad input is a rule refusal, not an outage: callers must not retry it. */
export function invalidInput(message: string): JobStoreConstraintError {
  return new JobStoreConstraintError(message, undefined);
}

export function requireUuid(field: string, value: string): void {
  if (!UUID.test(value)) throw invalidInput(`${field} must be a uuid, got ${JSON.stringify(value)}`);
}

/** At most one screen of ids per call, each a uuid (a malformed one would fail the whole query). */
export function requireJobIds(jobIds: readonly string[]): void {
  if (jobIds.length > 500) throw invalidInput(`jobIds: at most 500 per call, got ${jobIds.length}`);
  for (const id of jobIds) requireUuid('jobIds[]', id);
}
