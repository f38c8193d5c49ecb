import type { JobStore } from '../store/job-store';
import type { RenderMetrics } from './render-metrics';

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
