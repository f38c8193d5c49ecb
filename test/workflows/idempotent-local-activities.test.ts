/**
 * A local activity Core reports as cancelled, when the workflow never cancelled it, runs again
 * (idempotent-local-activities.ts); a cancellation the workflow asked for and any other failure
 * still end the workflow.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { LIMITS, LOCAL_ACTIVITY_CANCEL_RETRIED_PATCH } from '../../src/shared/constants';
import { timeSkippingEnv } from '../../dev/temporal';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

async function run(workflow: string, step: (label: string) => Promise<string>) {
  const taskQueue = `idempotent-la-${workflow}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('./fixtures/cancelled-la-workflows'),
    activities: { step },
  });
  const handle = await env.client.workflow.start(workflow, { taskQueue, workflowId: taskQueue, args: ['x'] });
  const result = await worker.runUntil(
    handle.result().then(
      (value: unknown) => ({ value }),
      (error: unknown) => ({ error }),
    ),
  );
  const history = await handle.fetchHistory();
  return { result, events: history.events ?? [] };
}

test('a step Core reported cancelled without a cancel runs again, behind its patch, and the job goes on', async () => {
  let calls = 0;
  const { result, events } = await run('stepCancelledOnceByCore', async (label) => {
    calls += 1;
    return `done ${label}`;
  });
  expect(result).toEqual({ value: 'done x' });
  expect(calls).toBe(1);
  const patches = events.flatMap((e) =>
    e.markerRecordedEventAttributes?.markerName === 'core_patch'
      ? [
          Buffer.from(
            e.markerRecordedEventAttributes.details?.['patch-data']?.payloads?.[0]?.data ?? [],
          ).toString(),
        ]
      : [],
  );
  expect(patches).toHaveLength(1);
  expect(patches[0]).toContain(LOCAL_ACTIVITY_CANCEL_RETRIED_PATCH);
  expect(events.some((e) => e.timerStartedEventAttributes)).toBe(true);
});

test('a step Core keeps reporting cancelled runs again a bounded number of times, then the failure stands', async () => {
  const { result, events } = await run('stepAlwaysCancelledByCore', async (label) => `done ${label}`);
  expect(result).toHaveProperty('error');
  expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(LIMITS.localActivityCancelRetries);
});

test('a cancellation the workflow asked for is not retried', async () => {
  let calls = 0;
  const { result } = await run('stepCancelledByTheWorkflow', async (label) => {
    calls += 1;
    return `done ${label}`;
  });
  expect(result).toHaveProperty('error');
  expect(calls).toBe(0);
});

test('a step failing for another reason fails the workflow after its retries', async () => {
  let calls = 0;
  const { result } = await run('stepFailing', async () => {
    calls += 1;
    throw new Error('boom');
  });
  expect((result as { error: unknown }).error).toBeInstanceOf(WorkflowFailedError);
  expect(calls).toBe(3);
});
