/**
 * The intake safety sweep (one long-running workflow per namespace, started by every worker at
 * start-up if it does not run), and a one-off intake run for `render-queue intake --once`.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { PRIORITY_KEY, SERVICE_WORKFLOW_TASK_QUEUE, WORKFLOW_TYPE } from '../shared/constants';
import { intakeSweepIntervalSignal } from '../shared/messages';
import type { IntakeRunResult, intakeJobs, intakeSweep } from '../workflows/intake';

export const INTAKE_SWEEP_WORKFLOW_ID = 'render-queue-intake-sweep';
export const INTAKE_WORKFLOW_ID_PREFIX = 'render-queue-intake-';
/** The schedule intake ran on before it woke on inserts; removed where it still exists. */
export const LEGACY_INTAKE_SCHEDULE_ID = 'render-queue-intake';

export interface IntakeSweepOptions {
  /** Seconds between sweeps. Default 60. */
  intervalSeconds?: number;
}

/** Starts the sweep unless it runs (then sets its interval); retires the old schedule. Returns its id. */
export async function ensureIntakeSweep(client: Client, opts: IntakeSweepOptions = {}): Promise<string> {
  const intervalSeconds = opts.intervalSeconds ?? 60;
  if (!Number.isFinite(intervalSeconds) || intervalSeconds < 1) {
    throw new RangeError(`intervalSeconds must be a number >= 1, got ${JSON.stringify(intervalSeconds)}`);
  }
  try {
    await client.workflow.start<typeof intakeSweep>(WORKFLOW_TYPE.intakeSweep, {
      workflowId: INTAKE_SWEEP_WORKFLOW_ID,
      // High priority: intake must not wait behind a backlog of low jobs.
      taskQueue: SERVICE_WORKFLOW_TASK_QUEUE,
      priority: { priorityKey: PRIORITY_KEY.high },
      args: [{ version: 1, intervalSeconds }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: 'intake safety sweep: rows no wake-up reached',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  await client.workflow
    .getHandle(INTAKE_SWEEP_WORKFLOW_ID)
    .signal(intakeSweepIntervalSignal, intervalSeconds);
  try {
    await client.schedule.getHandle(LEGACY_INTAKE_SCHEDULE_ID).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  return INTAKE_SWEEP_WORKFLOW_ID;
}

/** Runs intake once now and waits for it (the CLI's `render-queue intake --once`). */
export async function runIntakeOnce(client: Client): Promise<IntakeRunResult> {
  return client.workflow.execute<typeof intakeJobs>(WORKFLOW_TYPE.intake, {
    taskQueue: SERVICE_WORKFLOW_TASK_QUEUE,
    workflowId: `${INTAKE_WORKFLOW_ID_PREFIX}manual-${randomUUID()}`,
    args: [],
    workflowRunTimeout: '5m',
  });
}
