/**
 * The render queue's Prometheus metrics: what they are and how each is fed.
 *
 * Gauges that describe state (read model, limiter, peak hours) are computed when scraped, from
 * sources handed in once, so they are never stale and no timer has to keep them up to date.
 * Counters and the duration and wait histograms are fed by the activity interceptor on the
 * render Workers (render-metrics-interceptor.ts).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LimiterSnapshot } from '../capacity/capacity-limiter';
import { JOB_STATUSES, PRIORITIES, RENDERERS } from '../shared/constants';
import { sharedSampler } from './queue-stats';
import type { QueueStatsSample } from './queue-stats';

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
export type RenderAttemptEnd = 'completed' | 'failed' | 'retried' | 'cancelled' | 'lost';

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
  recordRenderAttempt(attempt: {
    renderer: string;
    outcome: RenderAttemptEnd;
    durationSeconds: number;
  }): void;
  markSyncSucceeded(): void;
  markSyncFailed(): void;
}

/** Renders take 5 s to 15 min; finer buckets where most of them land (under 5 min). */
export const RENDER_DURATION_BUCKETS = [5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 750, 900];

/** Waits run from well under a second (free slots) to an hour or more (a backlog). */
export const QUEUE_WAIT_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600];

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
