#!/usr/bin/env node
/**
 * The worker process: workflow workers for the three priority queues, the render workers behind
 * one process-wide capacity limiter, the read-model sync worker, and live config.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { ConfigError, loadEnv, redactedEnv, rendererUrls } from './config/env';
import type { Env } from './config/env';
import { connectClient, connectWorker } from './client/connect';
import { CapacityLimiter } from './capacity/capacity-limiter';
import { LiveQueueConfig } from './capacity/live-config';
import { JsonLogger, parseLogLevel } from './observability/logger';
import {
  createRenderMetrics,
  instrumentJobStore,
  queueStatsFromDb,
  renderMetricsInterceptor,
  sdkMetricsText,
  startMetricsServer,
} from './observability/metrics';
import { createRenderers } from './renderers/adapters';
import { openJobStore } from './store/open-store';
import { createWorkerSet } from './worker/create-workers';

/** The SDK Runtime's own Prometheus exporter; only our metrics server (METRICS_PORT) reads it. */
export const SDK_METRICS_ADDRESS = '127.0.0.1:9465';

export async function runWorker(env: Env, logger: JsonLogger): Promise<void> {
  logger.info('worker starting', { config: redactedEnv(env) });
  const opened = await openJobStore(env);
  let limiter: CapacityLimiter | undefined;
  const liveConfig = new LiveQueueConfig({
    read: () => opened.store.readQueueConfig(),
    intervalMs: env.CONFIG_REFRESH_SECONDS * 1000,
    logger,
    listenForSighup: true,
    onChange: (caps) => limiter?.setCaps({ total: caps.total, manim: caps.manim }),
  });
  await liveConfig.start();
  limiter = new CapacityLimiter({ caps: { total: liveConfig.caps().total, manim: liveConfig.caps().manim } });

  // Healthy once every Temporal Worker runs; replaced below when they exist.
  let workersRunning = (): boolean => false;
  const metrics = createRenderMetrics(undefined, {
    limiter,
    isPeakHours: () => liveConfig.caps().peak,
    ...(opened.db ? { queueStats: queueStatsFromDb(opened.db) } : {}),
    health: () => workersRunning(),
  });
  const connection = await connectWorker(env.TEMPORAL_ADDRESS);
  const { client, connection: clientConnection } = await connectClient(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE);
  const workflowBundle: WorkflowBundleOption | undefined = env.WORKFLOW_BUNDLE_PATH
    ? { code: readFileSync(env.WORKFLOW_BUNDLE_PATH, 'utf8') }
    : undefined;
  const workerSet = await createWorkerSet({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    client,
    store: instrumentJobStore(opened.store, metrics),
    renderInterceptors: [renderMetricsInterceptor(metrics)],
    renderers: createRenderers(rendererUrls(env)),
    limiter,
    ...(workflowBundle ? { workflowBundle } : {}),
    shutdownGraceTime: env.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
  });
  workersRunning = () => workerSet.workers.every((worker) => worker.getState() === 'RUNNING');
  // Started only now, so a failed start-up leaves no open server keeping the process alive.
  const metricsServer =
    env.METRICS_PORT === undefined
      ? undefined
      : await startMetricsServer({
          port: env.METRICS_PORT,
          registry: metrics.registry,
          health: () => workersRunning(),
          extraText: sdkMetricsText(`http://${SDK_METRICS_ADDRESS}/metrics`),
        });
  if (metricsServer) logger.info('metrics server listening', { port: metricsServer.port });
  logger.info('worker running', {
    taskQueues: workerSet.workers.map((w) => w.options.taskQueue),
    caps: liveConfig.caps(),
    database: opened.kind,
  });
  try {
    // The SDK's Runtime shuts every worker down on SIGINT/SIGTERM; running activities get the grace time.
    await workerSet.run();
  } finally {
    liveConfig.stop();
    await metricsServer?.close();
    await connection.close();
    await clientConnection.close();
    await opened.close();
    logger.info('worker stopped');
  }
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
