/**
 * Activities that write the read model and read the render policy. They run on the sync task
 * queue, never in a render slot.
 */
import { ApplicationFailure, log as activityLog } from '@temporalio/activity';
import { DEFAULT_RENDER_POLICY } from '../shared/constants';
import { READ_MODEL_REJECTED } from '../shared/errors';
import { JobTransitionSchema, describeZodError, renderPolicyOf } from '../shared/job-schema';
import type { JobTransition, RenderPolicy } from '../shared/job-schema';
import type { Logger } from '@temporalio/common';
import type { JobStore } from '../store/job-store';
import { JobStoreConstraintError } from '../store/job-store';

export interface ReadModelDeps {
  store: JobStore;
}

/** The one log line of a read-model write, whoever writes it (workflow, render activity, enterQueue). */
export function logTransition(
  log: Pick<Logger, 'info'>,
  transition: Pick<JobTransition, 'jobId' | 'workflowId' | 'status' | 'attempt' | 'seq'>,
  applied: boolean,
): void {
  log.info('job transition', {
    jobId: transition.jobId,
    workflowId: transition.workflowId,
    status: transition.status,
    attempt: transition.attempt,
    seq: transition.seq,
    applied,
  });
}

export function createReadModelActivities({ store }: ReadModelDeps) {
  return {
    /** Applies one state of a job; a stale write (older seq) is ignored by the database. */
    async syncJob(transition: JobTransition): Promise<{ applied: boolean }> {
      const parsed = JobTransitionSchema.safeParse(transition);
      if (!parsed.success) {
        throw ApplicationFailure.nonRetryable(
          `read model write is invalid: ${describeZodError(parsed.error)}`,
          READ_MODEL_REJECTED,
        );
      }
      try {
        const outcome = await store.applyTransition(parsed.data);
        logTransition(activityLog, transition, outcome.applied);
        return outcome;
      } catch (err) {
        if (err instanceof JobStoreConstraintError) {
          throw ApplicationFailure.nonRetryable(err.message, READ_MODEL_REJECTED);
        }
        // Anything else (connection refused, timeout, 5xx) is an outage: retried by the policy.
        throw err;
      }
    },

    /** The retry interval, timeout and attempts a job starts with, from `job_queue_config`. */
    async loadRenderPolicy(): Promise<RenderPolicy> {
      const read = renderPolicyOf(await store.readQueueConfig());
      if ('policy' in read) return read.policy;
      activityLog.warn('job_queue_config has an invalid render policy; using defaults', {
        error: read.invalid,
      });
      return DEFAULT_RENDER_POLICY;
    },
  };
}

export type ReadModelActivities = ReturnType<typeof createReadModelActivities>;
