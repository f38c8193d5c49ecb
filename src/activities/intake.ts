/**
 * Intake of jobs the frontend inserts straight into `jobs`: claim a batch, validate each row
 * exactly as a CLI submission is validated, start its workflow, record the outcome on the row.
 * Runs on the sync task queue (database work, never a render slot).
 */
import { Context, log as activityLog } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { InvalidSubmissionError, submitJob } from '../client/submit';
import type { JobRow, JobSubmission } from '../shared/job-schema';
import type { JobStore } from '../store/job-store';

export interface IntakeDeps {
  store: JobStore;
  client: Client;
}

export interface IntakeBatchResult {
  /** Rows claimed by this batch. */
  claimed: number;
  /** Workflows started by this batch. */
  started: number;
  /** Rows whose workflow already existed (a crashed intake run, or a duplicate start): nothing new started. */
  alreadyRunning: number;
  /** Rows failed as invalid. */
  rejected: number;
}

/** Heartbeat details: where a batch was, readable in the Web UI. */
export interface IntakeProgress {
  claimed: number;
  done: number;
  lastJobId: string;
}

/** A frontend row as a submission; nulls become absent so the schema's defaults and checks apply. */
export function submissionFromRow(row: JobRow): JobSubmission {
  return {
    id: row.id,
    jobType: row.jobType as JobSubmission['jobType'],
    priority: row.priority,
    renderer: row.renderer,
    payload: row.payload,
    ...(row.userId ? { userId: row.userId } : {}),
  };
}

export function createIntakeActivities({ store, client }: IntakeDeps) {
  return {
    /**
     * Claims up to `limit` rows and starts their workflows. A failure to start (Temporal
     * unreachable) fails the activity: Temporal retries it, and rows claimed but not started are
     * claimable again after 2 minutes.
     */
    async intakeBatch(limit: number): Promise<IntakeBatchResult> {
      const rows = await store.claimIntakeJobs(limit);
      const result: IntakeBatchResult = { claimed: rows.length, started: 0, alreadyRunning: 0, rejected: 0 };
      for (const [index, row] of rows.entries()) {
        Context.current().heartbeat({
          claimed: rows.length,
          done: index,
          lastJobId: row.id,
        } satisfies IntakeProgress);
        try {
          const outcome = await submitJob(client, submissionFromRow(row));
          // Also when the workflow already existed: the row must stop being claimable.
          await store.markIntakeStarted(row.id, outcome.workflowId);
          if (outcome.started) result.started++;
          else result.alreadyRunning++;
          activityLog.info('intake started job', {
            jobId: row.id,
            workflowId: outcome.workflowId,
            started: outcome.started,
          });
        } catch (err) {
          if (!(err instanceof InvalidSubmissionError)) throw err;
          const reason = `invalid job: ${err.message}`;
          await store.markIntakeRejected(row.id, reason);
          result.rejected++;
          activityLog.warn('intake rejected job', { jobId: row.id, reason });
        }
      }
      return result;
    },
  };
}

export type IntakeActivities = ReturnType<typeof createIntakeActivities>;
