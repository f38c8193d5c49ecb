/** The old poller and BullMQ as systems under test, in-process, against the run's simulators and database. */
import { randomBytes } from 'node:crypto';
import { createRenderers } from '../../src/renderers/adapters';
import { bullmqProducer, startBullmqWorkers } from '../baselines/bullmq';
import { startOldPoller } from '../baselines/old-poller';
import { REDIS } from '../lib/infra';
import type { BenchJob } from '../lib/jobs';
import type { Queryable } from '../../src/store/migrate';
import type { StartContext, SystemFactory, SystemId, SystemRun } from './types';

/** Both peers poll their renderers this often: at their best, so the comparison flatters them, not us. */
export const PEER_RENDER_POLL_MS = 100;
/** The same policy for every system: 3 attempts; the interval is the scenario's. */
export const MAX_ATTEMPTS = 3;

/** What the frontend does today: insert the row, queued. */
export async function insertQueuedJob(db: Queryable, job: BenchJob): Promise<void> {
  await db.query(`insert into jobs (id, job_type, priority, renderer, payload) values ($1, $2, $3, $4, $5)`, [
    job.id,
    job.jobType,
    job.priority,
    job.renderer,
    JSON.stringify(job.payload),
  ]);
}

export function oldPollerSystem(id: SystemId, intervalMs: number): SystemFactory {
  return {
    id,
    async start(ctx: StartContext): Promise<SystemRun> {
      const poller = await startOldPoller({
        db: ctx.db.db,
        renderers: createRenderers(ctx.urls),
        intervalMs,
        renderPollMs: PEER_RENDER_POLL_MS,
      });
      return {
        submit: (job) => insertQueuedJob(ctx.db.db, job),
        // Its queue is the jobs table.
        ready: async () => undefined,
        stop: () => poller.stop(),
      };
    },
  };
}

export function bullmqSystem(retryIntervalMs = 5 * 60_000): SystemFactory {
  return {
    id: 'bullmq',
    async start(ctx: StartContext): Promise<SystemRun> {
      const common = { connection: REDIS, prefix: `bench-${randomBytes(4).toString('hex')}`, db: ctx.db.db };
      const producer = await bullmqProducer({ ...common, retryIntervalMs, maxAttempts: MAX_ATTEMPTS });
      const workers = await startBullmqWorkers({
        ...common,
        renderers: createRenderers(ctx.urls),
        renderPollMs: PEER_RENDER_POLL_MS,
      });
      return {
        submit: (job) =>
          producer.submit({
            jobId: job.id,
            jobType: job.jobType,
            renderer: job.renderer,
            payload: job.payload,
            priority: job.priority,
          }),
        // A submit returns once the job is in its Redis queue.
        ready: async () => undefined,
        stop: async () => {
          await workers.close();
          await producer.obliterate();
          await producer.close();
        },
      };
    },
  };
}
