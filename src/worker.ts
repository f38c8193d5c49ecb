#!/usr/bin/env node
/**
 * The worker process: workflow workers for the three priority queues, the render workers behind
 * one process-wide capacity limiter, the read-model sync and intake worker, live config, metrics.
 */
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { ConfigError, loadEnv } from './config/env';
import type { Env } from './config/env';
import { JsonLogger, parseLogLevel } from './observability/logger';
import { SDK_METRICS_ADDRESS, startWorkerRuntime } from './worker/runtime';

export async function runWorker(env: Env, logger: JsonLogger): Promise<void> {
  const runtime = await startWorkerRuntime({ env, logger });
  // The SDK's Runtime shuts every worker down on SIGINT/SIGTERM; running activities get the grace time.
  await runtime.run();
}

if (require.main === module) {
  const logger = new JsonLogger(parseLogLevel(process.env.LOG_LEVEL));
  let env: Env;
  try {
    env = loadEnv();
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  Runtime.install({
    logger: new DefaultLogger(env.LOG_LEVEL, (entry) => logger.log(entry.level, entry.message, entry.meta)),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(env.METRICS_PORT === undefined
        ? {}
        : { metrics: { prometheus: { bindAddress: SDK_METRICS_ADDRESS, useSecondsForDurations: true } } }),
    },
  });
  runWorker(env, logger).catch((err: unknown) => {
    logger.error('worker failed', { error: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
  });
}
