/**
 * One round of intake: claim a batch of rows the frontend inserted, validate each exactly as a
 * CLI submission is validated, start its workflow (which also puts it in admission's queue), and
 * record the outcome on the row. Shared by the wake-on-insert runner in every worker and by the
 * safety sweep's activity.
 */
import type { Client } from '@temporalio/client';
import { InvalidSubmissionError, submitJob } from '../jobs/submit';
import { LIMITS } from '../shared/constants';
import type { JobRow, JobSubmission } from '../shared/job-schema';
import type { IntakeBatchResult, IntakeRowEvent } from '../shared/intake-messages';
import type { JobStore } from '../store/job-store';

export interface IntakeDeps {
  store: JobStore;
  client: Client;
}

/** Rows claimed per batch. */
export const INTAKE_BATCH_SIZE = LIMITS.intakeBatchSize;

/** A frontend row as a submission; nulls become absent so the schema's defaults and checks apply. */
export function submissionFromRow(row: JobRow): JobSubmission {
  return {
    id: row.id,
    jobType: row.jobType,
    priority: row.priority,
    renderer: row.renderer,
    payload: row.payload,
    ...(row.userId ? { userId: row.userId } : {}),
  };
}

/**
 * Claims up to `limit` rows and starts their workflows, one after another in claim order, so they
 * join admission's queue in the order they were inserted. A failure to start (Temporal
 * unreachable) throws: rows claimed but not started are claimable again after 2 minutes.
 */
export async function runIntakeBatch(
  { store, client }: IntakeDeps,
  limit: number,
  onRow?: (event: IntakeRowEvent, index: number, claimed: number) => void,
): Promise<IntakeBatchResult> {
  const rows = await store.claimIntakeJobs(limit);
  const result: IntakeBatchResult = { claimed: rows.length, started: 0, alreadyRunning: 0, rejected: 0 };
  for (const [index, row] of rows.entries()) {
    try {
      const outcome = await submitJob(client, submissionFromRow(row));
      // Also when the workflow already existed: the row must stop being claimable.
      await store.markIntakeStarted(row.id, outcome.workflowId);
      if (outcome.started) result.started++;
      else result.alreadyRunning++;
      onRow?.(
        {
          jobId: row.id,
          outcome: outcome.started ? 'started' : 'already-running',
          workflowId: outcome.workflowId,
        },
        index,
        rows.length,
      );
    } catch (err) {
      if (!(err instanceof InvalidSubmissionError)) throw err;
      const reason = `invalid job: ${err.message}`;
      await store.markIntakeRejected(row.id, reason);
      result.rejected++;
      onRow?.({ jobId: row.id, outcome: 'rejected', reason }, index, rows.length);
    }
  }
  return result;
}
