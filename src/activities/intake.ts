/**
 * The intake activity of the safety sweep (and of a one-off `render-queue intake --once`): one
 * batch, heartbeating per row. Runs on the sync task queue (database work, never a render slot).
 */
import { Context, log as activityLog } from '@temporalio/activity';
import type { IntakeBatchResult, IntakeRowEvent } from '../shared/intake-messages';

export type { IntakeBatchResult } from '../shared/intake-messages';

/** Claims and starts one batch (src/intake's runIntakeBatch, bound to a store and client by the worker). */
export type RunIntakeBatch = (
  limit: number,
  onRow: (event: IntakeRowEvent, index: number, claimed: number) => void,
) => Promise<IntakeBatchResult>;

/** Heartbeat details: where a batch was, readable in the Web UI. */
export interface IntakeProgress {
  claimed: number;
  done: number;
  lastJobId: string;
}

export function createIntakeActivities(deps: { runBatch: RunIntakeBatch }) {
  return {
    async intakeBatch(limit: number): Promise<IntakeBatchResult> {
      return deps.runBatch(limit, (event, index, claimed) => {
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
