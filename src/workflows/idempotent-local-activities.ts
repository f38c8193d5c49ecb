/**
 * Local activities whose every call is idempotent (admission's grant delivery; before
 * admission-calls.ts, a job's first step and its permit calls), so a call that Core reports as
 * cancelled when this workflow never cancelled it is run again instead of failing the workflow.
 *
 * Why: under load, Core can evict a run while one of its local activities is in flight and then
 * record that local activity's result as "cancelled" (its logs say "Tried to complete untracked
 * local activity"). The benchmark's 1,000-job burst failed 5 jobs that way, each shown to the
 * frontend as `cancelled` although nobody had cancelled it. A cancellation this workflow asked for
 * (the job's cancel) still propagates: its scope is then considered cancelled.
 */
import {
  ActivityFailure,
  CancellationScope,
  CancelledFailure,
  log,
  patched,
  proxyLocalActivities,
  sleep,
} from '@temporalio/workflow';
import type { LocalActivityOptions } from '@temporalio/workflow';
import { LOCAL_ACTIVITY_CANCEL_RETRIED_PATCH, LIMITS } from '../shared/constants';

type Callable<A> = {
  [K in keyof A]: A[K] extends (...args: infer P) => Promise<infer R> ? (...args: P) => Promise<R> : never;
};

function cancelledByCore(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof CancelledFailure &&
    !CancellationScope.current().consideredCancelled
  );
}

export async function untilNotCancelledByCore<R>(name: string, call: () => Promise<R>): Promise<R> {
  for (let retries = 0; ; retries += 1) {
    try {
      return await call();
    } catch (err) {
      // Checked on the failure path only: histories recorded before it replay as they ran.
      if (!cancelledByCore(err) || retries >= LIMITS.localActivityCancelRetries) throw err;
      if (!patched(LOCAL_ACTIVITY_CANCEL_RETRIED_PATCH)) throw err;
      log.warn('local activity reported cancelled without a cancel; running it again', { activity: name });
      await sleep(LIMITS.localActivityCancelRetryMs);
    }
  }
}

export function idempotentLocalActivities<A extends object>(options: LocalActivityOptions): Callable<A> {
  const proxies = proxyLocalActivities<A>(options) as unknown as Record<
    string,
    (...args: unknown[]) => Promise<unknown>
  >;
  return new Proxy({} as Callable<A>, {
    get(_target, name) {
      if (typeof name !== 'string') return undefined;
      const call = proxies[name]!;
      return (...args: unknown[]) => untilNotCancelledByCore(name, () => call(...args));
    },
  });
}
