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
import type { AllSimulators } from '../../dev/simulator/start-all';
import { startStackSimulators } from '../../dev/stack';

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
  sims = await startStackSimulators({
    defaultDurationMs: 200,
    progressSteps: 10,
  });
});
afterAll(async () => {
  await sims.close();
});

/** Render attempt 1 of 3, as a workflow since fleet-wide admission schedules it. */
function input(simulate?: Record<string, unknown>, renderer: RenderActivityInput['renderer'] = 'manim') {
  return {
    jobId: randomUUID(),
    jobType: 'doubt',
    renderer,
    payload: { scene: SECRET, ...(simulate ? { simulate } : {}) },
    attempt: 1,
    maxAttempts: 3,
  } satisfies RenderActivityInput;
}

/** What a workflow from before fleet-wide admission scheduled: no render attempt in the input. */
function legacyInput(simulate?: Record<string, unknown>): RenderActivityInput {
  const { attempt: _attempt, maxAttempts: _max, ...rest } = input(simulate);
  return rest;
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

  test("reports 'submitted' once with the render's id, then progress in steps of at least 0.1", async () => {
    const h = harness();
    await h.run(input());
    expect(h.reports[0]).toEqual({
      workflowId: 'render-job-test',
      attempt: 1,
      phase: 'submitted',
      progress: null,
      renderId: h.heartbeats[0]?.renderId,
    });
    expect(h.reports.filter((r) => r.phase === 'submitted')).toHaveLength(1);
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

  test('a render the renderer fails permanently is RenderFailedPermanently; a plain failure is RenderFailed', async () => {
    const permanent = await rejection(harness().run(input({ outcome: 'fail-permanently' })));
    expect(permanent).toMatchObject({ type: RENDER_ERROR.failedPermanently, nonRetryable: true });
    expect((permanent as Error).message).toMatch(/the scene cannot be rendered/);
    // A failed attempt: the workflow counts it (Temporal's retry policy lists every render failure type).
    const failed = await rejection(harness().run(input({ outcome: 'fail' })));
    expect(failed).toMatchObject({ type: RENDER_ERROR.failed });
  });

  test('anything unforeseen fails the attempt as RenderUnexpectedError, not as a lost worker', async () => {
    const broken = harness(
      {},
      {
        renderers: {
          ...createRenderers(sims.urls),
          manim: {
            name: 'manim',
            submit: async () => ({ renderId: 'r-1' }),
            status: async () => {
              throw new TypeError('cannot read properties of undefined');
            },
            cancel: async () => true,
            health: async () => ({ status: 'ok' as const }),
          },
        },
      },
    );
    const failure = await rejection(broken.run(input()));
    expect(failure).toMatchObject({ type: RENDER_ERROR.unexpected, nonRetryable: true });
    expect((failure as Error).message).toMatch(/cannot read properties of undefined/);
  });

  test('heartbeats keep coming while the renderer is slow to answer: only a lost worker misses them', async () => {
    const sim = sims.simulators.manim;
    const h = harness({}, { pollErrorToleranceMs: 60_000, heartbeatEveryMs: 50 });
    const job = input({ outcome: 'hang' });
    const running = h.run(job);
    await sim.waitFor((s) =>
      s.ledger.some((e) => e.jobId === job.jobId && e.method === 'GET' && e.httpStatus === null),
    );
    const before = h.heartbeats.length;
    await new Promise((r) => setTimeout(r, 400));
    // A GET is hanging all this time; the timer still heartbeats.
    expect(h.heartbeats.length - before).toBeGreaterThanOrEqual(4);
    h.env.cancel();
    await rejection(running);
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

  test('a malformed answer fails the attempt as RendererBadResponse once past the tolerance, and stops the render', async () => {
    const job = input({ outcome: 'malformed' });
    const failure = await rejection(harness({}, { pollErrorToleranceMs: 100 }).run(job));
    expect(failure).toMatchObject({ type: RENDER_ERROR.badResponse });
    // The render may still be going at the renderer; the next attempt submits a fresh one.
    const sim = sims.simulators.manim;
    expect(sim.ledger.some((e) => e.method === 'DELETE' && e.jobId === job.jobId)).toBe(true);
    expect(sim.stats().inFlightJobIds).not.toContain(job.jobId);
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
    const cancelled = await rejection(running);
    expect(cancelled).toBeInstanceOf(CancelledFailure);
    // The details tell the workflow the renderer was told, so it need not tell it again.
    expect((cancelled as CancelledFailure).details).toEqual([{ rendererTold: true }]);
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

  test('a worker shutdown fails the try as RenderWorkerLost (retried at once) and leaves the render running', async () => {
    const sim = sims.simulators.manim;
    const h = harness({}, { pollIntervalMs: 60_000 });
    const job = input({ outcome: 'never-finish' });
    const running = h.run(job);
    await sim.waitFor((s) => s.stats().started.some((r) => r.jobId === job.jobId));
    await new Promise((r) => setTimeout(r, 20));
    h.env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    const lost = await rejection(running);
    expect(lost).toBeInstanceOf(ApplicationFailure);
    expect(lost).toMatchObject({ type: RENDER_ERROR.workerLost, nonRetryable: false });
    expect(sim.ledger.some((e) => e.method === 'DELETE' && e.jobId === job.jobId)).toBe(false);
    expect(sim.stats().inFlightJobIds).toContain(job.jobId);
  });

  test('legacy inputs: a worker shutdown rethrows the cancellation, as before admission', async () => {
    const sim = sims.simulators.manim;
    const h = harness({}, { pollIntervalMs: 60_000 });
    const job = legacyInput({ outcome: 'never-finish' });
    const running = h.run(job);
    await sim.waitFor((s) => s.stats().started.some((r) => r.jobId === job.jobId));
    await new Promise((r) => setTimeout(r, 20));
    h.env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    expect(await rejection(running)).toBeInstanceOf(CancelledFailure);
    expect(sim.stats().inFlightJobIds).toContain(job.jobId);
  });
});

describe('render activity resume', () => {
  async function previousTry(simulate?: Record<string, unknown>) {
    const job = input(simulate);
    const renderers = createRenderers(sims.urls);
    const { jobId, jobType, payload } = job;
    const { renderId } = await renderers.manim.submit({ jobId, jobType, attempt: 1, payload });
    return { job, renderId };
  }

  function details(renderId: string, attempt = 1): RenderHeartbeatDetails {
    return { phase: 'rendering', renderId, progress: 0.2, attempt };
  }

  test('after a lost worker, the next try of the same attempt resumes the render instead of submitting again', async () => {
    const { job, renderId } = await previousTry();
    const h = harness({ attempt: 2, heartbeatDetails: details(renderId) });
    await expect(h.run(job)).resolves.toEqual({
      videoUrl: `${sims.urls.manim}/videos/${renderId}.mp4`,
      renderId,
      attempt: 1,
    });
    expect(posts(job.jobId)).toHaveLength(1); // only the lost try's
    expect(h.heartbeats.every((d) => d.renderId === renderId && d.attempt === 1)).toBe(true);
  });

  test('returns a render that completed while no worker was watching, without submitting', async () => {
    const { job, renderId } = await previousTry({ durationMs: 20 });
    await sims.simulators.manim.waitFor((s) => s.stats().completed.some((c) => c.renderId === renderId));
    const h = harness({ attempt: 2, heartbeatDetails: details(renderId) });
    await expect(h.run(job)).resolves.toMatchObject({ renderId, attempt: 1 });
    expect(posts(job.jobId)).toHaveLength(1);
  });

  test('a render that failed while its worker was gone fails the attempt; it is not submitted again', async () => {
    const { job, renderId } = await previousTry({ outcome: 'fail', durationMs: 20 });
    await sims.simulators.manim.waitFor((s) => s.stats().failed.some((c) => c.renderId === renderId));
    const failure = await rejection(harness({ attempt: 2, heartbeatDetails: details(renderId) }).run(job));
    expect(failure).toMatchObject({ type: RENDER_ERROR.failed });
    expect(posts(job.jobId)).toHaveLength(1);
  });

  test('heartbeat details of another render attempt are ignored: a new attempt submits a fresh render', async () => {
    const { job, renderId } = await previousTry();
    const second = { ...job, attempt: 2 };
    const outcome = (await harness({ heartbeatDetails: details(renderId, 1) }).run(second)) as {
      renderId: string;
    };
    expect(outcome.renderId).not.toBe(renderId);
    expect(posts(job.jobId).map((p) => p.attempt)).toEqual([1, 2]);
  });

  describe('legacy inputs (before fleet-wide admission: every Temporal attempt was a render attempt)', () => {
    test('resume across Temporal attempts, and start afresh when the renderer forgot the render', async () => {
      const { job, renderId } = await previousTry();
      const legacy = legacyInput();
      const resumed = harness({ attempt: 2, heartbeatDetails: details(renderId) });
      await expect(resumed.run({ ...legacy, jobId: job.jobId })).resolves.toMatchObject({
        renderId,
        attempt: 2,
      });
      const gone = legacyInput();
      const fresh = (await harness({ attempt: 2, heartbeatDetails: details('forgotten-render') }).run(
        gone,
      )) as {
        renderId: string;
      };
      expect(fresh.renderId).not.toBe('forgotten-render');
      expect(posts(gone.jobId)).toHaveLength(1);
    });

    test("report 'started' in parallel with the submit", async () => {
      const h = harness();
      await h.run(legacyInput());
      expect(h.reports[0]).toMatchObject({ phase: 'started', attempt: 1 });
    });
  });
});
