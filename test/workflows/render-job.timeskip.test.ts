/**
 * Retries and timeouts of renderJob on the time-skipping test server: the 5-minute intervals
 * and 10-minute timeouts pass in virtual time, the renders themselves are real HTTP calls.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import { LIMITS } from '../../src/shared/constants';
import { jobStateQuery } from '../../src/shared/messages';
import type { JobState } from '../../src/shared/messages';
import { TIME_SKIPPING_ADMISSION, eventually, timeSkippingEnv } from '../../dev/temporal';
import { startStack } from '../../dev/stack';
import type { Stack } from '../../dev/stack';

let env: TestWorkflowEnvironment;
let stack: Stack;

beforeAll(async () => {
  env = await timeSkippingEnv();
  stack = await startStack(env, {
    simulator: { defaultDurationMs: 300, progressSteps: 3 },
    admissionOptions: TIME_SKIPPING_ADMISSION,
  });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

async function run(simulate: Record<string, unknown>, jobType: 'doubt' | 'concept_explainer' = 'doubt') {
  const outcome = await submitJob(
    env.client,
    {
      jobType,
      priority: 'high',
      payload: { question: 'Why does ice float on water?', simulate },
    },
    { searchAttributes: false },
  ); // the time-skipping server can't register custom attributes
  const handle = env.client.workflow.getHandle(outcome.workflowId);
  return { jobId: outcome.jobId, handle };
}

const minutes = (ms: number) => ms / 60_000;
const ONE_SECOND = 1 / 60; // in minutes

function gapsInMinutes(state: JobState): number[] {
  const starts = state.attempts.map((a) => Date.parse(a.startedAt));
  return starts.slice(1).map((t, i) => minutes(t - starts[i]!));
}

test('a render that fails twice with 500 completes on attempt 3, 5 minutes after each failure', async () => {
  const { jobId, handle } = await run({ failTimes: 2 });
  const result = await handle.result();
  expect(result.attempts).toBe(3);

  const state = await handle.query(jobStateQuery);
  expect(state.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
  for (const gap of gapsInMinutes(state)) {
    // Attempt starts are recorded when the attempt reports in, a few ms after it really started.
    expect(gap).toBeGreaterThanOrEqual(5 - ONE_SECOND);
    expect(gap).toBeLessThan(5.5);
  }
  const row = await stack.store.getJob(jobId);
  expect(row).toMatchObject({ status: 'completed', retryCount: 2, result: result.videoUrl });
  expect(row?.result).toMatch(/^https?:\/\//);
});

test('a render failing on every attempt ends failed after 3 attempts with the last error in the row', async () => {
  const { jobId, handle } = await run({ failTimes: 99 });
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  const row = await stack.store.getJob(jobId);
  expect(row).toMatchObject({ status: 'failed', retryCount: 2 });
  expect(row?.error).toMatch(/RendererUnavailable/);
  expect(row?.error).toMatch(/500/);
  const posts = stack.sims.manim.ledger.filter((c) => c.method === 'POST' && c.jobId === jobId);
  expect(posts).toHaveLength(3);
});

test('a 400 from the renderer fails the job at once, after one attempt', async () => {
  const { jobId, handle } = await run({ outcome: 'reject' });
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  const row = await stack.store.getJob(jobId);
  expect(row).toMatchObject({ status: 'failed', retryCount: 0 });
  expect(row?.error).toMatch(/RendererRejected/);
  expect(stack.sims.manim.ledger.filter((c) => c.method === 'POST' && c.jobId === jobId)).toHaveLength(1);
});

test('each attempt runs under a 10-minute timer; Temporal retries the render only for lost workers; attempts are 5 minutes apart', async () => {
  const { handle } = await run({ failTimes: 1 });
  await handle.result();
  const events = (await handle.fetchHistory()).events!;
  const timers = events
    .map((e) => e.timerStartedEventAttributes?.startToFireTimeout?.seconds)
    .filter((seconds) => seconds !== undefined && seconds !== null)
    .map(Number);
  // Attempt 1's timeout timer, the retry interval, attempt 2's timeout timer.
  expect(timers).toEqual([600, 300, 600]);
  const renders = events
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'render')
    .map((e) => e.activityTaskScheduledEventAttributes!);
  expect(renders).toHaveLength(2);
  const [scheduled] = renders;
  expect(Number(scheduled!.heartbeatTimeout!.seconds)).toBe(LIMITS.renderHeartbeatTimeoutSeconds);
  // Lost workers are retried at once and without limit; the attempt's timer bounds them.
  expect(scheduled!.retryPolicy).toMatchObject({ maximumAttempts: 0 });
  expect(Number(scheduled!.retryPolicy!.initialInterval!.seconds)).toBe(1);
  // Every render failure is the workflow's to count, never Temporal's to retry.
  expect(scheduled!.retryPolicy!.nonRetryableErrorTypes).toEqual(
    expect.arrayContaining([
      'RendererRejected',
      'RenderFailedPermanently',
      'InvalidPayload',
      'RenderFailed',
      'RendererUnavailable',
      'RendererBadResponse',
      'RenderUnexpectedError',
    ]),
  );
  expect(scheduled!.retryPolicy!.nonRetryableErrorTypes).not.toContain('RenderWorkerLost');
  // The activity's own timeout only backs up the timer.
  expect(Number(scheduled!.startToCloseTimeout!.seconds)).toBeGreaterThan(600);
});

test('a render that never finishes is cancelled at the renderer at each attempt timeout; 3 fresh submits, then failed with the timeout', async () => {
  // The timeout comes from job_queue_config; a running activity holds the test server's clock,
  // so the timeout itself elapses in real time: shorten it to 3 s here (the intervals still skip).
  await stack.db.query('UPDATE job_queue_config SET job_timeout_minutes = 0.05');
  try {
    const { jobId, handle } = await run({ outcome: 'never-finish' });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const row = await stack.store.getJob(jobId);
    expect(row).toMatchObject({ status: 'failed', retryCount: 2 });
    expect(row?.error).toBe('render timed out after 0.05 minutes');
    const state = await handle.query(jobStateQuery);
    expect(state.attempts).toHaveLength(3);
    // 3 s timeout + 5 min interval between attempt starts.
    for (const gap of gapsInMinutes(state)) expect(gap).toBeGreaterThanOrEqual(5.04);
    const calls = (method: string) =>
      stack.sims.manim.ledger.filter((c) => c.method === method && c.jobId === jobId).map((c) => c.attempt);
    expect(calls('POST')).toEqual([1, 2, 3]);
    // Told by the workflow's stopRender, and again by the cancelled activity when it is still
    // running: at least once per attempt, at most twice (DELETE is best effort and idempotent).
    expect([...new Set(calls('DELETE'))]).toEqual([1, 2, 3]);
    for (const attempt of [1, 2, 3]) {
      expect(calls('DELETE').filter((a) => a === attempt).length).toBeLessThanOrEqual(2);
    }
    expect(stack.sims.manim.stats().inFlightJobIds).not.toContain(jobId);
  } finally {
    await stack.db.query('UPDATE job_queue_config SET job_timeout_minutes = 10');
  }
}, 60_000);

test('the retry interval comes from job_queue_config, so a deployment can change it without a code change', async () => {
  await stack.db.query('UPDATE job_queue_config SET retry_interval_minutes = 1');
  try {
    const { handle } = await run({ failTimes: 1 });
    await handle.result();
    const [gap] = gapsInMinutes(await handle.query(jobStateQuery));
    expect(gap).toBeGreaterThanOrEqual(1 - ONE_SECOND);
    expect(gap).toBeLessThan(1.5);
  } finally {
    await stack.db.query('UPDATE job_queue_config SET retry_interval_minutes = 5');
  }
});

test('a renderer that stops answering fails the attempt after the poll tolerance, and the next attempt submits a fresh render', async () => {
  // The render activity runs in real time (the test server holds its clock meanwhile): each
  // status call times out after 10 s, and 20 s without an answer fail the attempt.
  const { jobId, handle } = await run({ outcome: 'hang' });
  const result = handle.result().catch((err: unknown) => err);
  await eventually(
    'attempt 2 to start',
    async () => (await handle.query(jobStateQuery)).attempt === 2,
    LIMITS.renderPollErrorToleranceMs + 30_000,
  );
  const state = await handle.query(jobStateQuery);
  expect(state.status).toBe('processing');
  expect(gapsInMinutes(state)[0]).toBeGreaterThanOrEqual(5 - ONE_SECOND);
  // Attempt 2 submitted a fresh render; attempt 1's render, which may still be running, was told to stop.
  const posts = stack.sims.manim.ledger.filter((c) => c.method === 'POST' && c.jobId === jobId);
  expect(posts.map((c) => c.attempt)).toEqual([1, 2]);
  const deletes = stack.sims.manim.ledger.filter((c) => c.method === 'DELETE' && c.jobId === jobId);
  // Best effort against a renderer that does not answer: told at least once, attempt 1 only.
  expect(deletes.length).toBeGreaterThanOrEqual(1);
  expect(new Set(deletes.map((c) => c.attempt))).toEqual(new Set([1]));
  const row = await eventually('the row to show attempt 1 failed', async () => {
    const r = await stack.store.getJob(jobId);
    return r?.error ? r : undefined;
  });
  expect(row.error).toMatch(/RendererUnavailable/);
  // The renderer still hangs; end the test's workflow without waiting for another attempt.
  await handle.terminate('test finished');
  await result;
}, 120_000);
