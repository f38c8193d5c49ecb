/**
 * Every process that runs workflows checks now and then that an admission run exists and starts
 * one if not. Jobs waiting for a grant do nothing until admission speaks: a run that failed (it
 * fails on nondeterminism, see createWorkerSet) or was terminated while no job arrived or ended
 * would otherwise leave them waiting.
 */
import type { Logger } from '@temporalio/worker';
import { errorMessage } from '../shared/error-message';

export interface AdmissionKeeper {
  stop(): void;
}

/**
 * Runs `ensure` every `everyMs`; a check still in flight is not joined by another (the next tick
 * tries again), and a failed one is logged and retried at the next tick.
 */
export function keepAdmission(ensure: () => Promise<void>, everyMs: number, logger: Logger): AdmissionKeeper {
  let inFlight = false;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    ensure()
      .catch((err: unknown) => {
        logger.warn('could not check that admission runs; trying again', { error: errorMessage(err) });
      })
      .finally(() => {
        inFlight = false;
      });
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
