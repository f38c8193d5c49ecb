/**
 * The read-model gauges' one source: the queue's numbers as `get_queue_stats()` gives them,
 * read through the JobStore port and shared by every gauge of a scrape.
 */
import type { JobStatus, Priority } from '../shared/constants';
import type { JobStore } from '../store/job-store';
import { withTimeout } from '../util/with-timeout';

/** What the read model says about the queue, sampled at scrape time. */
export interface QueueStatsSample {
  byStatus: Record<JobStatus, number>;
  queuedByPriority: Record<Priority, number>;
  /** Age of the oldest queued job by the database clock; 0 when nothing is queued. */
  oldestQueuedSeconds: number;
}

/** A read-model query must not hold a scrape (Prometheus times out at 10 s by default). */
const QUEUE_STATS_TIMEOUT_MS = 3_000;
/** Several scrapers (or the parallel collect of each gauge) share one database query. */
const QUEUE_STATS_MAX_AGE_MS = 2_000;

/** Resolves undefined on failure (counted once per query, not once per gauge). */
export function sharedSampler(
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
