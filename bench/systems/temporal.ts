/**
 * This project, in-process, wired as production wires it: createWorkerSet with one process-wide
 * CapacityLimiter (10/4), read-model sync on, jobs started with submitJob. Paused = caps 0, so
 * render tasks wait on the server in its own priority order until resume() sets 10/4.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CapacityLimiter } from '../../src/capacity/capacity-limiter';
import { submitJob } from '../../src/client/submit';
import { createRenderers } from '../../src/renderers/adapters';
import { createWorkerSet } from '../../src/worker/create-workers';
import type { BenchJob } from '../lib/jobs';
import type { StartContext, SystemFactory, SystemId, SystemRun } from './types';

export const CAPS = { total: 10, manim: 4 };

export function temporalSystem(
  env: TestWorkflowEnvironment,
  id: SystemId,
  pollIntervalMs: number,
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
      return {
        submit: async (job: BenchJob) => {
          await submitJob(env.client, {
            id: job.id,
            jobType: job.jobType,
            priority: job.priority,
            renderer: job.renderer,
            payload: job.payload,
          });
        },
        resume: async () => limiter.setCaps(CAPS),
        stop: async () => {
          workers.shutdown();
          await running;
        },
      };
    },
  };
}
