/**
 * The intake activity of the safety sweep (and of a one-off `render-queue intake --once`): one
 * batch, heartbeating per row. Runs on the sync task queue (database work, never a render slot).
 */
import { Context, log as activityLog } from '@temporalio/activity';
import { runIntakeBatch } from '../intake/intake-batch';
import type { IntakeBatchResult, IntakeDeps } from '../intake/intake-batch';

export type { IntakeBatchResult } from '../intake/intake-batch';
export { submissionFromRow } from '../intake/intake-batch';

/** Heartbeat details: where a batch was, readable in the Web UI. */
export interface IntakeProgress {
  claimed: number;
  done: number;
  lastJobId: string;
}

export function createIntakeActivities(deps: IntakeDeps) {
  return {
    async intakeBatch(limit: number): Promise<IntakeBatchResult> {
      return runIntakeBatch(deps, limit, (event, index, claimed) => {
        Context.current().heartbeat({
          claimed,
          done: index + 1,
          lastJobId: event.jobId,
        } satisfies IntakeProgress);
        if (event.outcome === 'rejected') {
          activityLog.warn('intake rejected job', { jobId: event.jobId, reason: event.reason });
        } else {
          activityLog.info('intake started job', {
            jobId: event.jobId,
            workflowId: event.workflowId,
            started: event.outcome === 'started',
          });
        }
      });
    },
  };
}

export type IntakeActivities = ReturnType<typeof createIntakeActivities>;
