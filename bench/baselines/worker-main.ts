/**
 * A peer's worker as its own process, for the scenarios that kill a worker or measure its RSS
 * and CPU: `node --import tsx bench/baselines/worker-main.ts old-poller|bullmq`, configured by
 * BENCH_WORKER_CONFIG (JSON, see WorkerMainConfig). Prints one JSON line `{"msg":"ready"}`.
 */
import { Pool } from 'pg';
import { z } from 'zod';
import { createRenderers } from '../../src/renderers/adapters';
import { JsonLogger, stdoutLines } from '../../src/observability/logger';
import { startBullmqWorkers } from './bullmq';
import { startOldPoller } from './old-poller';

const ConfigSchema = z.object({
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  urls: z.object({ manim: z.url(), revideo: z.url(), orchestrator: z.url() }),
  renderPollMs: z.number().int().positive(),
  intervalMs: z.number().int().positive().default(60_000),
  timeoutMs: z.number().int().positive().optional(),
  retryIntervalMs: z.number().int().positive().optional(),
  redis: z.object({ host: z.string(), port: z.number().int() }).optional(),
  prefix: z.string().optional(),
});
export type WorkerMainConfig = z.input<typeof ConfigSchema>;

/** The bench reads this process's stdout for its `ready` line. */
const logger = new JsonLogger('INFO', stdoutLines);
const log = ({ msg, ...fields }: Record<string, unknown>): void =>
  logger.info(typeof msg === 'string' ? msg : '', fields);

async function main(): Promise<void> {
  const kind = process.argv[2];
  const parsed = ConfigSchema.safeParse(JSON.parse(process.env.BENCH_WORKER_CONFIG ?? '{}'));
  if (!parsed.success) {
    throw new Error(
      `BENCH_WORKER_CONFIG: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  const config = parsed.data;
  const pool = new Pool({
    connectionString: config.databaseUrl,
    max: 10,
    connectionTimeoutMillis: 5000,
    query_timeout: 20_000,
  });
  pool.on('error', () => undefined);
  const renderers = createRenderers(config.urls);
  let stop: () => Promise<void>;
  if (kind === 'old-poller') {
    const poller = await startOldPoller({
      db: pool,
      renderers,
      intervalMs: config.intervalMs,
      renderPollMs: config.renderPollMs,
      ...(config.timeoutMs ? { timeoutMs: config.timeoutMs } : {}),
      ...(config.retryIntervalMs ? { retryIntervalMs: config.retryIntervalMs } : {}),
      log,
    });
    stop = () => poller.stop();
  } else if (kind === 'bullmq') {
    if (!config.redis || !config.prefix)
      throw new Error('BENCH_WORKER_CONFIG: redis and prefix are required for bullmq');
    const workers = await startBullmqWorkers({
      connection: config.redis,
      prefix: config.prefix,
      db: pool,
      renderers,
      renderPollMs: config.renderPollMs,
    });
    stop = () => workers.close();
  } else {
    throw new Error(`worker kind must be old-poller or bullmq (got ${String(kind)})`);
  }
  log({ msg: 'ready', kind });
  const shutdown = () => {
    stop()
      .then(() => pool.end())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  new JsonLogger().error('bench worker failed', { error: String(err) });
  process.exit(1);
});
