/**
 * The one HTTP contract every render backend speaks (POST /render, GET and DELETE
 * /render/:renderId; the schemas below are its definition), plus the render
 * activity's input, outcome, progress and heartbeat shapes. Every renderer answer is parsed with
 * these schemas: a renderer is another team's deploy, and a bad deploy must fail loudly and
 * retryably rather than surface as `undefined` deep in the activity.
 */
import { z } from 'zod';
import {
  JobRowFieldsSchema,
  JobTypeSchema,
  PayloadSchema,
  PrioritySchema,
  RendererSchema,
} from '../shared/job-schema';

/** `POST /render` body. `pipeline` is set only by the orchestrator adapter (see adapters.ts). */
export const RenderRequestSchema = z
  .object({
    jobId: z.string().min(1),
    jobType: z.string().min(1),
    attempt: z.number().int().min(1),
    payload: z.record(z.string(), z.unknown()),
    pipeline: z.string().min(1).optional(),
  })
  .strict();
export type RenderRequest = z.infer<typeof RenderRequestSchema>;

/** `202` answer to `POST /render`. */
export const SubmitResponseSchema = z.object({ renderId: z.string().min(1).max(200) });
export type SubmitResponse = z.infer<typeof SubmitResponseSchema>;

export const RENDER_STATUSES = ['queued', 'rendering', 'completed', 'failed'] as const;
export type RenderStatusValue = (typeof RENDER_STATUSES)[number];

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * `GET /render/:renderId` answer. Optional fields may also come as `null` (renderers written in
 * Python tend to send `None`). A `completed` render must carry an http(s) `videoUrl`: without it
 * there is nothing to hand back, so it counts as a bad response, not a success.
 */
export const RenderStatusResponseSchema = z
  .object({
    status: z.enum(RENDER_STATUSES),
    progress: z.number().min(0).max(1).nullish(),
    videoUrl: z.string().nullish(),
    error: z.string().nullish(),
    retryable: z.boolean().nullish(),
  })
  .superRefine((value, ctx) => {
    if (value.status !== 'completed') return;
    if (!value.videoUrl || !isHttpUrl(value.videoUrl)) {
      ctx.addIssue({
        code: 'custom',
        path: ['videoUrl'],
        message: 'a completed render needs an http(s) videoUrl',
      });
    }
  });
export type RenderStatusResponse = z.infer<typeof RenderStatusResponseSchema>;

/** `GET /health` answer: anything beyond `status: 'ok'` is informational. */
export const HealthResponseSchema = z.looseObject({ status: z.literal('ok') });
export type HealthResponse = z.infer<typeof HealthResponseSchema>;

/**
 * What the workflow passes to the render activity. `attempt` is the job's render attempt: with
 * it, Temporal's retries of the activity are lost workers (resume, same attempt); without it (a
 * workflow from before fleet-wide admission) each Temporal attempt is a render attempt.
 */
export const RenderActivityInputSchema = z
  .object({
    jobId: z.uuid(),
    jobType: JobTypeSchema,
    renderer: RendererSchema,
    payload: PayloadSchema,
    attempt: z.number().int().min(1).max(1000).optional(),
    /** The job's attempts in all: with `attempt`, whether a failure here ends the job. */
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    /** When the workflow ends this attempt (its timeout): a cancellation from then on is the timeout. */
    deadline: z.iso.datetime().optional(),
    /** When admission accepted the job: the first attempt's wait in the queue is measured from it. */
    acceptedAt: z.iso.datetime().optional(),
    /**
     * Set by workflows that leave the attempt's own rows to the activity: it writes `processing`,
     * progress and `completed` itself (see read-model-seq.ts for the seq range it writes in).
     */
    readModel: z
      .object({
        /** The first seq of this attempt's range. */
        seqBase: z.number().int().min(0),
        workflowId: z.string().min(1),
        /** When the job's first attempt started (workflow time). */
        startedAt: z.iso.datetime(),
        acceptedAt: z.iso.datetime().nullable(),
        priority: PrioritySchema.optional(),
        /** The last attempt's error, shown until this attempt ends. */
        error: z.string().nullable(),
        /** Until the workflow knows the row exists: what creating it takes. */
        job: JobRowFieldsSchema.optional(),
      })
      .strict()
      .optional(),
    /** The activity gives the permit back as soon as the render is over (a success). */
    releasesPermit: z.boolean().optional(),
  })
  .strict();
export type RenderActivityInput = z.infer<typeof RenderActivityInputSchema>;

export interface RenderResult {
  videoUrl: string;
  renderId: string;
  /** The Temporal attempt that produced the video (1-based). */
  attempt: number;
  /** The `completed` row was written by the activity (only with `readModel`). */
  recorded?: boolean;
  /** The permit was given back by the activity (only with `releasesPermit`). */
  released?: boolean;
}

/** Sent to the workflow (through `reportProgress`): the render's id once submitted, then progress. */
export interface RenderProgressUpdate {
  workflowId: string;
  attempt: number;
  phase: 'started' | 'submitted' | 'progress';
  progress: number | null;
  renderId?: string;
}

/** What the workflow asks a render worker when it must stop a render its activity could not. */
export const CancelRenderInputSchema = z
  .object({ renderer: RendererSchema, renderId: z.string().min(1).max(200) })
  .strict();
export type CancelRenderInput = z.infer<typeof CancelRenderInputSchema>;

/** What the workflow asks a render worker to stop its running attempt's render. */
export const StopRenderInputSchema = z
  .object({
    renderer: RendererSchema,
    workflowId: z.string().min(1),
    attempt: z.number().int().min(1),
  })
  .strict();
export type StopRenderInput = z.infer<typeof StopRenderInputSchema>;

/**
 * Heartbeat details: a retry reads them to resume polling the same render instead of starting a
 * second one, and an operator reads them in the Web UI.
 */
export const RenderHeartbeatDetailsSchema = z.object({
  phase: z.enum(['submitted', 'rendering']),
  renderId: z.string().min(1),
  progress: z.number().min(0).max(1).nullable(),
  attempt: z.number().int().min(1),
});
export type RenderHeartbeatDetails = z.infer<typeof RenderHeartbeatDetailsSchema>;
