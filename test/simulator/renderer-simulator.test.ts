import { randomUUID } from 'node:crypto';
import { startRendererSimulator, type RendererSimulator } from '../../dev/simulator/renderer-simulator';

// Raw HTTP on purpose: these tests pin the simulator's wire behaviour, independent of our client.
async function post(sim: RendererSimulator, body: unknown) {
  const res = await fetch(`${sim.url}/render`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function getStatus(sim: RendererSimulator, renderId: string) {
  const res = await fetch(`${sim.url}/render/${renderId}`);
  return { status: res.status, text: await res.text() };
}

function request(simulate?: Record<string, unknown>, jobId: string = randomUUID()) {
  return { jobId, jobType: 'doubt', attempt: 1, payload: { scene: 'x', ...(simulate ? { simulate } : {}) } };
}

async function startRender(sim: RendererSimulator, simulate?: Record<string, unknown>, jobId?: string) {
  const res = await post(sim, request(simulate, jobId));
  expect(res.status).toBe(202);
  return res.json.renderId as string;
}

async function finished(sim: RendererSimulator, renderId: string) {
  await sim.waitFor(
    (s) =>
      s.stats().completed.some((c) => c.renderId === renderId) ||
      s.stats().failed.some((c) => c.renderId === renderId),
    5_000,
  );
  return JSON.parse((await getStatus(sim, renderId)).text) as Record<string, unknown>;
}

describe('renderer simulator', () => {
  let sim: RendererSimulator;

  beforeEach(async () => {
    sim = await startRendererSimulator({
      backend: 'manim',
      port: 0,
      defaultDurationMs: 100,
      progressSteps: 4,
    });
  });
  afterEach(async () => {
    await sim.close();
  });

  test('a render progresses through its steps and completes with a fetchable http video URL', async () => {
    const progress: number[] = [];
    sim.onEvent((e) => e.type === 'progress' && progress.push(e.progress));
    const renderId = await startRender(sim);
    const first = JSON.parse((await getStatus(sim, renderId)).text) as { status: string };
    expect(['queued', 'rendering']).toContain(first.status);
    const done = await finished(sim, renderId);
    expect(done).toMatchObject({ status: 'completed', progress: 1 });
    expect(done.videoUrl).toBe(`${sim.url}/videos/${renderId}.mp4`);
    expect(progress).toEqual([0.25, 0.5, 0.75]);
    expect((await fetch(done.videoUrl as string)).status).toBe(200);
  });

  test('reject answers the POST with 400 and a message', async () => {
    const res = await post(sim, request({ outcome: 'reject' }));
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/simulated rejection/);
    expect(sim.stats().started).toHaveLength(0);
  });

  test('failTimes answers 500 to the first N POSTs of a job, then accepts', async () => {
    const jobId = randomUUID();
    const codes: number[] = [];
    for (let i = 0; i < 3; i += 1) codes.push((await post(sim, request({ failTimes: 2 }, jobId))).status);
    expect(codes).toEqual([500, 500, 202]);
  });

  test('fail ends failed and retryable; fail-permanently ends failed and not retryable', async () => {
    const retryable = await finished(sim, await startRender(sim, { outcome: 'fail' }));
    expect(retryable).toMatchObject({ status: 'failed', retryable: true, error: 'simulated render failure' });
    const permanent = await finished(sim, await startRender(sim, { outcome: 'fail-permanently' }));
    expect(permanent).toMatchObject({ status: 'failed', retryable: false });
  });

  test('bad-video-url completes with a videoUrl that is not a URL', async () => {
    const done = await finished(sim, await startRender(sim, { outcome: 'bad-video-url' }));
    expect(done).toMatchObject({ status: 'completed', videoUrl: 'not a url' });
  });

  test('malformed answers GET with a body that is not JSON', async () => {
    const renderId = await startRender(sim, { outcome: 'malformed' });
    const res = await getStatus(sim, renderId);
    expect(res.status).toBe(200);
    expect(() => JSON.parse(res.text)).toThrow();
  });

  test('hang accepts the POST, never answers GET, and close() still returns', async () => {
    const renderId = await startRender(sim, { outcome: 'hang' });
    const res = fetch(`${sim.url}/render/${renderId}`, { signal: AbortSignal.timeout(200) });
    await expect(res).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(sim.ledger.at(-1)).toMatchObject({ method: 'GET', renderId, httpStatus: null });
    // A second GET stays open while the simulator closes: close must not wait for it.
    const pending = fetch(`${sim.url}/render/${renderId}`).catch((e: unknown) => e);
    await sim.waitFor((s) => s.ledger.length === 3);
    await sim.close();
    expect(await pending).toMatchObject({ message: 'fetch failed' });
  });

  test('never-finish stays rendering with its progress stuck', async () => {
    const renderId = await startRender(sim, { outcome: 'never-finish', durationMs: 40 });
    await new Promise((r) => setTimeout(r, 150));
    expect(JSON.parse((await getStatus(sim, renderId)).text)).toEqual({ status: 'rendering', progress: 0.5 });
    expect(sim.stats().inFlight).toBe(1);
  });

  test('an invalid simulate block is rejected with the field named', async () => {
    const res = await post(sim, request({ outcome: 'explode' }));
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/^payload\.simulate\.outcome: /);
  });

  test('a request that breaks the contract is rejected with the field named', async () => {
    const res = await post(sim, { jobId: 'j', jobType: 'doubt', attempt: 0, payload: {} });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/^attempt: /);
  });

  test('held renders stay in flight until released, per job or all at once', async () => {
    sim.hold();
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    for (const jobId of [a, b, c]) await startRender(sim, undefined, jobId);
    await new Promise((r) => setTimeout(r, 250)); // well past the 100 ms duration
    expect(sim.stats()).toMatchObject({ inFlight: 3, maxInFlight: 3, completed: [] });

    sim.release(a);
    expect(sim.stats().completed.map((x) => x.jobId)).toEqual([a]);
    expect(sim.stats().inFlightJobIds.sort()).toEqual([b, c].sort());

    sim.release();
    expect(sim.stats().inFlight).toBe(0);
    // Holding ended with release(): a new render finishes on its own.
    const renderId = await startRender(sim);
    await expect(finished(sim, renderId)).resolves.toMatchObject({ status: 'completed' });
    expect(sim.stats().maxInFlight).toBe(3);
  });

  test('DELETE cancels an in-flight render and takes it out of flight', async () => {
    const renderId = await startRender(sim, { outcome: 'never-finish' });
    const res = await fetch(`${sim.url}/render/${renderId}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(sim.stats()).toMatchObject({ inFlight: 0, cancelled: [renderId] });
    expect(JSON.parse((await getStatus(sim, renderId)).text)).toMatchObject({
      status: 'failed',
      retryable: false,
    });
    expect((await fetch(`${sim.url}/render/unknown`, { method: 'DELETE' })).status).toBe(404);
  });

  test('the ledger records every call with its job, attempt, render and answer', async () => {
    const jobId = randomUUID();
    const renderId = await startRender(sim, undefined, jobId);
    await getStatus(sim, renderId);
    await fetch(`${sim.url}/health`);
    const entries = sim.ledger.map(({ method, path, jobId: j, attempt, renderId: r, httpStatus }) => ({
      method,
      path,
      jobId: j,
      attempt,
      renderId: r,
      httpStatus,
    }));
    expect(entries).toEqual([
      { method: 'POST', path: '/render', jobId, attempt: 1, renderId, httpStatus: 202 },
      { method: 'GET', path: `/render/${renderId}`, jobId, attempt: 1, renderId, httpStatus: 200 },
      { method: 'GET', path: '/health', jobId: null, attempt: null, renderId: null, httpStatus: 200 },
    ]);
    expect(sim.stats().started).toEqual([{ jobId, attempt: 1, at: expect.any(Number), renderId }]);
  });

  test('health answers ok, or 503 when made unhealthy', async () => {
    expect(await (await fetch(`${sim.url}/health`)).json()).toEqual({ status: 'ok', backend: 'manim' });
    sim.setHealthy(false);
    expect((await fetch(`${sim.url}/health`)).status).toBe(503);
  });

  test('waitFor rejects with a clear message when the condition never holds', async () => {
    await expect(sim.waitFor(() => false, 50)).rejects.toThrow(
      /manim simulator: waitFor condition not met within 50 ms/,
    );
  });
});

describe('orchestrator simulator', () => {
  test('rejects a request without a pipeline and accepts one with it', async () => {
    const sim = await startRendererSimulator({ backend: 'orchestrator', defaultDurationMs: 20 });
    try {
      const without = await post(sim, request());
      expect(without.status).toBe(400);
      expect(without.json.error).toMatch(/^pipeline: /);
      expect((await post(sim, { ...request(), pipeline: 'doubt' })).status).toBe(202);
    } finally {
      await sim.close();
    }
  });
});
