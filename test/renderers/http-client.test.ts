import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { RendererClient } from '../../src/renderers/http-client';
import { createRenderers } from '../../src/renderers/adapters';
import { RENDER_ERROR } from '../../src/shared/errors';
import { startRendererSimulator, type RendererSimulator } from '../../dev/simulator/renderer-simulator';
import { startAllSimulators } from '../../dev/simulator/start-all';

function request(simulate?: Record<string, unknown>) {
  return {
    jobId: randomUUID(),
    jobType: 'doubt',
    attempt: 1,
    payload: { scene: 'x', ...(simulate ? { simulate } : {}) },
  };
}

/** Resolves with the rejection, so its fields can be asserted on. */
async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

describe('RendererClient against the simulator', () => {
  let sim: RendererSimulator;
  let client: RendererClient;

  beforeAll(async () => {
    sim = await startRendererSimulator({ backend: 'manim', defaultDurationMs: 60, progressSteps: 3 });
    client = new RendererClient({ name: 'manim', baseUrl: sim.url, requestTimeoutMs: 2_000 });
  });
  afterAll(async () => {
    await sim.close();
  });

  test('submit returns the renderId and status follows the render to completion', async () => {
    const { renderId } = await client.submit(request());
    await sim.waitFor((s) => s.stats().completed.some((c) => c.renderId === renderId));
    await expect(client.status(renderId)).resolves.toMatchObject({ status: 'completed', progress: 1 });
    await expect(client.health()).resolves.toMatchObject({ status: 'ok' });
  });

  test('a 400 is non-retryable RendererRejected and keeps the renderer message, backend and path', async () => {
    const failure = await failureOf(client.submit(request({ outcome: 'reject' })));
    expect(failure.type).toBe(RENDER_ERROR.rejected);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(
      'manim rejected the render (400, POST /render): simulated rejection: the scene description is invalid',
    );
    expect(failure.message).not.toContain('127.0.0.1');
  });

  test('a 500 is retryable RendererUnavailable naming backend and path', async () => {
    const failure = await failureOf(client.submit(request({ failTimes: 1 })));
    expect(failure.type).toBe(RENDER_ERROR.unavailable);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/^manim failed \(500, POST \/render\): simulated outage/);
  });

  test('a body that is not JSON is retryable RendererBadResponse', async () => {
    const { renderId } = await client.submit(request({ outcome: 'malformed' }));
    const failure = await failureOf(client.status(renderId));
    expect(failure.type).toBe(RENDER_ERROR.badResponse);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toContain(`manim sent malformed JSON (GET /render/${renderId})`);
  });

  test('a completed render without an http videoUrl is RendererBadResponse naming the field', async () => {
    const { renderId } = await client.submit(request({ outcome: 'bad-video-url' }));
    await sim.waitFor((s) => s.stats().completed.some((c) => c.renderId === renderId));
    const failure = await failureOf(client.status(renderId));
    expect(failure.type).toBe(RENDER_ERROR.badResponse);
    expect(failure.message).toMatch(
      /breaks the render contract .*videoUrl: a completed render needs an http\(s\) videoUrl/,
    );
  });

  test('a renderer that does not answer in time is retryable RendererUnavailable', async () => {
    const impatient = new RendererClient({ name: 'manim', baseUrl: sim.url, requestTimeoutMs: 100 });
    const { renderId } = await impatient.submit(request({ outcome: 'hang' }));
    const failure = await failureOf(impatient.status(renderId));
    expect(failure.type).toBe(RENDER_ERROR.unavailable);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe(`manim did not answer GET /render/${renderId} within 100 ms`);
  });

  test("the caller's abort propagates as the abort itself, not as RendererUnavailable", async () => {
    const { renderId } = await client.submit(request({ outcome: 'hang' }));
    const controller = new AbortController();
    const reason = new Error('caller went away');
    setTimeout(() => controller.abort(reason), 50);
    await expect(client.status(renderId, controller.signal)).rejects.toBe(reason);
  });

  test('an unknown render (404 on status) is a retryable RenderFailed: a new attempt resubmits', async () => {
    const failure = await failureOf(client.status('no-such-render'));
    expect(failure.type).toBe(RENDER_ERROR.failed);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/^manim lost the render \(404, GET \/render\/no-such-render\)/);
  });

  test('cancel is acknowledged by a live renderer', async () => {
    const { renderId } = await client.submit(request({ outcome: 'never-finish' }));
    await expect(client.cancel(renderId)).resolves.toBe(true);
    expect(sim.stats().cancelled).toContain(renderId);
  });

  test('an unhealthy renderer fails health as RendererUnavailable', async () => {
    sim.setHealthy(false);
    try {
      expect((await failureOf(client.health())).type).toBe(RENDER_ERROR.unavailable);
    } finally {
      sim.setHealthy(true);
    }
  });
});

describe('RendererClient without a renderer', () => {
  test('an unreachable renderer is retryable RendererUnavailable, and cancel returns false without throwing', async () => {
    const sim = await startRendererSimulator({ backend: 'revideo' });
    const url = sim.url;
    await sim.close();
    const client = new RendererClient({ name: 'revideo', baseUrl: url, cancelTimeoutMs: 500 });
    const failure = await failureOf(client.submit(request()));
    expect(failure.type).toBe(RENDER_ERROR.unavailable);
    expect(failure.message).toBe('revideo is unreachable (POST /render): ECONNREFUSED');
    await expect(client.cancel('r1')).resolves.toBe(false);
  });

  test('a base URL that is not http(s) is refused at construction', () => {
    expect(() => new RendererClient({ name: 'manim', baseUrl: 'ftp://x' })).toThrow(
      /manim renderer base URL must be http\(s\)/,
    );
    expect(() => new RendererClient({ name: 'manim', baseUrl: 'nope' })).toThrow(/not a valid URL/);
  });
});

describe('createRenderers', () => {
  test('builds one named adapter per backend; the orchestrator adapter sends the pipeline it requires', async () => {
    const all = await startAllSimulators({ ports: { manim: 0, revideo: 0, orchestrator: 0 } });
    try {
      const renderers = createRenderers(all.urls);
      for (const backend of ['manim', 'revideo', 'orchestrator'] as const) {
        expect(renderers[backend].name).toBe(backend);
        await expect(renderers[backend].submit(request())).resolves.toMatchObject({
          renderId: expect.any(String),
        });
      }
      // The plain contract request is what the orchestrator refuses: the adapter is what makes it work.
      const plain = new RendererClient({ name: 'orchestrator', baseUrl: all.urls.orchestrator });
      expect((await failureOf(plain.submit(request()))).message).toMatch(/pipeline/);
    } finally {
      await all.close();
    }
  });
});
