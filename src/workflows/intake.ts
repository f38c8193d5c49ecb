/**
 * Picks up jobs the frontend inserted into `jobs` and starts their workflows: one drain
 * (`intakeJobs`, also run by `render-queue intake --once`) and the long-running safety sweep that
 * repeats it. Before wake-on-insert, a schedule ran `intakeJobs` every few seconds; its histories
 * still replay.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  LIMITS,
  SERVICE_QUEUE_PATCH,
  SERVICE_WORKFLOW_TASK_QUEUE,
  SYNC_TASK_QUEUE,
} from '../shared/constants';
import { intakeSweepIntervalSignal } from '../shared/messages';
import type { IntakeActivities, IntakeBatchResult } from '../activities/intake';
import { errorMessage } from '../shared/error-message';

export const INTAKE_BATCH_SIZE = LIMITS.intakeBatchSize;
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

export interface IntakeSweepInput {
  version: 1;
  /** Seconds between sweeps. */
  intervalSeconds: number;
}

/** Sweeps a run makes before it continues as new, so its history stays small (about 8 h at 60 s). */
export const INTAKE_SWEEPS_PER_RUN = 500;

/**
 * The safety sweep: every worker wakes intake on insert, so this only catches what a lost
 * listener connection let through (and rows inserted while no worker ran). One long-running
 * workflow per namespace, not a schedule, so the Web UI lists one sweep, not a run per tick.
 */
export async function intakeSweep(input: IntakeSweepInput): Promise<void> {
  let intervalSeconds = input.intervalSeconds;
  setHandler(intakeSweepIntervalSignal, (seconds) => {
    if (Number.isFinite(seconds) && seconds >= 1) intervalSeconds = seconds;
  });
  for (let sweep = 0; sweep < INTAKE_SWEEPS_PER_RUN && !workflowInfo().continueAsNewSuggested; sweep++) {
    try {
      await intakeJobs();
    } catch (err) {
      // The activity already retried; the next sweep tries again.
      log.warn('intake sweep failed', { error: errorMessage(err) });
    }
    await sleep(intervalSeconds * 1000);
  }
  await condition(allHandlersFinished);
  // Sweeps started on the high queue (before the service queue) move over here.
  const next = patched(SERVICE_QUEUE_PATCH)
    ? makeContinueAsNewFunc<typeof intakeSweep>({ taskQueue: SERVICE_WORKFLOW_TASK_QUEUE })
    : continueAsNew<typeof intakeSweep>;
  await next({ version: 1, intervalSeconds });
}
