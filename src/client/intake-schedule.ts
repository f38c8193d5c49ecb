/**
 * The Temporal Schedule that runs intake: every few seconds, never two runs at once. Called at
 * worker start-up (idempotent), and by `render-queue intake` for a one-off run.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Client, ScheduleOptionsAction, ScheduleUpdateOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { WORKFLOW_TASK_QUEUE, WORKFLOW_TYPE } from '../shared/constants';
import type { IntakeRunResult } from '../workflows/intake';

export const INTAKE_SCHEDULE_ID = 'render-queue-intake';
export const INTAKE_WORKFLOW_ID_PREFIX = 'render-queue-intake-';

export interface IntakeScheduleOptions {
  /** Seconds between runs; the longest a frontend row waits before its workflow starts. Default 5. */
  intervalSeconds?: number;
}

function scheduleBody(intervalSeconds: number) {
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: WORKFLOW_TYPE.intake,
    // The high-priority workflow queue: intake must not wait behind a backlog of low jobs.
    taskQueue: WORKFLOW_TASK_QUEUE.high,
    workflowId: INTAKE_SCHEDULE_ID,
    args: [],
    workflowRunTimeout: '5m',
  };
  return {
    spec: { intervals: [{ every: intervalSeconds * 1000 }] },
    action,
    policies: {
      // A slow run (a big backlog) makes the next ones skip, never pile up or run side by side.
      overlap: ScheduleOverlapPolicy.SKIP,
      // Missed runs (server down) are not replayed: the next run drains everything anyway.
      catchupWindow: '1 minute' as Duration,
    },
  };
}

/** Creates the schedule, or updates it to this interval and action when it exists. Returns its id. */
export async function ensureIntakeSchedule(
  client: Client,
  opts: IntakeScheduleOptions = {},
): Promise<string> {
  const intervalSeconds = opts.intervalSeconds ?? 5;
  if (!Number.isFinite(intervalSeconds) || intervalSeconds < 1) {
    throw new RangeError(`intervalSeconds must be a number >= 1, got ${JSON.stringify(intervalSeconds)}`);
  }
  const body = scheduleBody(intervalSeconds);
  try {
    await client.schedule.create({ scheduleId: INTAKE_SCHEDULE_ID, ...body });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(INTAKE_SCHEDULE_ID).update(
      (previous): ScheduleUpdateOptions => ({
        ...previous,
        spec: body.spec,
        action: body.action,
        policies: body.policies,
      }),
    );
  }
  return INTAKE_SCHEDULE_ID;
}

/** Runs intake once now and waits for it (the CLI's `render-queue intake`). */
export async function runIntakeOnce(client: Client): Promise<IntakeRunResult> {
  return client.workflow.execute(WORKFLOW_TYPE.intake, {
    taskQueue: WORKFLOW_TASK_QUEUE.high,
    workflowId: `${INTAKE_WORKFLOW_ID_PREFIX}manual-${randomUUID()}`,
    args: [],
    workflowRunTimeout: '5m',
  });
}
