/**
 * Prometheus metrics of the render queue, and the small HTTP server that exposes them with the
 * Temporal SDK's own metrics and a health check.
 *
 * Gauges that describe state (read model, limiter, peak hours) are computed when scraped, from
 * sources handed in once, so they are never stale and no timer has to keep them up to date.
 * Counters and the duration and wait histograms are fed by an activity interceptor on the render
 * Workers.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context as ActivityContext } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LimiterSnapshot } from '../capacity/capacity-limiter';
import { JOB_STATUSES, PRIORITIES, PRIORITY_KEY, RENDERERS } from '../shared/constants';
import type { JobStatus, Priority } from '../shared/constants';
import { NON_RETRYABLE_RENDER_ERRORS, RENDER_ERROR } from '../shared/errors';
import type { RenderActivityInput } from '../renderers/contract';
import type { JobStore } from '../store/job-store';
import { withTimeout } from '../util/with-timeout';
import { errorMessage } from '../shared/error-message';

/** What the read model says about the queue, sampled at scrape time. */
export interface QueueStatsSample {
  byStatus: Record<JobStatus, number>;
  queuedByPriority: Record<Priority, number>;
  /** Age of the oldest queued job by the database clock; 0 when nothing is queued. */
  oldestQueuedSeconds: number;
}

export interface MetricSources {
  limiter?: { snapshot(): LimiterSnapshot };
  /** The fleet-wide caps in force (peak hours applied); the local limiter's caps otherwise. */
  fleetCaps?: () => { total: number; manim: number };
  isPeakHours?: () => boolean;
  queueStats?: () => Promise<QueueStatsSample>;
  /** Drives render_queue_worker_up; 1 when absent. */
  health?: () => boolean;
}

/**
 * How a render attempt ended: `failed` for good (the job fails), `retried` (another attempt
 * follows after the retry interval), `cancelled` (the job was), or `lost` (its worker went away;
 * another resumes the same render, no attempt used).
 */
export type RenderOutcome = 'completed' | 'failed' | 'retried' | 'cancelled' | 'lost';

export interface RenderMetrics {
  registry: Registry;
  jobs: Gauge<'status'>;
  queueDepth: Gauge<'priority'>;
  rendersInFlight: Gauge<'renderer_queue'>;
  capacityCap: Gauge<'kind'>;
  peakHours: Gauge;
  renderDuration: Histogram<'renderer'>;
  queueWait: Histogram<'renderer' | 'priority'>;
  renderAttempts: Counter<'renderer' | 'outcome'>;
  retries: Counter<'renderer'>;
  resumes: Counter<'renderer'>;
  syncLag: Gauge;
  oldestQueued: Gauge;
  workerUp: Gauge;
  statsErrors: Counter;
  recordRenderAttempt(attempt: { renderer: string; outcome: RenderOutcome; durationSeconds: number }): void;
  markSyncSucceeded(): void;
  markSyncFailed(): void;
}

/** Renders take 5 s to 15 min; finer buckets where most of them land (under 5 min). */
export const RENDER_DURATION_BUCKETS = [5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 750, 900];

/** Waits run from well under a second (free slots) to an hour or more (a backlog). */
export const QUEUE_WAIT_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600];

/** A read-model query must not hold a scrape (Prometheus times out at 10 s by default). */
const QUEUE_STATS_TIMEOUT_MS = 3_000;
/** Several scrapers (or the parallel collect of each gauge) share one database query. */
const QUEUE_STATS_MAX_AGE_MS = 2_000;

export function createRenderMetrics(registry = new Registry(), sources: MetricSources = {}): RenderMetrics {
  let behindSince: number | undefined;
  const stats = sharedSampler(sources.queueStats, () => statsErrors.inc());
  const statsErrors: Counter = new Counter({
    name: 'render_queue_stats_errors_total',
    help: 'Read-model stats queries that failed or timed out (the job gauges keep their last values)',
    registers: [registry],
    // Metrics are collected in parallel: wait for this scrape's query so its failure counts now.
    collect: async () => void (await stats()),
  });
  const withStats = (apply: (sample: QueueStatsSample) => void) => async () => {
    const sample = await stats();
    if (sample) apply(sample);
  };

  const jobs: Gauge<'status'> = new Gauge({
    name: 'render_queue_jobs',
    help: 'Jobs in the read model by status',
    labelNames: ['status'],
    registers: [registry],
    collect: withStats((s) => JOB_STATUSES.forEach((status) => jobs.set({ status }, s.byStatus[status]))),
  });
  const queueDepth: Gauge<'priority'> = new Gauge({
    name: 'render_queue_depth',
    help: 'Queued jobs by priority',
    labelNames: ['priority'],
    registers: [registry],
    collect: withStats((s) =>
      PRIORITIES.forEach((p) => queueDepth.set({ priority: p }, s.queuedByPriority[p])),
    ),
  });
  const oldestQueued: Gauge = new Gauge({
    name: 'render_queue_oldest_queued_seconds',
    help: 'Age of the oldest queued job (0 when none is queued)',
    registers: [registry],
    collect: withStats((s) => oldestQueued.set(s.oldestQueuedSeconds)),
  });
  const rendersInFlight: Gauge<'renderer_queue'> = new Gauge({
    name: 'render_queue_renders_in_flight',
    help: 'Renders running in this worker process, by render task queue',
    labelNames: ['renderer_queue'],
    registers: [registry],
    collect: () => {
      const snap = sources.limiter?.snapshot();
      if (!snap) return;
      rendersInFlight.set({ renderer_queue: 'manim' }, snap.manim.used);
      rendersInFlight.set({ renderer_queue: 'general' }, snap.general.used);
    },
  });
  const capacityCap: Gauge<'kind'> = new Gauge({
    name: 'render_queue_capacity_cap',
    help: 'Fleet-wide render caps in force, as this worker reads job_queue_config (total includes peak hours)',
    labelNames: ['kind'],
    registers: [registry],
    collect: () => {
      const caps = sources.fleetCaps?.() ?? sources.limiter?.snapshot();
      if (!caps) return;
      const value = (c: number | { cap: number }) => (typeof c === 'number' ? c : c.cap);
      capacityCap.set({ kind: 'total' }, value(caps.total));
      capacityCap.set({ kind: 'manim' }, value(caps.manim));
    },
  });
  const peakHours: Gauge = new Gauge({
    name: 'render_queue_peak_hours',
    help: '1 while peak hours raise the total cap, else 0',
    registers: [registry],
    collect: () => {
      if (sources.isPeakHours) peakHours.set(sources.isPeakHours() ? 1 : 0);
    },
  });
  // Lag counts from the first failed sync, not from the last success: an idle queue has no
  // syncs at all, and measuring from the last one would page someone for a quiet night.
  const syncLag: Gauge = new Gauge({
    name: 'render_queue_sync_lag_seconds',
    help: 'Seconds the read model has been behind: since the first failed sync not followed by a success',
    registers: [registry],
    collect: () => syncLag.set(behindSince === undefined ? 0 : (Date.now() - behindSince) / 1000),
  });
  const workerUp: Gauge = new Gauge({
    name: 'render_queue_worker_up',
    help: '1 while every Temporal Worker of this process is running',
    registers: [registry],
    collect: () => workerUp.set(!sources.health || sources.health() ? 1 : 0),
  });
  const renderDuration = new Histogram({
    name: 'render_queue_render_duration_seconds',
    help: 'Duration of render attempts that completed',
    labelNames: ['renderer'],
    buckets: RENDER_DURATION_BUCKETS,
    registers: [registry],
  });
  // The old plan's "wait time" (p50/p95 on the dashboard): how long a job waited for a render
  // slot. It runs from the render's first scheduling, which happens in the job's first workflow
  // task right after the submission was accepted, to the start of its first attempt. Retries are
  // left out: what they wait is mostly the configured retry interval, not the queue.
  const queueWait = new Histogram({
    name: 'render_queue_wait_seconds',
    help: "Seconds from a job's render being scheduled to its first attempt starting",
    labelNames: ['renderer', 'priority'],
    buckets: QUEUE_WAIT_BUCKETS,
    registers: [registry],
  });
  const renderAttempts = new Counter({
    name: 'render_queue_render_attempts_total',
    help: 'Render attempts by how they ended: completed, failed (for good), retried, cancelled',
    labelNames: ['renderer', 'outcome'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'render_queue_retries_total',
    help: 'Render attempts started after a failed one (attempt > 1)',
    labelNames: ['renderer'],
    registers: [registry],
  });
  const resumes = new Counter({
    name: 'render_queue_render_resumes_total',
    help: 'Renders resumed by another worker after theirs was lost (no attempt used)',
    labelNames: ['renderer'],
    registers: [registry],
  });
  // Rare events: exported at zero from the start, so `rate()` and the dashboard have a series
  // before the first one happens.
  for (const renderer of RENDERERS) resumes.inc({ renderer }, 0);

  return {
    registry,
    jobs,
    queueDepth,
    rendersInFlight,
    capacityCap,
    peakHours,
    renderDuration,
    queueWait,
    renderAttempts,
    retries,
    resumes,
    syncLag,
    oldestQueued,
    workerUp,
    statsErrors,
    recordRenderAttempt({ renderer, outcome, durationSeconds }) {
      renderAttempts.inc({ renderer, outcome });
      if (outcome === 'completed') renderDuration.observe({ renderer }, durationSeconds);
    },
    markSyncSucceeded() {
      behindSince = undefined;
    },
    markSyncFailed() {
      behindSince ??= Date.now();
    },
  };
}

/** Resolves undefined on failure (counted once per query, not once per gauge). */
function sharedSampler(
  read: (() => Promise<QueueStatsSample>) | undefined,
  onError: () => void,
): () => Promise<QueueStatsSample | undefined> {
  let last: { at: number; sample: Promise<QueueStatsSample | undefined> } | undefined;
  return () => {
    if (!read) return Promise.resolve(undefined);
    if (!last || Date.now() - last.at > QUEUE_STATS_MAX_AGE_MS) {
      const sample = withTimeout(
        read(),
        QUEUE_STATS_TIMEOUT_MS,
        `read-model stats query timed out after ${QUEUE_STATS_TIMEOUT_MS} ms`,
      ).catch(() => {
        onError();
        return undefined;
      });
      last = { at: Date.now(), sample };
    }
    return last.sample;
  };
}

/**
 * The queue gauges' source: `get_queue_stats()` through the JobStore port, so they are filled
 * whichever way the worker reaches the read model (PGlite, PostgreSQL, or Supabase over REST).
 * One query serves every read-model gauge; ages come from the database clock, so a skewed worker
 * clock cannot make jobs look old.
 */
export function queueStatsFromStore(store: Pick<JobStore, 'getQueueStats'>): () => Promise<QueueStatsSample> {
  return async () => {
    const stats = await store.getQueueStats();
    return {
      byStatus: stats.byStatus,
      queuedByPriority: stats.queuedByPriority,
      oldestQueuedSeconds: stats.oldestQueuedAgeSeconds ?? 0,
    };
  };
}

/** The store with every read-model write reported to the sync-lag gauge. */
export function instrumentJobStore<S extends JobStore>(store: S, metrics: RenderMetrics): S {
  // A Proxy, not a wrapper class, so methods added to the port later pass through untouched.
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== 'applyTransition' || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          const outcome: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          metrics.markSyncSucceeded();
          return outcome;
        } catch (error) {
          metrics.markSyncFailed();
          throw error;
        }
      };
    },
  });
}

/**
 * How a failed render attempt ended. Since fleet-wide admission the activity's input says which
 * render attempt it is, whether it is the last, and when the workflow's timeout ends it; before,
 * the Temporal retry policy said so.
 */
export function classifyRenderFailure(
  error: unknown,
  ctx: Pick<ActivityContext, 'info' | 'cancellationDetails'>,
  input?: Pick<RenderActivityInput, 'attempt' | 'maxAttempts' | 'deadline'>,
): Exclude<RenderOutcome, 'completed'> {
  if (input?.attempt !== undefined) return classifyAttemptFailure(error, ctx, input);
  const details = ctx.cancellationDetails;
  if (error instanceof CancelledFailure || details) {
    // Timeouts, worker shutdown and pauses also cancel the attempt; only a request from the
    // workflow ends the render. Without details (older servers) a cancellation is taken at its word.
    if (!details || details.cancelRequested) return 'cancelled';
  }
  const policy = ctx.info.retryPolicy;
  if (error instanceof ApplicationFailure) {
    if (error.nonRetryable) return 'failed';
    if (error.type && policy?.nonRetryableErrorTypes?.includes(error.type)) return 'failed';
  }
  const max = policy?.maximumAttempts ?? 0;
  return max > 0 && ctx.info.attempt >= max ? 'failed' : 'retried';
}

function classifyAttemptFailure(
  error: unknown,
  ctx: Pick<ActivityContext, 'cancellationDetails'>,
  input: Pick<RenderActivityInput, 'attempt' | 'maxAttempts' | 'deadline'>,
): Exclude<RenderOutcome, 'completed'> {
  const attemptFailed = (): 'failed' | 'retried' =>
    input.maxAttempts !== undefined && (input.attempt ?? 1) < input.maxAttempts ? 'retried' : 'failed';
  if (error instanceof ApplicationFailure && error.type === RENDER_ERROR.workerLost) return 'lost';
  if (error instanceof CancelledFailure || ctx.cancellationDetails?.cancelRequested) {
    // The workflow cancels an attempt at its timeout, which is a failed attempt; any other
    // cancellation request is the job's.
    const timedOut = input.deadline !== undefined && Date.now() >= Date.parse(input.deadline) - 1000;
    return timedOut ? attemptFailed() : 'cancelled';
  }
  if (error instanceof ApplicationFailure && NON_RETRYABLE_RENDER_ERRORS.includes(error.type ?? ''))
    return 'failed';
  return attemptFailed();
}

function rendererLabel(input: unknown): string {
  const renderer = (input as { renderer?: unknown } | undefined)?.renderer;
  return typeof renderer === 'string' && (RENDERERS as readonly string[]).includes(renderer)
    ? renderer
    : 'unknown';
}

/** The priority a task carries (activities inherit the workflow's priority key), by name. */
function priorityLabel(priorityKey: number | undefined): string {
  return PRIORITIES.find((p) => PRIORITY_KEY[p] === priorityKey) ?? 'unknown';
}

/** Feeds attempt outcomes, durations, retries and queue waits; add it to the render Workers' `interceptors.activity`. */
export function renderMetricsInterceptor(
  metrics: RenderMetrics,
  activityType = 'render',
): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        if (ctx.info.activityType !== activityType) return next(input);
        const args = (input.args[0] ?? {}) as Partial<RenderActivityInput>;
        const renderer = rendererLabel(args);
        // The render attempt (since fleet-wide admission in the input; before, Temporal's attempt).
        const renderAttempt = args.attempt ?? ctx.info.attempt;
        if (args.attempt !== undefined && ctx.info.attempt > 1) metrics.resumes.inc({ renderer });
        else if (renderAttempt > 1) metrics.retries.inc({ renderer });
        else {
          // From admission's acceptance (the server's clock; a worker clock behind it must not
          // yield < 0), or, for workflows from before admission, from the render's scheduling.
          const since = args.acceptedAt ? Date.parse(args.acceptedAt) : ctx.info.scheduledTimestampMs;
          metrics.queueWait.observe(
            { renderer, priority: priorityLabel(ctx.info.priority?.priorityKey) },
            Math.max(0, (Date.now() - since) / 1000),
          );
        }
        const started = performance.now();
        const seconds = () => (performance.now() - started) / 1000;
        try {
          const result = await next(input);
          metrics.recordRenderAttempt({ renderer, outcome: 'completed', durationSeconds: seconds() });
          return result;
        } catch (error) {
          const outcome = classifyRenderFailure(error, ctx, args);
          metrics.recordRenderAttempt({ renderer, outcome, durationSeconds: seconds() });
          throw error;
        }
      },
    },
  });
}

/**
 * The Temporal SDK's metrics, read from the Runtime's own Prometheus exporter (bound to
 * localhost), so one scrape target carries both. Never throws: a failure becomes a comment.
 */
export function sdkMetricsText(url: string, timeoutMs = 2_000): () => Promise<string> {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) return `# temporal sdk metrics unavailable: HTTP ${response.status}\n`;
      return await response.text();
    } catch (error) {
      const reason = errorMessage(error);
      return `# temporal sdk metrics unavailable: ${reason.replace(/\s+/g, ' ')}\n`;
    }
  };
}

export interface MetricsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** `/healthz` answers 200 while this is true, 503 otherwise. */
  health: () => boolean;
  /** Appended to `/metrics`, e.g. `sdkMetricsText(...)`; its metric names must not clash with ours. */
  extraText?: () => Promise<string>;
}

export interface MetricsServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      const healthy = safeHealth(options.health);
      res
        .writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' })
        .end(healthy ? 'ok\n' : 'unhealthy\n');
    } else if (path === '/metrics') {
      scrape(options).then(
        (body) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(body),
        (error: unknown) =>
          res
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`metrics failed: ${errorMessage(error)}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  // A stuck scraper must not hold sockets open forever.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    port,
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function safeHealth(health: () => boolean): boolean {
  try {
    return health();
  } catch {
    return false;
  }
}

async function scrape(options: MetricsServerOptions): Promise<string> {
  const [ours, extra] = await Promise.all([options.registry.metrics(), options.extraText?.() ?? '']);
  return extra ? `${ours.trimEnd()}\n${extra}` : ours;
}
