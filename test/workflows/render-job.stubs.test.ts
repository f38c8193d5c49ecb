/**
 * renderJob with every activity replaced by an in-memory stub, on the time-skipping test server:
 * no database, no renderer simulators, no admission workflow. The stubs record what the workflow
 * asked for, and grant permits the way admission does (a signal to the job). Fast, so each rule of
 * the workflow (retries, non-retryable failures, cancellation, timeouts, permits) has a test here;
 * render-job.timeskip.test.ts and render-job.devserver.test.ts run the same paths end to end.
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { WorkflowBundleOption } from '@temporalio/worker';
import type { EnterQueueInput, EnterQueueResult } from '../../src/activities/enter-queue';
import type { RenderActivityInput, RenderResult, StopRenderInput } from '../../src/activities/render';
import { permitGrantedSignal } from '../../src/shared/admission-messages';
import type { PermitRelease, Reprioritize } from '../../src/shared/admission-messages';
import type { PermitRequest } from '../../src/shared/admission-queue';
import { RENDER_TASK_QUEUE, SYNC_TASK_QUEUE, WORKFLOW_TYPE } from '../../src/shared/constants';
import { INVALID_JOB_INPUT, RENDER_ERROR, RENDER_JOB_FAILED } from '../../src/shared/errors';
import type { JobTransition, RenderJobInput, RenderPolicy } from '../../src/shared/job-schema';
import { changePrioritySignal, jobStateQuery } from '../../src/shared/messages';
import { workflowBundle } from '../../src/worker/create-workers';
import type * as workflows from '../../src/workflows';
import type { renderJob } from '../../src/workflows/render-job';
import { eventually, timeSkippingEnv } from '../../dev/temporal';

/** Each name in WORKFLOW_TYPE is a workflow the workers register: tsc fails here otherwise. */
const _workflowTypes: Array<keyof typeof workflows> = Object.values(WORKFLOW_TYPE);

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleOption;

beforeAll(async () => {
  // The stubs fail activities on purpose: the SDK's warnings about them are noise here.
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Installed already in this process.
  }
  [env, bundle] = await Promise.all([timeSkippingEnv(), workflowBundle()]);
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

const POLICY: RenderPolicy = { jobTimeoutMinutes: 10, retryIntervalMinutes: 5, maxAttempts: 3 };

type RenderStub = (input: RenderActivityInput) => Promise<RenderResult>;

interface StubOptions {
  /** What each render attempt does, by attempt (the last one repeats). */
  renders: RenderStub[];
  policy?: RenderPolicy;
  /** Admission grants each request at once (default), or only when the test says so. */
  grants?: 'at-once' | 'by-hand';
  invalid?: string;
  /** How long the job's first step takes before its request lands (a burst on the sync queue). */
  firstStepMs?: number;
}

/** Every activity renderJob calls, as stubs that record their calls. */
function stubs(options: StubOptions) {
  const calls = {
    requests: [] as PermitRequest[],
    reprioritized: [] as Reprioritize[],
    releases: [] as PermitRelease[],
    renders: [] as RenderActivityInput[],
    stops: [] as StopRenderInput[],
    syncs: [] as JobTransition[],
  };
  /** Admission's grant: a signal to the job's workflow. */
  const grant = async (jobId: string, attempt: number) =>
    env.client.workflow
      .getHandle(stubWorkflowId(jobId))
      .signal(permitGrantedSignal, { attempt, acceptedAt: Date.now() });
  const asked = async (request: PermitRequest) => {
    calls.requests.push(request);
    if (options.grants !== 'by-hand') await grant(request.jobId, request.attempt);
  };
  const local = {
    async enterQueue({ request }: EnterQueueInput): Promise<EnterQueueResult> {
      if (options.invalid) return { invalid: options.invalid };
      if (options.firstStepMs) await new Promise((resolve) => setTimeout(resolve, options.firstStepMs));
      await asked(request);
      return { policy: options.policy ?? POLICY, recorded: true };
    },
    requestPermit: asked,
    async releasePermit(release: PermitRelease): Promise<void> {
      calls.releases.push(release);
    },
    async reprioritizePermit(change: Reprioritize): Promise<void> {
      calls.reprioritized.push(change);
    },
  };
  const render = {
    async render(input: RenderActivityInput): Promise<RenderResult> {
      calls.renders.push(input);
      const attempt = input.attempt ?? 1;
      return options.renders[Math.min(attempt, options.renders.length) - 1]!(input);
    },
  };
  const sync = {
    async syncJob(transition: JobTransition): Promise<{ applied: boolean }> {
      calls.syncs.push(transition);
      return { applied: true };
    },
    async stopRender(input: StopRenderInput): Promise<{ renderId: string | null; acknowledged: boolean }> {
      calls.stops.push(input);
      return { renderId: null, acknowledged: false };
    },
  };
  return { calls, grant, local, render, sync };
}

type Stubs = ReturnType<typeof stubs>;

/** Starts a job on its own task queue with the stubs as its activities; `body` drives it. */
async function withJob<T>(
  s: Stubs,
  body: (handle: Awaited<ReturnType<typeof start>>) => Promise<T>,
): Promise<T> {
  const taskQueue = `stubs-${randomUUID()}`;
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default' };
  const workers = await Promise.all([
    Worker.create({ ...common, taskQueue, workflowBundle: bundle, activities: s.local }),
    // Cancellation reaches an activity with a heartbeat's answer: heartbeat often, as cancellations go.
    Worker.create({
      ...common,
      taskQueue: RENDER_TASK_QUEUE.manim,
      activities: s.render,
      maxHeartbeatThrottleInterval: '200ms',
    }),
    // The job's first step and its permit calls run on the sync queue (workflows/admission-calls.ts).
    Worker.create({ ...common, taskQueue: SYNC_TASK_QUEUE, activities: { ...s.sync, ...s.local } }),
  ]);
  const run = body(await start(taskQueue));
  return workers.reduce((inner, worker) => worker.runUntil(inner), run);
}

const stubWorkflowId = (jobId: string) => `stub-job-${jobId}`;

async function start(taskQueue: string) {
  const input: RenderJobInput = {
    version: 1,
    jobId: randomUUID(),
    jobType: 'doubt',
    priority: 'high',
    renderer: 'manim',
    payload: { question: 'Why is the sky blue?' },
  };
  return env.client.workflow.start<typeof renderJob>(WORKFLOW_TYPE.renderJob, {
    taskQueue,
    workflowId: stubWorkflowId(input.jobId),
    args: [input],
  });
}

const rendered = (input: RenderActivityInput): Promise<RenderResult> =>
  Promise.resolve({
    videoUrl: `https://cdn.example/${input.jobId}.mp4`,
    renderId: `r-${input.attempt}`,
    attempt: 1,
    recorded: true,
    released: true,
  });

const unavailable = (): Promise<RenderResult> => {
  throw ApplicationFailure.create({ type: RENDER_ERROR.unavailable, message: 'renderer answered 503' });
};

const rejected = (): Promise<RenderResult> => {
  throw ApplicationFailure.create({ type: RENDER_ERROR.rejected, message: 'renderer answered 400' });
};

/** A render that runs until it is cancelled, heartbeating as the real one does. */
async function forever(): Promise<RenderResult> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await ctx.sleep(100);
  }
}

const failureOf = async (result: Promise<unknown>) => {
  const err = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause;
};

test('a render that succeeds completes the job on attempt 1, leaving the rows and the permit to the activity', async () => {
  const s = stubs({ renders: [rendered] });
  const result = await withJob(s, (handle) => handle.result());
  expect(result).toMatchObject({ attempts: 1, videoUrl: expect.stringMatching(/^https:\/\/cdn\.example\//) });
  expect(s.calls.renders).toHaveLength(1);
  expect(s.calls.renders[0]).toMatchObject({ attempt: 1, maxAttempts: 3, releasesPermit: true });
  expect(s.calls.requests.map((r) => r.attempt)).toEqual([1]);
  // The activity wrote `completed` and gave the permit back: the workflow sends neither again.
  expect(s.calls.syncs).toEqual([]);
  expect(s.calls.releases).toEqual([]);
});

test('a renderer failure uses an attempt: the job shows retrying, waits the 5-minute retry interval, and completes on attempt 3', async () => {
  const s = stubs({ renders: [unavailable, unavailable, rendered] });
  const { result, state } = await withJob(s, async (handle) => ({
    result: await handle.result(),
    state: await handle.query(jobStateQuery),
  }));
  expect(result.attempts).toBe(3);
  expect(s.calls.renders.map((r) => r.attempt)).toEqual([1, 2, 3]);
  const retrying = s.calls.syncs.filter((t) => t.status === 'retrying');
  expect(retrying.map((t) => t.attempt)).toEqual([1, 2]);
  expect(retrying[0]?.error).toMatch(/^RendererUnavailable: renderer answered 503/);
  const [first, second] = state.attempts.map((a) => Date.parse(a.startedAt));
  expect(second! - first!).toBeGreaterThanOrEqual(5 * 60_000);
  expect(Date.parse(retrying[0]!.nextAttemptAt!) - first!).toBeGreaterThanOrEqual(5 * 60_000);
});

test('each attempt asks admission for a permit and gives it back when the attempt ends', async () => {
  const s = stubs({
    renders: [unavailable, unavailable, (input) => rendered(input).then((r) => ({ ...r, released: false }))],
  });
  await withJob(s, (handle) => handle.result());
  expect(s.calls.requests.map((r) => r.attempt)).toEqual([1, 2, 3]);
  // Later attempts ask with the time the first grant carried, so they keep their place.
  expect(s.calls.requests[1]?.acceptedAt).toEqual(expect.any(Number));
  expect(s.calls.releases.map(({ attempt, outcome }) => [attempt, outcome])).toEqual([
    [1, 'failed'],
    [2, 'failed'],
    [3, 'completed'],
  ]);
});

test('a failure no attempt can fix (the renderer refused the request) fails the job at once, after one attempt', async () => {
  const s = stubs({ renders: [rejected] });
  const cause = await withJob(s, (handle) => failureOf(handle.result()));
  expect(cause).toMatchObject({
    type: RENDER_JOB_FAILED,
    message: 'RendererRejected: renderer answered 400',
  });
  expect(s.calls.renders).toHaveLength(1);
  expect(s.calls.syncs.at(-1)).toMatchObject({ status: 'failed', attempt: 1 });
  expect(s.calls.releases).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed' })]);
});

test('a render failing on every attempt fails the job after the policy’s attempts, with the last error', async () => {
  const s = stubs({ renders: [unavailable], policy: { ...POLICY, maxAttempts: 2 } });
  const cause = await withJob(s, (handle) => failureOf(handle.result()));
  expect(cause).toMatchObject({
    type: RENDER_JOB_FAILED,
    message: 'RendererUnavailable: renderer answered 503',
  });
  expect(s.calls.renders.map((r) => r.attempt)).toEqual([1, 2]);
  expect(s.calls.syncs.at(-1)).toMatchObject({ status: 'failed', attempt: 2 });
});

test('cancelling a rendering job tells the renderer to stop, gives the permit back and records cancelled', async () => {
  const s = stubs({ renders: [forever] });
  const cause = await withJob(s, async (handle) => {
    await eventually('the render to start', () => s.calls.renders.length > 0);
    await handle.cancel();
    return failureOf(handle.result());
  });
  expect(cause).toBeInstanceOf(CancelledFailure);
  expect(s.calls.stops).toEqual([expect.objectContaining({ attempt: 1 })]);
  expect(s.calls.releases).toEqual([expect.objectContaining({ attempt: 1, outcome: 'cancelled' })]);
  expect(s.calls.syncs.at(-1)).toMatchObject({ status: 'cancelled' });
});

test('a render past the attempt timeout is stopped at the renderer and fails its attempt with the timeout', async () => {
  // A running activity holds the test server's clock, so the timeout elapses in real time: 1.2 s.
  const s = stubs({ renders: [forever], policy: { ...POLICY, jobTimeoutMinutes: 0.02, maxAttempts: 1 } });
  const cause = await withJob(s, (handle) => failureOf(handle.result()));
  expect(cause).toMatchObject({ type: RENDER_JOB_FAILED, message: 'render timed out after 0.02 minutes' });
  expect(s.calls.stops.map((stop) => stop.attempt)).toEqual([1]);
  expect(s.calls.releases).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed' })]);
}, 30_000);

test('no render starts before admission grants the permit; a job cancelled while it waits withdraws its request', async () => {
  const s = stubs({ renders: [rendered], grants: 'by-hand' });
  const cause = await withJob(s, async (handle) => {
    await eventually('the permit request', () => s.calls.requests.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(s.calls.renders).toEqual([]);
    expect((await handle.query(jobStateQuery)).status).toBe('queued');
    await handle.cancel();
    return failureOf(handle.result());
  });
  expect(cause).toBeInstanceOf(CancelledFailure);
  expect(s.calls.renders).toEqual([]);
  expect(s.calls.releases).toEqual([expect.objectContaining({ attempt: 1, outcome: 'withdrawn' })]);
});

test('input the first step refuses fails the job at once as InvalidJobInput, without a render', async () => {
  const s = stubs({ renders: [rendered], invalid: 'invalid job: payload: required' });
  const cause = await withJob(s, (handle) => failureOf(handle.result()));
  expect(cause).toMatchObject({ type: INVALID_JOB_INPUT, message: 'invalid job: payload: required' });
  expect(s.calls.renders).toEqual([]);
});

test('the first step and the permit calls are activities on the sync queue, so no eviction under load can cut one short', async () => {
  // As local activities they held the job's workflow task open; under a 10,000-job burst Core
  // cancelled thousands of them mid-flight and the worker process aborted (admission-calls.ts).
  const s = stubs({
    renders: [unavailable, (input) => rendered(input).then((r) => ({ ...r, released: false }))],
  });
  const history = await withJob(s, async (handle) => {
    await handle.result();
    return handle.fetchHistory();
  });
  const scheduled = (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a ? [`${a.activityType?.name}@${a.taskQueue?.name}`] : [];
  });
  const calls = ['enterQueue', 'releasePermit', 'requestPermit', 'releasePermit'];
  expect(scheduled.filter((name) => !/^(render|syncJob)@/.test(name))).toEqual(
    calls.map((name) => `${name}@${SYNC_TASK_QUEUE}`),
  );
  const localActivityMarkers = (history.events ?? []).filter(
    (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
  );
  expect(localActivityMarkers).toEqual([]);
}, 30_000);

test('a priority change while the first step is still asking reaches admission once the request has landed', async () => {
  const s = stubs({ renders: [rendered], grants: 'by-hand', firstStepMs: 1000 });
  await withJob(s, async (handle) => {
    // The first step is in flight: the job is not waiting yet.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(s.calls.requests).toEqual([]);
    await handle.signal(changePrioritySignal, { priority: 'low' });
    await eventually('the priority change to reach admission', () => s.calls.reprioritized.length > 0);
    expect(s.calls.requests.map((r) => r.priority)).toEqual(['high']);
    expect(s.calls.reprioritized).toEqual([{ jobId: s.calls.requests[0]!.jobId, priority: 'low' }]);
    await handle.cancel();
    await handle.result().catch(() => undefined);
  });
}, 30_000);

test('a job cancelled during its first step withdraws the request that step sent, after it landed', async () => {
  const s = stubs({ renders: [rendered], grants: 'by-hand', firstStepMs: 1000 });
  const cause = await withJob(s, async (handle) => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(s.calls.requests).toEqual([]);
    await handle.cancel();
    return failureOf(handle.result());
  });
  expect(cause).toBeInstanceOf(CancelledFailure);
  expect(s.calls.requests.map((r) => r.attempt)).toEqual([1]);
  expect(s.calls.releases).toEqual([expect.objectContaining({ attempt: 1, outcome: 'withdrawn' })]);
  expect(s.calls.renders).toEqual([]);
}, 30_000);
