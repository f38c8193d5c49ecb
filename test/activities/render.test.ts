import { randomUUID } from 'node:crypto';
import type { Info } from '@temporalio/activity';
import {
  ActivityCancellationDetails,
  ApplicationFailure,
  CancelledFailure,
  type LogLevel,
  type LogMetadata,
  type Logger,
} from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRenderActivities, type RenderActivityDeps } from '../../src/activities/render';
import { createRenderers } from '../../src/renderers/adapters';
import type {
  RenderActivityInput,
  RenderHeartbeatDetails,
  RenderProgressUpdate,
} from '../../src/renderers/contract';
import { RENDER_ERROR } from '../../src/shared/errors';
import { startAllSimulators, type AllSimulators } from '../../src/simulator/start-all';

const SECRET = 'TOP-SECRET-SCENE-CONTENT';

class CollectingLogger implements Logger {
  readonly entries: { level: LogLevel; message: string; meta?: LogMetadata }[] = [];
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.entries.push({ level, message, meta });
  }
  trace = (m: string, meta?: LogMetadata) => this.log('TRACE', m, meta);
  debug = (m: string, meta?: LogMetadata) => this.log('DEBUG', m, meta);
  info = (m: string, meta?: LogMetadata) => this.log('INFO', m, meta);
  warn = (m: string, meta?: LogMetadata) => this.log('WARN', m, meta);
  error = (m: string, meta?: LogMetadata) => this.log('ERROR', m, meta);
}

let sims: AllSimulators;

beforeAll(async () => {
  sims = await startAllSimulators({
    ports: { manim: 0, revideo: 0, orchestrator: 0 },
    defaultDurationMs: 200,
    progressSteps: 10,
  });
});
afterAll(async () => {
  await sims.close();
});

function input(simulate?: Record<string, unknown>, renderer: RenderActivityInput['renderer'] = 'manim') {
  return {
    jobId: randomUUID(),
    jobType: 'doubt',
    renderer,
    payload: { scene: SECRET, ...(simulate ? { simulate } : {}) },
  } satisfies RenderActivityInput;
}

interface Harness {
  env: MockActivityEnvironment;
  logger: CollectingLogger;
  heartbeats: RenderHeartbeatDetails[];
  reports: RenderProgressUpdate[];
  run(i: RenderActivityInput): Promise<unknown>;
}

function harness(info: Partial<Info> = {}, deps: Partial<RenderActivityDeps> = {}): Harness {
  const logger = new CollectingLogger();
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'render-job-test', runId: randomUUID() }, ...info },
    { logger },
  );
  const heartbeats: RenderHeartbeatDetails[] = [];
  env.on('heartbeat', (d: RenderHeartbeatDetails) => heartbeats.push(d));
  const reports: RenderProgressUpdate[] = [];
  const activities = createRenderActivities({
    renderers: createRenderers(sims.urls, { requestTimeoutMs: 5_000, cancelTimeoutMs: 1_000 }),
    reportProgress: async (update) => void reports.push(update),
    pollIntervalMs: 10,
    ...deps,
  });
  return { env, logger, heartbeats, reports, run: (i) => env.run(activities.render, i) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the render to fail');
    },
    (e: unknown) => e,
  );
}

function posts(jobId: string, sim = sims.simulators.manim) {
  return sim.ledger.filter((e) => e.method === 'POST' && e.jobId === jobId);
}

describe('render activity', () => {
  test('completes with the video URL and heartbeats the render id with rising progress', async () => {
    const h = harness();
    const job = input();
    const outcome = await h.run(job);
    const [submitted, ...polled] = h.heartbeats;
    expect(submitted).toEqual({
      phase: 'submitted',
      renderId: expect.any(String),
      progress: null,
      attempt: 1,
    });
    const renderId = submitted?.renderId;
    expect(outcome).toEqual({ videoUrl: `${sims.urls.manim}/videos/${renderId}.mp4`, renderId, attempt: 1 });
    expect(polled.every((d) => d.renderId === renderId && d.attempt === 1)).toBe(true);
    const progress = polled.map((d) => d.progress ?? 0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(1);
    expect(
      polled.some((d) => d.phase === 'rendering' && (d.progress ?? 0) > 0 && (d.progress ?? 0) < 1),
    ).toBe(true);
    expect(posts(job.jobId)).toHaveLength(1);
  });

  test("reports 'started' once, then progress in steps of at least 0.1", async () => {
    const h = harness();
    await h.run(input());
    expect(h.reports[0]).toEqual({
      workflowId: 'render-job-test',
      attempt: 1,
      phase: 'started',
      progress: null,
    });
    expect(h.reports.filter((r) => r.phase === 'started')).toHaveLength(1);
    const steps = h.reports.slice(1).map((r) => r.progress ?? -1);
    expect(h.reports.slice(1).every((r) => r.phase === 'progress')).toBe(true);
    expect(steps.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < steps.length; i += 1)
      expect(steps[i]! - steps[i - 1]!).toBeGreaterThanOrEqual(0.1 - 1e-9);
    expect(steps.at(-1)).toBe(1);
  });

  test('a failing or hanging progress report never fails the render', async () => {
    const failing = harness(
      {},
      { reportProgress: async () => Promise.reject(new Error('workflow unreachable')) },
    );
    await expect(failing.run(input())).resolves.toMatchObject({ attempt: 1 });
    expect(failing.logger.entries.some((e) => e.message === 'progress report failed')).toBe(true);

    const hanging = harness(
      {},
      { reportProgress: () => new Promise(() => undefined), progressReportTimeoutMs: 20 },
    );
    await expect(hanging.run(input())).resolves.toMatchObject({ attempt: 1 });
  });

  test('a 400 from the renderer fails at once as non-retryable RendererRejected', async () => {
    const failure = await rejection(harness().run(input({ outcome: 'reject' })));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: RENDER_ERROR.rejected, nonRetryable: true });
    expect((failure as Error).message).toMatch(
      /^manim rejected the render \(400, POST \/render\): simulated rejection/,
    );
  });

  test('a render the renderer fails permanently is non-retryable; a plain failure is retryable', async () => {
    const permanent = await rejection(harness().run(input({ outcome: 'fail-permanently' })));
    expect(permanent).toMatchObject({ type: RENDER_ERROR.failedPermanently, nonRetryable: true });
    expect((permanent as Error).message).toMatch(/the scene cannot be rendered/);
    const retryable = await rejection(harness().run(input({ outcome: 'fail' })));
    expect(retryable).toMatchObject({ type: RENDER_ERROR.failed, nonRetryable: false });
  });

  test('an invalid input fails as non-retryable InvalidPayload naming the field', async () => {
    const bad = { ...input(), jobId: 'not-a-uuid' };
    const failure = await rejection(harness().run(bad));
    expect(failure).toMatchObject({ type: RENDER_ERROR.invalidPayload, nonRetryable: true });
    expect((failure as Error).message).toMatch(/jobId: /);
  });

  test('works through each adapter, including the orchestrator', async () => {
    const h = harness();
    for (const renderer of ['revideo', 'orchestrator'] as const) {
      await expect(h.run(input({ durationMs: 30 }, renderer))).resolves.toMatchObject({ attempt: 1 });
    }
  });

  test('a malformed answer fails the attempt as retryable RendererBadResponse once past the tolerance', async () => {
    const failure = await rejection(
      harness({}, { pollErrorToleranceMs: 100 }).run(input({ outcome: 'malformed' })),
    );
    expect(failure).toMatchObject({ type: RENDER_ERROR.badResponse, nonRetryable: false });
  });

  test('logs carry ids, never payload contents', async () => {
    const h = harness();
    await h.run(input());
    expect(h.logger.entries.some((e) => e.message === 'render completed' && e.meta?.renderId)).toBe(true);
    expect(JSON.stringify(h.logger.entries)).not.toContain(SECRET);
  });
});

describe('render activity cancellation', () => {
  test('aborts the in-flight status call, tells the renderer (DELETE) and rethrows the cancellation', async () => {
    const sim = sims.simulators.manim;
    const h = harness();
    const job = input({ outcome: 'hang' });
    const running = h.run(job);
    // Wait until a GET to the render is open and unanswered, then cancel.
    await sim.waitFor((s) =>
      s.ledger.some((e) => e.jobId === job.jobId && e.method === 'GET' && e.httpStatus === null),
    );
    const renderId = h.heartbeats[0]?.renderId as string;
    const cancelledAt = Date.now();
    h.env.cancel();
    expect(await rejection(running)).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - cancelledAt).toBeLessThan(1_000); // the request timeout is 5 s: the call was aborted
    expect(
      sim.ledger.some((e) => e.method === 'DELETE' && e.renderId === renderId && e.httpStatus === 200),
    ).toBe(true);
    expect(sim.stats().cancelled).toContain(renderId);
  });

  test('cancelled while sleeping between polls also stops the render', async () => {
    const sim = sims.simulators.manim;
    const h = harness({}, { pollIntervalMs: 60_000 });
    const job = input({ outcome: 'never-finish' });
    const running = h.run(job);
    await sim.waitFor((s) => s.stats().started.some((r) => r.jobId === job.jobId));
    await new Promise((r) => setTimeout(r, 20));
    h.env.cancel();
    expect(await rejection(running)).toBeInstanceOf(CancelledFailure);
    await sim.waitFor((s) => s.stats().cancelled.includes(h.heartbeats[0]?.renderId as string), 2_000);
  });

  test('a worker shutdown aborts the attempt but leaves the render running for the next attempt', async () => {
    const sim = sims.simulators.manim;
    const h = harness({}, { pollIntervalMs: 60_000 });
    const job = input({ outcome: 'never-finish' });
    const running = h.run(job);
    await sim.waitFor((s) => s.stats().started.some((r) => r.jobId === job.jobId));
    await new Promise((r) => setTimeout(r, 20));
    h.env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    expect(await rejection(running)).toBeInstanceOf(CancelledFailure);
    expect(sim.ledger.some((e) => e.method === 'DELETE' && e.jobId === job.jobId)).toBe(false);
    expect(sim.stats().inFlightJobIds).toContain(job.jobId);
  });
});

describe('render activity resume', () => {
  async function previousAttempt(simulate?: Record<string, unknown>) {
    const job = input(simulate);
    const renderers = createRenderers(sims.urls);
    const { jobId, jobType, payload } = job;
    const { renderId } = await renderers.manim.submit({ jobId, jobType, attempt: 1, payload });
    return { job, renderId };
  }

  function details(renderId: string): RenderHeartbeatDetails {
    return { phase: 'rendering', renderId, progress: 0.2, attempt: 1 };
  }

  test('resumes polling the render named in the heartbeat details instead of submitting again', async () => {
    const { job, renderId } = await previousAttempt();
    const h = harness({ attempt: 2, heartbeatDetails: details(renderId) });
    await expect(h.run(job)).resolves.toEqual({
      videoUrl: `${sims.urls.manim}/videos/${renderId}.mp4`,
      renderId,
      attempt: 2,
    });
    expect(posts(job.jobId)).toHaveLength(1); // only the previous attempt's
    expect(h.heartbeats.every((d) => d.renderId === renderId && d.attempt === 2)).toBe(true);
  });

  test('returns a render that completed while no worker was watching, without submitting', async () => {
    const { job, renderId } = await previousAttempt({ durationMs: 20 });
    await sims.simulators.manim.waitFor((s) => s.stats().completed.some((c) => c.renderId === renderId));
    const h = harness({ attempt: 2, heartbeatDetails: details(renderId) });
    await expect(h.run(job)).resolves.toMatchObject({ renderId, attempt: 2 });
    expect(posts(job.jobId)).toHaveLength(1);
  });

  test('submits a new render when the previous one is unknown to the renderer or failed', async () => {
    const gone = input();
    const h = harness({ attempt: 2, heartbeatDetails: details('forgotten-render') });
    const outcome = (await h.run(gone)) as { renderId: string };
    expect(outcome.renderId).not.toBe('forgotten-render');
    expect(posts(gone.jobId)).toHaveLength(1);

    const { job, renderId } = await previousAttempt({ outcome: 'fail', durationMs: 20 });
    await sims.simulators.manim.waitFor((s) => s.stats().failed.some((c) => c.renderId === renderId));
    const retry = harness({ attempt: 2, heartbeatDetails: details(renderId) });
    // The same job's simulate block fails again; what matters is that a second POST was made.
    await rejection(retry.run(job));
    expect(posts(job.jobId)).toHaveLength(2);
  });
});
