/**
 * A job's first step, one activity on the sync queue (workflows/admission-calls.ts): check the
 * input, read the render policy, write the `queued` row and ask admission for a permit. One
 * activity instead of three keeps a job's start to one round trip, and keeps zod out of the
 * workflow sandbox, where every workflow would otherwise build its own copy of the schemas.
 */
import { Context, log as activityLog } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { requestAdmission } from './admission-client';
import type { PermitRequest } from '../shared/admission-queue';
import { DEFAULT_RENDER_POLICY } from '../shared/constants';
import { RenderJobInputSchema, describeZodError, renderPolicyOf } from '../shared/job-schema';
import type { JobTransition, RenderPolicy } from '../shared/job-schema';
import type { JobStore } from '../store/job-store';
import { withTimeout } from '../util/with-timeout';
import { logTransition } from './read-model';
import { errorMessage } from '../shared/error-message';

export interface EnterQueueInput {
  /** The workflow's input as it arrived: checked here, not in the sandbox. */
  input: unknown;
  /** The `queued` row, with what creating it takes. */
  queued: JobTransition;
  /** The permit request of the first attempt. */
  request: PermitRequest;
}

export type EnterQueueResult =
  | { invalid: string }
  | {
      invalid?: undefined;
      policy: RenderPolicy;
      /** The `queued` row landed; when not, the workflow's sync writes it. */
      recorded: boolean;
    };

export interface EnterQueueDeps {
  client: Client;
  store: Pick<JobStore, 'applyTransition' | 'readQueueConfig'>;
}

/** The row and the policy are worth a short wait only: the workflow has fallbacks for both. */
const READ_MODEL_WAIT_MS = 3_000;

export function createEnterQueueActivities({ client, store }: EnterQueueDeps) {
  async function readPolicy(): Promise<RenderPolicy> {
    try {
      const row = await withTimeout(store.readQueueConfig(), READ_MODEL_WAIT_MS, 'policy read timed out');
      const read = renderPolicyOf(row);
      if ('policy' in read) return read.policy;
      activityLog.warn('job_queue_config has an invalid render policy; using defaults', {
        error: read.invalid,
      });
    } catch (err) {
      activityLog.warn('could not read the render policy; using defaults', {
        error: errorMessage(err),
      });
    }
    return DEFAULT_RENDER_POLICY;
  }

  async function writeQueued(queued: JobTransition): Promise<boolean> {
    try {
      // Not applied means the row is at this state or past it already (a retry of this activity).
      const { applied } = await withTimeout(
        store.applyTransition(queued),
        READ_MODEL_WAIT_MS,
        'read model write timed out',
      );
      logTransition(activityLog, queued, applied);
      return true;
    } catch (err) {
      activityLog.warn('could not write the queued row; the workflow will', {
        jobId: queued.jobId,
        error: errorMessage(err),
      });
      return false;
    }
  }

  return {
    async enterQueue({ input, queued, request }: EnterQueueInput): Promise<EnterQueueResult> {
      const parsed = RenderJobInputSchema.safeParse(input);
      if (!parsed.success) return { invalid: `invalid job: ${describeZodError(parsed.error)}` };
      const signal = Context.current().cancellationSignal;
      const [policy, recorded] = await Promise.all([
        readPolicy(),
        writeQueued(queued),
        // Must succeed: without it the job never starts. A failure retries the whole activity,
        // whose every part is idempotent.
        requestAdmission(client, request, signal),
      ]);
      return { policy, recorded };
    },
  };
}

export type EnterQueueActivities = ReturnType<typeof createEnterQueueActivities>;
