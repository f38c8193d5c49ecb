/**
 * The worker's metrics over real HTTP: gauges sampled at scrape time from a real capacity
 * limiter and a real (PGlite) read model, counters fed by the activity interceptor running
 * inside the SDK's activity machinery, the SDK's own text appended, and /healthz.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ActivityCancellationDetails, ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { CapacityLimiter } from '../../src/capacity/capacity-limiter';
import { createRenderMetrics } from '../../src/observability/render-metrics';
import { instrumentJobStore } from '../../src/observability/instrumented-store';
import { queueStatsFromStore } from '../../src/observability/queue-stats';
import { renderMetricsInterceptor } from '../../src/observability/render-metrics-interceptor';
import { sdkMetricsText, startMetricsServer } from '../../src/observability/metrics-server';
import type { MetricsServer } from '../../src/observability/metrics-server';
import type { RenderMetrics } from '../../src/observability/render-metrics';
import { NON_RETRYABLE_RENDER_ERRORS, RENDER_ERROR } from '../../src/shared/errors';
import { openJobStore } from '../../src/store/open-store';
import type { OpenedJobStore } from '../../src/store/open-store';

/** `name{labels}` -> value, from Prometheus text exposition. */
function parseExposition(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    series.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return series;
}

async function scrape(url: string): Promise<{ status: number; series: Map<string, number>; text: string }> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return { status: response.status, series: parseExposition(text), text };
}

const transition = (jobId: string, seq: number) => ({
  jobId,
  seq,
  status: 'processing' as const,
  workflowId: `render-job-${jobId}`,
  attempt: 1,
  progress: null,
  error: null,
  result: null,
  startedAt: new Date().toISOString(),
  completedAt: null,
  job: { jobType: 'doubt' as const, priority: 'high' as const, renderer: 'manim' as const, payload: {} },
});

describe('metrics server', () => {
  let opened: OpenedJobStore;
  let server: MetricsServer | undefined;
  let sdkServer: ReturnType<typeof createServer> | undefined;

  beforeAll(async () => {
    opened = await openJobStore({ PGLITE_DIR: 'memory://' });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (sdkServer) await new Promise((resolve) => sdkServer!.close(resolve));
    sdkServer = undefined;
  });
  afterAll(async () => {
    await opened.close();
  });

  test('/metrics exposes read-model, limiter, peak-hours and render series with their values, plus the SDK text', async () => {
    const { store, db } = opened;
    const high = await store.insertQueuedJob({ jobType: 'doubt', priority: 'high' });
    await store.insertQueuedJob({ jobType: 'doubt', priority: 'low' });
    await store.insertQueuedJob({ jobType: 'concept_explainer', priority: 'low' });
    await db.query(`update jobs set created_at = now() - interval '120 seconds' where id = $1`, [high.id]);
    await store.applyTransition(transition(randomUUID(), 1));

    const limiter = new CapacityLimiter({ caps: { total: 15, manim: 4 } });
    limiter.markUsed(limiter.tryReserve('manim')!);
    limiter.markUsed(limiter.tryReserve('general')!);
    limiter.markUsed(limiter.tryReserve('general')!);

    sdkServer = createServer((_req, res) => {
      res.end('# TYPE temporal_request counter\ntemporal_request{operation="PollActivityTaskQueue"} 7\n');
    });
    await new Promise<void>((resolve) => sdkServer!.listen(0, '127.0.0.1', resolve));
    const sdkPort = (sdkServer.address() as AddressInfo).port;

    const metrics = createRenderMetrics(new Registry(), {
      limiter,
      isPeakHours: () => true,
      queueStats: queueStatsFromStore(store),
      health: () => true,
    });
    metrics.recordRenderAttempt({ renderer: 'manim', outcome: 'completed', durationSeconds: 42 });
    metrics.recordRenderAttempt({ renderer: 'revideo', outcome: 'retried', durationSeconds: 3 });
    metrics.retries.inc({ renderer: 'revideo' });
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => true,
      extraText: sdkMetricsText(`http://127.0.0.1:${sdkPort}/metrics`),
    });

    const { status, series } = await scrape(server.url);
    expect(status).toBe(200);
    expect(series.get('render_queue_jobs{status="queued"}')).toBe(3);
    expect(series.get('render_queue_jobs{status="processing"}')).toBe(1);
    expect(series.get('render_queue_jobs{status="completed"}')).toBe(0);
    expect(series.get('render_queue_depth{priority="high"}')).toBe(1);
    expect(series.get('render_queue_depth{priority="low"}')).toBe(2);
    expect(series.get('render_queue_depth{priority="medium"}')).toBe(0);
    expect(series.get('render_queue_oldest_queued_seconds')).toBeGreaterThanOrEqual(119);
    expect(series.get('render_queue_oldest_queued_seconds')).toBeLessThan(200);
    expect(series.get('render_queue_renders_in_flight{renderer_queue="manim"}')).toBe(1);
    expect(series.get('render_queue_renders_in_flight{renderer_queue="general"}')).toBe(2);
    expect(series.get('render_queue_capacity_cap{kind="total"}')).toBe(15);
    expect(series.get('render_queue_capacity_cap{kind="manim"}')).toBe(4);
    expect(series.get('render_queue_peak_hours')).toBe(1);
    expect(series.get('render_queue_worker_up')).toBe(1);
    expect(series.get('render_queue_sync_lag_seconds')).toBe(0);
    expect(series.get('render_queue_render_attempts_total{renderer="manim",outcome="completed"}')).toBe(1);
    expect(series.get('render_queue_render_attempts_total{renderer="revideo",outcome="retried"}')).toBe(1);
    expect(series.get('render_queue_retries_total{renderer="revideo"}')).toBe(1);
    expect(series.get('render_queue_render_duration_seconds_bucket{le="30",renderer="manim"}')).toBe(0);
    expect(series.get('render_queue_render_duration_seconds_bucket{le="45",renderer="manim"}')).toBe(1);
    expect(series.get('render_queue_render_duration_seconds_sum{renderer="manim"}')).toBe(42);
    // A retried attempt is not a render duration.
    expect(series.get('render_queue_render_duration_seconds_count{renderer="revideo"}')).toBeUndefined();
    expect(series.get('temporal_request{operation="PollActivityTaskQueue"}')).toBe(7);
  });

  test('/healthz answers 200 while healthy and 503 when not; unknown paths are 404', async () => {
    let healthy = true;
    const metrics = createRenderMetrics(new Registry(), { health: () => healthy });
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => healthy,
    });
    const get = (path: string) => fetch(`${server!.url}${path}`, { signal: AbortSignal.timeout(5000) });

    expect((await get('/healthz')).status).toBe(200);
    healthy = false;
    expect((await get('/healthz')).status).toBe(503);
    expect((await scrape(server.url)).series.get('render_queue_worker_up')).toBe(0);
    expect((await get('/nope')).status).toBe(404);
  });

  test('a failing read-model query is counted and the scrape still succeeds', async () => {
    const metrics = createRenderMetrics(new Registry(), {
      queueStats: () => Promise.reject(new Error('database down')),
    });
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => true,
    });

    const { status, series } = await scrape(server.url);
    expect(status).toBe(200);
    // Three gauges read the sample, but the failed query is counted once.
    expect(series.get('render_queue_stats_errors_total')).toBe(1);
    expect(series.has('render_queue_jobs{status="queued"}')).toBe(false);
  });

  test('SDK metrics that cannot be fetched become a comment, not a failed scrape', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    const metrics = createRenderMetrics(new Registry());
    server = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => true,
      extraText: sdkMetricsText(`http://127.0.0.1:${closedPort}/metrics`, 1000),
    });
    const { status, text } = await scrape(server.url);
    expect(status).toBe(200);
    expect(text).toMatch(/^# temporal sdk metrics unavailable: /m);
    expect(text).toMatch(/^render_queue_worker_up 1$/m);
  });
});

describe('sync lag', () => {
  let opened: OpenedJobStore;
  beforeAll(async () => {
    opened = await openJobStore({ PGLITE_DIR: 'memory://' });
  });
  afterAll(async () => {
    await opened.close();
  });

  const lag = async (metrics: RenderMetrics) => (await metrics.syncLag.get()).values[0]?.value;

  test('grows from the first failed read-model write and returns to 0 on the next success', async () => {
    const metrics = createRenderMetrics(new Registry());
    const store = instrumentJobStore(opened.store, metrics);
    expect(await lag(metrics)).toBe(0);

    // The read model becomes unreachable: the table is gone for the duration of the write.
    await opened.db.query('alter table jobs rename to jobs_offline');
    await expect(store.applyTransition(transition(randomUUID(), 1))).rejects.toThrow();
    await opened.db.query('alter table jobs_offline rename to jobs');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await lag(metrics)).toBeGreaterThanOrEqual(0.04);

    await expect(store.applyTransition(transition(randomUUID(), 1))).resolves.toEqual({ applied: true });
    expect(await lag(metrics)).toBe(0);
    // Everything else still reaches the real store.
    expect(await store.listJobs({ limit: 5 })).toHaveLength(1);
  });
});

describe('render metrics interceptor', () => {
  const policy = { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_RENDER_ERRORS };
  const input = { jobId: randomUUID(), renderer: 'manim' };

  async function runAttempt(
    attempt: number,
    body: () => Promise<unknown>,
    cancel?: (env: MockActivityEnvironment) => void,
    info: { scheduledTimestampMs?: number; priority?: { priorityKey: number } } = {},
  ): Promise<RenderMetrics> {
    const metrics = createRenderMetrics(new Registry());
    const env = new MockActivityEnvironment(
      { activityType: 'render', attempt, retryPolicy: policy, ...info },
      { interceptors: [renderMetricsInterceptor(metrics)], logger: new DefaultLogger('ERROR') },
    );
    const run = env.run(async (_input: unknown) => {
      if (cancel) {
        cancel(env);
        await Context.current().cancelled;
      }
      return body();
    }, input);
    await run.catch(() => undefined);
    return metrics;
  }

  const counts = async (metrics: RenderMetrics) =>
    Object.fromEntries(
      (await metrics.renderAttempts.get()).values.map((v) => [
        `${v.labels.renderer}/${v.labels.outcome}`,
        v.value,
      ]),
    );
  const retries = async (metrics: RenderMetrics) => (await metrics.retries.get()).values[0]?.value ?? 0;

  test('a successful attempt counts as completed and records its duration', async () => {
    const metrics = await runAttempt(1, async () => ({ videoUrl: 'https://cdn.example/v.mp4' }));
    expect(await counts(metrics)).toEqual({ 'manim/completed': 1 });
    const duration = await metrics.renderDuration.get();
    expect(duration.values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect(await retries(metrics)).toBe(0);
  });

  test('a retryable error before the last attempt counts as retried; on the last attempt as failed', async () => {
    const fail = () => Promise.reject(ApplicationFailure.retryable('busy', RENDER_ERROR.unavailable));
    expect(await counts(await runAttempt(1, fail))).toEqual({ 'manim/retried': 1 });
    const last = await runAttempt(3, fail);
    expect(await counts(last)).toEqual({ 'manim/failed': 1 });
    expect(await retries(last)).toBe(1);
  });

  test('a non-retryable error type fails at once, on the first attempt', async () => {
    const reject = () =>
      Promise.reject(ApplicationFailure.retryable('400 from renderer', RENDER_ERROR.rejected));
    expect(await counts(await runAttempt(1, reject))).toEqual({ 'manim/failed': 1 });
    const nonRetryable = () => Promise.reject(ApplicationFailure.nonRetryable('bad', 'Whatever'));
    expect(await counts(await runAttempt(1, nonRetryable))).toEqual({ 'manim/failed': 1 });
  });

  test('a cancellation requested by the workflow counts as cancelled; a heartbeat timeout as retried', async () => {
    const never = () => Promise.resolve('unreachable');
    const requested = await runAttempt(1, never, (env) => env.cancel('CANCELLED'));
    expect(await counts(requested)).toEqual({ 'manim/cancelled': 1 });
    const timedOut = await runAttempt(1, never, (env) =>
      env.cancel('TIMED_OUT', new ActivityCancellationDetails({ timedOut: true })),
    );
    expect(await counts(timedOut)).toEqual({ 'manim/retried': 1 });
  });

  test("a job's first attempt records how long it waited since its render was scheduled, by priority", async () => {
    const waits = async (metrics: RenderMetrics) =>
      Object.fromEntries(
        (await metrics.queueWait.get()).values
          .filter((v) => v.metricName === 'render_queue_wait_seconds_sum')
          .map((v) => [`${v.labels.renderer}/${v.labels.priority}`, v.value]),
      );
    const ok = () => Promise.resolve({ videoUrl: 'https://cdn.example/v.mp4' });
    const scheduledTimestampMs = Date.now() - 42_000;

    const first = await runAttempt(1, ok, undefined, { scheduledTimestampMs, priority: { priorityKey: 1 } });
    const [wait] = Object.values(await waits(first));
    expect(Object.keys(await waits(first))).toEqual(['manim/high']);
    expect(wait).toBeGreaterThanOrEqual(42);
    expect(wait).toBeLessThan(60);
    // A retry waits out the retry interval, not the queue: not a queue wait.
    expect(await waits(await runAttempt(2, ok, undefined, { scheduledTimestampMs }))).toEqual({});
    // A server clock ahead of the worker's never yields a negative wait; no priority is 'unknown'.
    const ahead = await runAttempt(1, ok, undefined, { scheduledTimestampMs: Date.now() + 5_000 });
    expect(await waits(ahead)).toEqual({ 'manim/unknown': 0 });
  });
});
