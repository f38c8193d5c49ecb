/**
 * One running worker process, assembled: store, live config, capacity limiter, metrics, the
 * Temporal workers and the intake schedule. `src/worker.ts` runs it; the demo runs it in-process.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { WorkflowBundleOption } from '@temporalio/worker';
import type { CapacityLimiter } from '../capacity/capacity-limiter';
import type { LiveQueueConfig } from '../capacity/live-config';
import { connectClient, connectWorker } from '../jobs/connect';
import { ensureIntakeSweep } from '../jobs/intake-sweep';
import { startIntakeOnInsert } from '../intake/intake-runner';
import { pgWakeups, pgliteWakeups, realtimeWakeups } from '../intake/wakeups';
import type { IntakeWakeups } from '../intake/wakeups';
import type { Env } from '../config/env';
import { redactedEnv, rendererUrls } from '../config/env';
import type { JsonLogger } from '../observability/logger';
import { createRenderMetrics } from '../observability/render-metrics';
import { instrumentJobStore } from '../observability/instrumented-store';
import { queueStatsFromStore } from '../observability/queue-stats';
import { renderMetricsInterceptor } from '../observability/render-metrics-interceptor';
import { sdkMetricsText, startMetricsServer } from '../observability/metrics-server';
import type { MetricsServer } from '../observability/metrics-server';
import type { RenderMetrics } from '../observability/render-metrics';
import { createRenderers } from '../renderers/adapters';
import { openJobStore } from '../store/open-store';
import type { AnyOpenedJobStore } from '../store/open-store';
import type { PGlite } from '@electric-sql/pglite';
import type { JobStore } from '../store/job-store';
import { ADMISSION_WORKFLOW_ID } from '../shared/constants';
import { admissionConfigChangedSignal } from '../shared/admission-messages';
import { createWorkerSet } from './create-workers';
import { startLocalCapacity } from './local-capacity';
import type { WorkerSet } from './create-workers';
import { errorMessage } from '../shared/error-message';

/** The SDK Runtime's own Prometheus exporter; only our metrics server (METRICS_PORT) reads it. */
export const SDK_METRICS_ADDRESS = '127.0.0.1:9465';

/**
 * Routes the SDK's logs (workflow, activity, worker) through our JSON logger, and turns on the
 * SDK's Prometheus exporter when metrics are wanted. Once per process, before any connection.
 */
export function installRuntime(env: Pick<Env, 'LOG_LEVEL' | 'METRICS_PORT'>, logger: JsonLogger): void {
  Runtime.install({
    // One log format for the SDK's lines and ours, through the redactor.
    logger: new DefaultLogger(env.LOG_LEVEL, (entry) => logger.log(entry.level, entry.message, entry.meta)),
    telemetryOptions: {
      // Core logs warnings only: its per-task INFO/DEBUG lines would cost CPU on every activation.
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      // The exporter (a Rust HTTP server and metric buffers) runs only when metrics are scraped.
      ...(env.METRICS_PORT === undefined
        ? {}
        : { metrics: { prometheus: { bindAddress: SDK_METRICS_ADDRESS, useSecondsForDurations: true } } }),
    },
    // Left at the SDK's defaults on purpose: the shutdown signals (SIGINT, SIGTERM drain the
    // Workers) and the Core's own thread pool, which two cores do not need resized.
  });
}

export interface WorkerRuntime {
  client: Client;
  store: JobStore;
  limiter: CapacityLimiter;
  liveConfig: LiveQueueConfig;
  metrics: RenderMetrics;
  workerSet: WorkerSet;
  metricsServer: MetricsServer | undefined;
  /** Runs until the workers stop (SIGINT/SIGTERM via the SDK Runtime, or shutdown()). */
  run(): Promise<void>;
  shutdown(): void;
}

export interface WorkerRuntimeOptions {
  env: Env;
  logger: JsonLogger;
  /** Injectable clock for peak hours (tests, the demo). */
  now?: () => Date;
  listenForSighup?: boolean;
  /** An already open store (the demo shares its embedded database); opened from env otherwise. */
  opened?: Awaited<ReturnType<typeof openJobStore>>;
}

/** Where this worker hears about inserts: the database it reaches, by the way it reaches it. */
function intakeWakeups(env: Env, opened: AnyOpenedJobStore, logger: JsonLogger): IntakeWakeups {
  if (opened.kind === 'supabase') {
    return realtimeWakeups(env.SUPABASE_URL!, env.SUPABASE_SERVICE_ROLE_KEY!, logger);
  }
  if (opened.kind === 'postgres') return pgWakeups(env.DATABASE_URL!, logger);
  return pgliteWakeups(opened.db as unknown as PGlite);
}

export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { env, logger } = options;
  logger.info('worker starting', { config: redactedEnv(env) });
  const opened = options.opened ?? (await openJobStore(env));
  const ownsStore = !options.opened;
  const wired: { client?: Client } = {};
  const { liveConfig, limiter } = await startLocalCapacity({
    read: () => opened.store.readQueueConfig(),
    intervalMs: env.CONFIG_REFRESH_SECONDS * 1000,
    logger,
    listenForSighup: options.listenForSighup ?? true,
    ...(options.now ? { now: options.now } : {}),
    ...(env.WORKER_MAX_RENDERS ? { processMax: env.WORKER_MAX_RENDERS } : {}),
    // Admission re-reads the row itself every few seconds; this makes a SIGHUP count at once.
    onChange: () => {
      wired.client?.workflow
        .getHandle(ADMISSION_WORKFLOW_ID)
        .signal(admissionConfigChangedSignal)
        .catch((err: unknown) =>
          logger.warn('could not tell admission about the config change', {
            error: errorMessage(err),
          }),
        );
    },
  });

  let workersRunning = (): boolean => false;
  const metrics = createRenderMetrics(undefined, {
    limiter,
    fleetCaps: () => liveConfig.caps(),
    isPeakHours: () => liveConfig.caps().peak,
    queueStats: queueStatsFromStore(opened.store),
    health: () => workersRunning(),
  });
  const cleanups: Array<() => Promise<void> | void> = [() => liveConfig.stop()];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
    if (ownsStore) await opened.close();
  };
  try {
    const connection = await connectWorker(env.TEMPORAL_ADDRESS);
    cleanups.push(() => connection.close());
    const connected = await connectClient(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE);
    cleanups.push(() => connected.connection.close());
    wired.client = connected.client;
    const workflowBundle: WorkflowBundleOption | undefined = env.WORKFLOW_BUNDLE_PATH
      ? { code: readFileSync(env.WORKFLOW_BUNDLE_PATH, 'utf8') }
      : undefined;
    const workerSet = await createWorkerSet({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      client: connected.client,
      store: instrumentJobStore(opened.store, metrics),
      renderInterceptors: [renderMetricsInterceptor(metrics)],
      renderers: createRenderers(rendererUrls(env)),
      limiter,
      ...(workflowBundle ? { workflowBundle } : {}),
      shutdownGraceTime: env.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
      logger,
    });
    workersRunning = () => workerSet.workers.every((worker) => worker.getState() === 'RUNNING');
    if (env.INTAKE_INTERVAL_SECONDS > 0) {
      const intake = await startIntakeOnInsert({
        store: opened.store,
        client: connected.client,
        logger,
        wakeups: intakeWakeups(env, opened, logger),
      });
      cleanups.push(() => intake.stop());
      await ensureIntakeSweep(connected.client, { intervalSeconds: env.INTAKE_INTERVAL_SECONDS });
      logger.info('intake wakes on insert', {
        source: intake.source,
        sweepSeconds: env.INTAKE_INTERVAL_SECONDS,
      });
    }
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
    if (metricsServer) {
      logger.info('metrics server listening', { port: metricsServer.port });
      cleanups.push(() => metricsServer.close());
    }
    logger.info('worker running', {
      taskQueues: workerSet.workers.map((w) => w.options.taskQueue),
      caps: liveConfig.caps(),
      database: opened.kind,
    });
    return {
      client: connected.client,
      store: opened.store,
      limiter,
      liveConfig,
      metrics,
      workerSet,
      metricsServer,
      run: async () => {
        try {
          await workerSet.run();
        } finally {
          await cleanup();
          logger.info('worker stopped');
        }
      },
      shutdown: () => workerSet.shutdown(),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
