#!/usr/bin/env node
/**
 * The worker process: workflow workers for the three priority queues, the render workers behind
 * one process-wide capacity limiter, the read-model sync and intake worker, live config, metrics.
 */
import { ConfigError, loadEnv } from './config/env';
import type { Env } from './config/env';
import { JsonLogger, parseLogLevel } from './observability/logger';
import { installRuntime, startWorkerRuntime } from './worker/runtime';
import { errorMessage } from './shared/error-message';

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
  installRuntime(env, logger);
  runWorker(env, logger).catch((err: unknown) => {
    logger.error('worker failed', { error: errorMessage(err) });
    // Exit now: the installed SDK Runtime keeps the process alive (and takes SIGTERM) without workers.
    process.exit(1);
  });
}
