/**
 * Runs one batch of jobs through one system with fresh simulators and a fresh database, and
 * records when each job was submitted, first reached a renderer and finished.
 */
import type { Queryable } from '../../src/store/migrate';
import type { SystemFactory } from '../systems/types';
import type { BenchJob } from './jobs';
import { completedCount, openBenchDb, sleep, startSims, waitUntil } from './infra';

export interface DriveOptions {
  /**
   * spaced: one job every `spacingMs`, capacity free (latency).
   * paused: everything queued first, then dispatch released at t0 (saturation).
   * burst: `concurrency` submitters as fast as the system accepts (throughput).
   */
  mode: 'spaced' | 'paused' | 'burst';
  spacingMs?: number;
  concurrency?: number;
  timeoutMs: number;
}

export interface DriveResult {
  /** Epoch ms: dispatch released (paused) or first submit (spaced, burst). */
  t0: number;
  submitAt: Map<string, number>;
  firstStart: Map<string, number>;
  finishedAt: Map<string, number>;
  startOrder: string[];
  /** When the `jobs` table first showed every job completed. */
  allCompletedAt: number;
}

export async function drive(
  factory: SystemFactory,
  jobs: BenchJob[],
  options: DriveOptions,
): Promise<DriveResult> {
  const sims = await startSims();
  const db = await openBenchDb();
  const submitAt = new Map<string, number>();
  try {
    const system = await factory.start({ urls: sims.urls, db, paused: options.mode === 'paused' });
    try {
      let t0 = Date.now();
      if (options.mode === 'paused') {
        for (const job of jobs) {
          submitAt.set(job.id, Date.now());
          await system.submit(job);
        }
        // Every system must hold every job before dispatch starts: the rows exist (this project
        // writes them from the workflow), then a moment for its render tasks to be queued.
        await waitUntil(
          'all jobs in the jobs table',
          async () => (await rowCount(db.db, jobs)) === jobs.length,
          60_000,
          100,
        );
        await sleep(1000);
        t0 = Date.now();
        await system.resume();
      } else if (options.mode === 'spaced') {
        const spacing = options.spacingMs ?? 200;
        for (const [i, job] of jobs.entries()) {
          const due = t0 + i * spacing;
          if (due > Date.now()) await sleep(due - Date.now());
          submitAt.set(job.id, Date.now());
          await system.submit(job);
        }
      } else {
        const queue = [...jobs];
        const submitter = async () => {
          for (let job = queue.shift(); job; job = queue.shift()) {
            submitAt.set(job.id, Date.now());
            await system.submit(job);
          }
        };
        await Promise.all(Array.from({ length: options.concurrency ?? 10 }, submitter));
      }
      const ids = jobs.map((j) => j.id);
      await waitUntil(
        `${jobs.length} jobs completed (${factory.id})`,
        async () => (await completedCount(db.db, ids)) === ids.length,
        options.timeoutMs,
        50,
      );
      const allCompletedAt = Date.now();
      return {
        t0,
        submitAt,
        firstStart: new Map(sims.firstStart),
        finishedAt: new Map(sims.finishedAt),
        startOrder: [...sims.startOrder],
        allCompletedAt,
      };
    } finally {
      await system.stop();
    }
  } finally {
    await sims.close();
    await db.close();
  }
}

async function rowCount(db: Queryable, jobs: BenchJob[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from jobs where id = any($1::uuid[])',
    [jobs.map((j) => j.id)],
  );
  return rows[0]?.n ?? 0;
}
