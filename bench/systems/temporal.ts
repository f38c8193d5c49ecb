/**
 * This project, in-process, wired as production wires it: createWorkerSet with one process-wide
 * CapacityLimiter (10/4), read-model sync on, jobs started with submitJob. Paused = caps 0, so
 * render tasks wait on the server in its own priority order until resume() sets 10/4.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { IntakeRunner } from '../../src/intake/intake-runner';
import { pgWakeups, pgliteWakeups } from '../../src/intake/wakeups';
import { insertQueuedJob } from './peers';
import { CapacityLimiter } from '../../src/capacity/capacity-limiter';
import { createRenderers } from '../../src/renderers/adapters';
import { createWorkerSet } from '../../src/worker/create-workers';
import { submitBenchJob } from '../lib/jobs';
import type { BenchJob } from '../lib/jobs';
import type { StartContext, SystemFactory, SystemId, SystemRun } from './types';

export const CAPS = { total: 10, manim: 4 };

/**
 * `via: 'insert'`: jobs arrive as the frontend sends them, a row inserted into `jobs`; intake
 * wakes on the insert (LISTEN/NOTIFY) and submits, as in a worker process. `'api'`: submitJob.
 */
export function temporalSystem(
  env: TestWorkflowEnvironment,
  id: SystemId,
  pollIntervalMs: number,
  via: 'api' | 'insert' = 'api',
): SystemFactory {
  return {
    id,
    async start(ctx: StartContext): Promise<SystemRun> {
      const limiter = new CapacityLimiter({ caps: ctx.paused ? { total: 0, manim: 0 } : CAPS });
      const workers = await createWorkerSet({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        client: env.client,
        store: ctx.db.store,
        renderers: createRenderers(ctx.urls),
        limiter,
        pollIntervalMs,
        shutdownGraceTime: '2s',
      });
      const running = workers.run();
      const silent = { info() {}, warn() {}, error() {} };
      const intake =
        via === 'insert'
          ? new IntakeRunner({ store: ctx.db.store, client: env.client, logger: silent })
          : undefined;
      const wakeups = intake
        ? ctx.db.url
          ? pgWakeups(ctx.db.url, silent)
          : pgliteWakeups(ctx.db.db as unknown as PGlite)
        : undefined;
      if (intake && wakeups) await wakeups.start(() => intake.wake());
      return {
        submit: async (job: BenchJob) => {
          if (via === 'insert') return insertQueuedJob(ctx.db.db, job);
          await submitBenchJob(env.client, job);
        },
        resume: async () => limiter.setCaps(CAPS),
        stop: async () => {
          await wakeups?.stop();
          await intake?.stop();
          workers.shutdown();
          await running;
        },
      };
    },
  };
}
