/**
 * This process's render capacity: `job_queue_config` re-read on a timer (and on SIGHUP), and the
 * local slot limiter beneath admission's fleet-wide caps that follows it. One wiring, used by
 * the worker runtime and by the test stack, so tests run what ships.
 */
import { CapacityLimiter, localRenderCaps } from '../capacity/capacity-limiter';
import { LiveQueueConfig } from '../capacity/live-config';
import type { ConfigLogger } from '../capacity/live-config';
import type { EffectiveCaps } from '../capacity/peak-hours';
import type { QueueConfig } from '../shared/job-schema';

export interface LocalCapacityOptions {
  read: () => Promise<Record<string, unknown>>;
  logger: ConfigLogger;
  intervalMs?: number;
  now?: () => Date;
  listenForSighup?: boolean;
  /** WORKER_MAX_RENDERS. */
  processMax?: number;
  /** Called after the limiter took a change (the runtime tells admission, so a SIGHUP counts at once). */
  onChange?: (caps: EffectiveCaps, config: QueueConfig) => void;
}

export interface LocalCapacity {
  liveConfig: LiveQueueConfig;
  limiter: CapacityLimiter;
}

export async function startLocalCapacity(options: LocalCapacityOptions): Promise<LocalCapacity> {
  const wired: { limiter?: CapacityLimiter } = {};
  const liveConfig = new LiveQueueConfig({
    read: options.read,
    logger: options.logger,
    ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}),
    ...(options.now ? { now: options.now } : {}),
    listenForSighup: options.listenForSighup ?? false,
    onChange: (caps, config) => {
      wired.limiter?.setCaps(localRenderCaps(config, options.processMax));
      options.onChange?.(caps, config);
    },
  });
  await liveConfig.start();
  const limiter = new CapacityLimiter({ caps: localRenderCaps(liveConfig.current(), options.processMax) });
  wired.limiter = limiter;
  return { liveConfig, limiter };
}
