/**
 * The peer the team would pick instead: BullMQ on Redis, set up the way its docs recommend.
 *   - Priorities: the job `priority` option (1 = high, 2 = medium, 3 = low; BullMQ runs lower
 *     numbers first and, within one priority, in insertion order).
 *   - Caps: a queue per pool. BullMQ caps concurrency per queue (`queue.setGlobalConcurrency`,
 *     across every worker, plus each Worker's own `concurrency`); it has no cap shared by two
 *     queues (that needs BullMQ Pro groups). So the 10-slot total is split statically: Manim 4,
 *     general 6. The total can never pass 10, but general renders cannot borrow idle Manim slots.
 *   - Retries: `attempts` with a fixed backoff (the same 3 attempts and interval as the others).
 *   - Stalled jobs (a dead worker) are found by the stalled-job checker: locks last
 *     `lockDuration` (30 s) and are checked every `stalledInterval` (30 s), both BullMQ defaults.
 *   - The `jobs` table is kept as the frontend's read model, like the other systems: a row is
 *     inserted on submit and updated when a render starts and ends.
 * Renders go through the same HTTP adapters and simulators as the other systems.
 */
import { Queue, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { RendererAdapter } from '../../src/renderers/http-client';
import type { Priority, Renderer } from '../../src/shared/constants';
import type { RenderQueue } from '../../src/shared/constants';
import { renderQueueFor } from '../../src/shared/constants';
import type { Queryable } from '../../src/store/migrate';

export const BULLMQ_PRIORITY: Record<Priority, number> = { high: 1, medium: 2, low: 3 };
/** The static split of the 10-slot total (see above). */
export const BULLMQ_CAPS: Record<RenderQueue, number> = { manim: 4, general: 6 };

export interface BullmqConnection {
  host: string;
  port: number;
}

export interface BullmqCommon {
  connection: BullmqConnection;
  /** Key prefix: one per run, so runs never see each other's jobs. */
  prefix: string;
  db: Queryable;
}

export interface BullmqJobData {
  jobId: string;
  jobType: string;
  renderer: Renderer;
  payload: Record<string, unknown>;
}

export interface BullmqWorkersOptions extends BullmqCommon {
  renderers: Record<Renderer, RendererAdapter>;
  renderPollMs: number;
  caps?: Record<RenderQueue, number>;
  paused?: boolean;
  lockDuration?: number;
  stalledInterval?: number;
}

export function queueName(pool: RenderQueue): string {
  return `render-${pool}`;
}

function redisOptions(connection: BullmqConnection) {
  // Workers block on Redis; BullMQ requires maxRetriesPerRequest null for them.
  return { host: connection.host, port: connection.port, maxRetriesPerRequest: null, connectTimeout: 5000 };
}

export interface BullmqWorkers {
  workers: Record<RenderQueue, Worker>;
  resume(): void;
  close(): Promise<void>;
}

export async function startBullmqWorkers(options: BullmqWorkersOptions): Promise<BullmqWorkers> {
  const caps = options.caps ?? BULLMQ_CAPS;
  const { db } = options;
  const processor = async (job: Job<BullmqJobData>) => {
    const data = job.data;
    const attempt = job.attemptsMade + 1;
    await db.query(
      `update jobs set status = 'processing', attempt = $2, retry_count = $2 - 1, started_at = now()
       where id = $1 and status in ('queued', 'processing')`,
      [data.jobId, attempt],
    );
    const renderer = options.renderers[data.renderer];
    const { renderId } = await renderer.submit({
      jobId: data.jobId,
      jobType: data.jobType,
      attempt,
      payload: data.payload,
    });
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, options.renderPollMs));
      const status = await renderer.status(renderId);
      if (status.status === 'failed') throw new Error(status.error ?? 'render failed');
      if (status.status !== 'completed') continue;
      await db.query(
        `update jobs set status = 'completed', result = $2, progress = 1, completed_at = now(), error = null
         where id = $1`,
        [data.jobId, status.videoUrl ?? null],
      );
      return status.videoUrl ?? null;
    }
  };
  const workers = {} as Record<RenderQueue, Worker>;
  for (const pool of ['manim', 'general'] as const) {
    const queue = new Queue(queueName(pool), {
      connection: redisOptions(options.connection),
      prefix: options.prefix,
    });
    await queue.setGlobalConcurrency(caps[pool]);
    await queue.close();
    const worker = new Worker<BullmqJobData>(queueName(pool), processor, {
      connection: redisOptions(options.connection),
      prefix: options.prefix,
      concurrency: caps[pool],
      autorun: !options.paused,
      ...(options.lockDuration ? { lockDuration: options.lockDuration } : {}),
      ...(options.stalledInterval ? { stalledInterval: options.stalledInterval } : {}),
    });
    worker.on('failed', (job, error) => {
      if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
      void db
        .query(`update jobs set status = 'failed', error = $2, completed_at = now() where id = $1`, [
          job.data.jobId,
          error.message,
        ])
        .catch(() => undefined);
    });
    worker.on('error', () => undefined); // connection blips are retried by ioredis
    workers[pool] = worker;
  }
  let resumed = !options.paused;
  return {
    workers,
    resume: () => {
      if (resumed) return;
      resumed = true;
      for (const worker of Object.values(workers)) void worker.run().catch(() => undefined);
    },
    close: async () => {
      await Promise.all(Object.values(workers).map((worker) => worker.close()));
    },
  };
}

export interface BullmqProducer {
  submit(job: BullmqJobData & { priority: Priority }): Promise<void>;
  /** Removes every key of this prefix's queues. */
  obliterate(): Promise<void>;
  close(): Promise<void>;
}

export async function bullmqProducer(
  options: BullmqCommon & { retryIntervalMs: number; maxAttempts: number },
): Promise<BullmqProducer> {
  const queues = {
    manim: new Queue<BullmqJobData>(queueName('manim'), {
      connection: redisOptions(options.connection),
      prefix: options.prefix,
    }),
    general: new Queue<BullmqJobData>(queueName('general'), {
      connection: redisOptions(options.connection),
      prefix: options.prefix,
    }),
  };
  return {
    submit: async (job) => {
      await options.db.query(
        `insert into jobs (id, job_type, priority, renderer, payload) values ($1, $2, $3, $4, $5)`,
        [job.jobId, job.jobType, job.priority, job.renderer, JSON.stringify(job.payload)],
      );
      const { priority, ...data } = job;
      await queues[renderQueueFor(job.renderer)].add('render', data, {
        jobId: job.jobId,
        priority: BULLMQ_PRIORITY[priority],
        attempts: options.maxAttempts,
        backoff: { type: 'fixed', delay: options.retryIntervalMs },
        removeOnComplete: true,
        removeOnFail: 1000,
      });
    },
    obliterate: async () => {
      for (const queue of Object.values(queues)) await queue.obliterate({ force: true });
    },
    close: async () => {
      await Promise.all(Object.values(queues).map((queue) => queue.close()));
    },
  };
}
