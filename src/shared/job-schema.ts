/**
 * Schemas for every message that crosses a boundary (CLI, intake, workflow input, sync to the
 * database). Types are inferred from them. Pure: bundled into workflows as well.
 */
import { z } from 'zod';
import { JOB_STATUSES, JOB_TYPE_DEFAULT_RENDERER, LIMITS, PRIORITIES, RENDERERS } from './constants';
import type { JobType } from './constants';

export const PrioritySchema = z.enum(PRIORITIES);
export const RendererSchema = z.enum(RENDERERS);
/**
 * A job type is any row of `job_types` (the database's foreign key is the check); its name is a
 * simple identifier, since it names the orchestrator's pipeline and a metrics label. The types
 * built into JOB_TYPE_DEFAULT_RENDERER only add a default renderer for submitters that give none.
 */
export const JOB_TYPE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
export const JobTypeSchema = z
  .string()
  .regex(JOB_TYPE_NAME, 'expected a job type name (lower-case letters, digits and _)');
export const JobStatusSchema = z.enum(JOB_STATUSES);

function jsonDepth(value: unknown, depth = 0): number {
  if (depth > LIMITS.maxPayloadDepth) return depth;
  if (value === null || typeof value !== 'object') return depth;
  let max = depth + 1;
  for (const child of Object.values(value as Record<string, unknown>)) {
    max = Math.max(max, jsonDepth(child, depth + 1));
    if (max > LIMITS.maxPayloadDepth) break;
  }
  return max;
}

function utf8Length(text: string): number {
  // TextEncoder is not available in every sandbox; count UTF-8 bytes by code point.
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** The render payload: a JSON object, bounded in size and depth because it travels in the workflow input. */
export const PayloadSchema = z.record(z.string(), z.unknown()).superRefine((payload, ctx) => {
  const depth = jsonDepth(payload);
  if (depth > LIMITS.maxPayloadDepth) {
    ctx.addIssue({
      code: 'custom',
      message: `payload is nested deeper than ${LIMITS.maxPayloadDepth} levels`,
    });
    return;
  }
  let size: number;
  try {
    size = utf8Length(JSON.stringify(payload));
  } catch {
    ctx.addIssue({ code: 'custom', message: 'payload is not serialisable as JSON' });
    return;
  }
  if (size > LIMITS.maxPayloadBytes) {
    ctx.addIssue({
      code: 'custom',
      message: `payload is ${size} bytes; the limit is ${LIMITS.maxPayloadBytes}`,
    });
  }
});

/** Text PostgreSQL's jsonb cannot store: NUL, and a UTF-16 surrogate without its pair. */
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Path of the first unstorable key or string; keys JSON-escaped so the error stays one printable line. */
function unstorablePath(value: unknown, path: string[] = []): string[] | undefined {
  if (typeof value === 'string') return UNSTORABLE_TEXT.test(value) ? path : undefined;
  if (value === null || typeof value !== 'object' || path.length > LIMITS.maxPayloadDepth) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const at = [...path, JSON.stringify(key).slice(1, -1)];
    const found = UNSTORABLE_TEXT.test(key) ? at : unstorablePath(child, at);
    if (found) return found;
  }
  return undefined;
}

/** What a submitter (CLI, library, intake) gives us. */
export const JobSubmissionSchema = z
  .object({
    id: z.uuid().optional(),
    jobType: JobTypeSchema,
    priority: PrioritySchema.default('medium'),
    renderer: RendererSchema.optional(),
    // Refused here, naming the field, rather than by the database after the workflow started.
    payload: PayloadSchema.superRefine((payload, ctx) => {
      const path = unstorablePath(payload);
      if (path) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: 'contains a NUL character or an unpaired surrogate, which cannot be stored',
        });
      }
    }),
    userId: z.uuid().optional(),
  })
  .strict()
  .superRefine((submission, ctx) => {
    if (submission.renderer === undefined && !(submission.jobType in JOB_TYPE_DEFAULT_RENDERER)) {
      ctx.addIssue({
        code: 'custom',
        path: ['renderer'],
        message: `required for job type "${submission.jobType}", which has no built-in renderer (rows the frontend inserts take it from job_types)`,
      });
    }
  });
export type JobSubmission = z.input<typeof JobSubmissionSchema>;

/** The workflow input: a submission with every default resolved. Small and versioned. */
export const RenderJobInputSchema = z
  .object({
    version: z.literal(1),
    jobId: z.uuid(),
    jobType: JobTypeSchema,
    priority: PrioritySchema,
    renderer: RendererSchema,
    payload: PayloadSchema,
    userId: z.uuid().optional(),
    /** 0 for the first run of a job; the retry command starts generation 1, 2, ... */
    generation: z.number().int().min(0).max(1000).optional(),
  })
  .strict();
export type RenderJobInput = z.infer<typeof RenderJobInputSchema>;

/**
 * Resolves defaults. The job id must be supplied by the caller when absent (workflow code
 * cannot create random ids outside the workflow's own deterministic uuid4()).
 */
export function toRenderJobInput(
  submission: z.output<typeof JobSubmissionSchema>,
  newId: () => string,
): RenderJobInput {
  return {
    version: 1,
    jobId: submission.id ?? newId(),
    jobType: submission.jobType,
    priority: submission.priority,
    // The schema made sure one of the two exists.
    renderer: submission.renderer ?? JOB_TYPE_DEFAULT_RENDERER[submission.jobType as JobType],
    payload: submission.payload,
    ...(submission.userId ? { userId: submission.userId } : {}),
  };
}

/** What creating a job's row takes, when a write finds none (nobody inserted it). */
export const JobRowFieldsSchema = z.object({
  jobType: JobTypeSchema,
  priority: PrioritySchema,
  renderer: RendererSchema,
  payload: z.record(z.string(), z.unknown()),
  userId: z.uuid().optional(),
  /** When the job was submitted (the workflow's start), so rows sort by submission. */
  submittedAt: z.iso.datetime().optional(),
});
export type JobRowFields = z.infer<typeof JobRowFieldsSchema>;

/**
 * One write of the read model. `seq` orders writes of one job: the database applies a write
 * only if its seq is newer than the stored one, so a late retry never moves a job backwards.
 */
export const JobTransitionSchema = z
  .object({
    jobId: z.uuid(),
    seq: z.number().int().positive(),
    status: JobStatusSchema,
    workflowId: z.string().min(1),
    attempt: z.number().int().min(0),
    progress: z.number().min(0).max(1).nullable(),
    error: z.string().nullable(),
    result: z.string().nullable(),
    startedAt: z.iso.datetime().nullable(),
    completedAt: z.iso.datetime().nullable(),
    /** Set while `retrying`: when the next attempt may start. Absent in writes of older workflows. */
    nextAttemptAt: z.iso.datetime().nullable().optional(),
    /** When admission accepted the job into its queue (the order it is served in). Kept once set. */
    acceptedAt: z.iso.datetime().nullable().optional(),
    /** Set when an operator moved the job to another priority. */
    priority: PrioritySchema.optional(),
    /** Present until the first write succeeds, so the row can be created if nobody inserted it. */
    job: JobRowFieldsSchema.optional(),
  })
  .strict();
export type JobTransition = z.infer<typeof JobTransitionSchema>;

/** `job_queue_config` as the application sees it; the zod checks reject a bad row as a whole. */
export const QueueConfigSchema = z
  .object({
    maxConcurrentRenders: z.number().int().min(1),
    maxManimRenders: z.number().int().min(1),
    peakHourStart: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'expected HH:MM'),
    peakHourEnd: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'expected HH:MM'),
    peakWorkerMultiplier: z.number().min(1),
    timeZone: z.string().min(1),
    jobTimeoutMinutes: z.number().positive(),
    retryIntervalMinutes: z.number().positive(),
    maxAttempts: z.number().int().min(1),
  })
  .strict();
export type QueueConfig = z.infer<typeof QueueConfigSchema>;

/** The render policy a workflow reads when it starts (a subset of the config). */
export const RenderPolicySchema = QueueConfigSchema.pick({
  jobTimeoutMinutes: true,
  retryIntervalMinutes: true,
  maxAttempts: true,
});
export type RenderPolicy = z.infer<typeof RenderPolicySchema>;

/** The render policy of a `job_queue_config` row, or why it is invalid. */
export function renderPolicyOf(
  row: Record<'jobTimeoutMinutes' | 'retryIntervalMinutes' | 'maxAttempts', unknown>,
): { policy: RenderPolicy } | { invalid: string } {
  const parsed = RenderPolicySchema.safeParse({
    jobTimeoutMinutes: row.jobTimeoutMinutes,
    retryIntervalMinutes: row.retryIntervalMinutes,
    maxAttempts: row.maxAttempts,
  });
  return parsed.success ? { policy: parsed.data } : { invalid: describeZodError(parsed.error) };
}

/** A stored job as the read model shows it. */
export const JobRowSchema = z.object({
  id: z.string(),
  userId: z.string().nullable(),
  jobType: z.string(),
  priority: PrioritySchema,
  renderer: RendererSchema,
  status: JobStatusSchema,
  payload: z.record(z.string(), z.unknown()),
  retryCount: z.number().int(),
  progress: z.number().nullable(),
  error: z.string().nullable(),
  result: z.string().nullable(),
  /** While waiting for a permit: 1 + waiting jobs of the same slot pool ahead (admission order). */
  queuePosition: z.number().int().nullable(),
  /** While waiting for a permit: when admission expects to start it, ISO 8601. */
  estimatedStartAt: z.string().nullable(),
  /** While `retrying`: when the next attempt may start, ISO 8601. */
  nextAttemptAt: z.string().nullable(),
  /** When admission accepted this run of the job into its queue, ISO 8601; FIFO is by this. */
  acceptedAt: z.string().nullable(),
  workflowId: z.string().nullable(),
  syncSeq: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  updatedAt: z.string(),
});
export type JobRow = z.infer<typeof JobRowSchema>;

/** Formats a zod error as one line per field: `priority: Invalid option: expected one of ...`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`)
    .join('; ');
}

const countsOf = <T extends readonly [string, ...string[]]>(keys: T) =>
  z.object(
    Object.fromEntries(keys.map((key) => [key, z.number().int().min(0)])) as Record<T[number], z.ZodNumber>,
  );

/** `get_queue_stats()` as the read model reports it; durations in seconds, null when nothing to average. */
export const QueueStatsSchema = z.object({
  byStatus: countsOf(JOB_STATUSES),
  /** Queued jobs only. */
  queuedByPriority: countsOf(PRIORITIES),
  /** Renders in flight (status processing). */
  processingByRenderer: countsOf(RENDERERS),
  lastHour: z.object({
    /** started_at - created_at of jobs started in the last hour. */
    avgWaitSeconds: z.number().min(0).nullable(),
    /** completed_at - started_at of jobs completed in the last hour. */
    avgRenderSeconds: z.number().min(0).nullable(),
    completed: z.number().int().min(0),
    failed: z.number().int().min(0),
  }),
  oldestQueuedAgeSeconds: z.number().min(0).nullable(),
  /** The caps in force when the stats were taken, peak hours applied. */
  caps: z.object({
    totalRenders: z.number().int().min(1),
    manimRenders: z.number().int().min(1),
    peak: z.boolean(),
  }),
  generatedAt: z.string(),
});
export type QueueStats = z.infer<typeof QueueStatsSchema>;
