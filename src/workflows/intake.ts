/**
 * Picks up jobs the frontend inserted into `jobs` and starts their workflows. Run by the
 * `render-queue-intake` schedule every few seconds (overlap SKIP: runs never overlap); each run
 * drains what is waiting, in batches, then ends so its history stays short.
 */
import { log, proxyActivities } from '@temporalio/workflow';
import { SYNC_TASK_QUEUE } from '../shared/constants';
import type { IntakeActivities, IntakeBatchResult } from '../activities/intake';

export const INTAKE_BATCH_SIZE = 50;
/** A backlog bigger than this is left to the next scheduled run, a few seconds later. */
export const INTAKE_MAX_BATCHES_PER_RUN = 10;

const { intakeBatch } = proxyActivities<IntakeActivities>({
  taskQueue: SYNC_TASK_QUEUE,
  // 50 workflow starts and row updates; generous, but bounded so a stuck database is noticed.
  startToCloseTimeout: '2m',
  // Per-row heartbeats: a crashed worker's batch is retried within seconds.
  heartbeatTimeout: '30s',
  // A few quick tries, then the run fails; the schedule's next run tries again anyway.
  retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
});

export interface IntakeRunResult extends IntakeBatchResult {
  batches: number;
}

export async function intakeJobs(batchSize: number = INTAKE_BATCH_SIZE): Promise<IntakeRunResult> {
  const total: IntakeRunResult = { batches: 0, claimed: 0, started: 0, alreadyRunning: 0, rejected: 0 };
  while (total.batches < INTAKE_MAX_BATCHES_PER_RUN) {
    const batch = await intakeBatch(batchSize);
    total.batches++;
    total.claimed += batch.claimed;
    total.started += batch.started;
    total.alreadyRunning += batch.alreadyRunning;
    total.rejected += batch.rejected;
    if (batch.claimed < batchSize) break;
  }
  if (total.claimed > 0) log.info('intake run', { ...total });
  return total;
}
