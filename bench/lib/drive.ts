/**
 * Runs one batch of jobs through one system with fresh simulators and a fresh database, and
 * records when each job was submitted, first reached a renderer and finished.
 */
import type { Queryable } from '../../src/store/migrate';
import type { AdmissionHandover, DecisionStages, SystemFactory } from '../systems/types';
import type { HandoffRender } from './handoff';
import type { BenchJob } from './jobs';
import { poolOf } from './jobs';
import { completedCount, openBenchDb, queuedWithinMs, sleep, startSims, waitUntil } from './infra';
import { forEachConcurrently } from '../../src/util/for-each-concurrently';
import type { Sims } from './infra';
import type { RenderSpan } from './ordering';

export interface DriveOptions {
  /**
   * spaced: one job every `spacingMs`, capacity free (latency).
   * held: `fillers` take every slot first and are held at the renderers; then the jobs are
   *   submitted by `submitters` at once (1: one after another), and once the system's queue holds
   *   them all, the fillers end together at t0 (saturation: every job waits, the caps are full).
   * burst: `concurrency` submitters as fast as the system accepts (throughput).
   */
  mode: 'spaced' | 'held' | 'burst';
  spacingMs?: number;
  concurrency?: number;
  fillers?: BenchJob[];
  submitters?: number;
  /** Fleet caps for the run (default 10/4). */
  caps?: { total: number; manim: number };
  /** held: read every waiting job's `estimated_start_at` this long after t0 (the estimate a screen shows then). */
  estimatesAfterMs?: number;
  timeoutMs: number;
}

export interface DriveResult {
  /** Epoch ms: fillers released (held) or first submit (spaced, burst). */
  t0: number;
  submitAt: Map<string, number>;
  /** When each submit returned: the system had the job by then. */
  acceptedAt: Map<string, number>;
  /** held with estimatesAfterMs: the estimated start (epoch ms) of each job still queued then. */
  estimates: Map<string, number>;
  firstStart: Map<string, number>;
  finishedAt: Map<string, number>;
  startOrder: string[];
  /** When the `jobs` table first showed every job completed. */
  allCompletedAt: number;
  /** Every render the renderers started (fillers included), with when the system noticed and recorded its end. */
  renders: (RenderSpan & HandoffRender & { recordedAt?: number })[];
  /** Where the system decides apart from starting (SystemRun.decisions): when each job was let start. */
  decidedAt?: Map<string, number>;
  /** The same system's stages between the decision and the renderer (SystemRun.decisions). */
  stages?: DecisionStages;
  /** Admission's handovers while the jobs ran (SystemRun.handovers). */
  handovers?: AdmissionHandover[];
}

export async function drive(
  factory: SystemFactory,
  jobs: BenchJob[],
  options: DriveOptions,
): Promise<DriveResult> {
  const sims = await startSims();
  const db = await openBenchDb(options.caps ? { caps: options.caps } : {});
  const submitAt = new Map<string, number>();
  const acceptedAt = new Map<string, number>();
  let estimates = new Map<string, number>();
  const submit = async (job: BenchJob) => {
    submitAt.set(job.id, Date.now());
    await system.submit(job);
    acceptedAt.set(job.id, Date.now());
  };
  let system: Awaited<ReturnType<SystemFactory['start']>>;
  try {
    system = await factory.start({ urls: sims.urls, db });
    try {
      const runStartedAt = Date.now();
      let t0 = runStartedAt;
      if (options.mode === 'held') {
        const fillers = options.fillers ?? [];
        for (const sim of Object.values(sims.sims)) sim.hold();
        for (const job of fillers) await submit(job);
        await waitUntil(
          'the fillers to take every slot',
          () => {
            system.assertAlive?.();
            return inFlight(sims) === fillers.length;
          },
          60_000,
        );
        await forEachConcurrently(jobs, options.submitters ?? 1, submit);
        // Every system must hold every job before a slot frees: their rows exist, and the
        // system's own queue has them (this project: admission has heard of each).
        await waitUntil(
          'all jobs in the jobs table',
          async () => {
            system.assertAlive?.();
            return (await rowCount(db.db, jobs)) === jobs.length;
          },
          queuedWithinMs(jobs.length),
          100,
        );
        await system.ready(jobs.map((j) => j.id));
        if (inFlight(sims) !== fillers.length) {
          throw new Error(`${inFlight(sims)} renders in flight before the release, not ${fillers.length}`);
        }
        t0 = Date.now();
        for (const sim of Object.values(sims.sims)) sim.release();
        if (options.estimatesAfterMs !== undefined) {
          await sleep(options.estimatesAfterMs);
          estimates = await queuedEstimates(db.db, jobs);
        }
      } else if (options.mode === 'spaced') {
        const spacing = options.spacingMs ?? 200;
        for (const [i, job] of jobs.entries()) {
          const due = t0 + i * spacing;
          if (due > Date.now()) await sleep(due - Date.now());
          await submit(job);
        }
      } else {
        await forEachConcurrently(jobs, options.concurrency ?? 10, submit);
      }
      const ids = jobs.map((j) => j.id);
      await waitUntil(
        `${jobs.length} jobs completed (${factory.id})`,
        async () => {
          system.assertAlive?.();
          return (await completedCount(db.db, ids)) === ids.length;
        },
        options.timeoutMs,
        50,
      );
      const allCompletedAt = Date.now();
      const allJobs = [...(options.fillers ?? []), ...jobs];
      const stages = await system.decisions?.(allJobs.map((j) => j.id));
      const handovers = await system.handovers?.(runStartedAt);
      return {
        ...(stages ? { decidedAt: stages.granted, stages } : {}),
        ...(handovers ? { handovers } : {}),
        t0,
        submitAt,
        acceptedAt,
        estimates,
        firstStart: new Map(sims.firstStart),
        finishedAt: new Map(sims.finishedAt),
        startOrder: [...sims.startOrder],
        allCompletedAt,
        renders: rendersSeen(sims, allJobs, await completedAtOf(db.db, allJobs)),
      };
    } finally {
      await system.stop();
    }
  } finally {
    await sims.close();
    await db.close();
  }
}

function inFlight(sims: Sims): number {
  return Object.values(sims.sims).reduce((n, sim) => n + sim.stats().inFlight, 0);
}

async function queuedEstimates(db: Queryable, jobs: readonly BenchJob[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; estimated_start_at: Date | string | null }>(
    `select id, estimated_start_at from jobs where status = 'queued' and id = any($1::uuid[])`,
    [jobs.map((j) => j.id)],
  );
  return new Map(
    rows.flatMap((r) =>
      r.estimated_start_at === null ? [] : [[r.id, new Date(r.estimated_start_at).getTime()] as const],
    ),
  );
}

/** When each job's row was marked completed: the system had taken in the render's end by then. */
async function completedAtOf(db: Queryable, jobs: readonly BenchJob[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; completed_at: Date | string | null }>(
    'select id, completed_at from jobs where id = any($1::uuid[])',
    [jobs.map((j) => j.id)],
  );
  return new Map(
    rows.flatMap((r) =>
      r.completed_at === null ? [] : [[r.id, new Date(r.completed_at).getTime()] as const],
    ),
  );
}

function rendersSeen(
  sims: Sims,
  jobs: readonly BenchJob[],
  recorded: ReadonlyMap<string, number>,
): (RenderSpan & HandoffRender & { recordedAt?: number })[] {
  /** First status request after the end, per job: the poll that saw it. */
  const noticed = new Map<string, number>();
  for (const sim of Object.values(sims.sims)) {
    for (const entry of sim.ledger) {
      if (entry.method !== 'GET' || !entry.jobId) continue;
      const end = sims.finishedAt.get(entry.jobId);
      if (end === undefined || entry.at < end) continue;
      const seen = noticed.get(entry.jobId);
      if (seen === undefined || entry.at < seen) noticed.set(entry.jobId, entry.at);
    }
  }
  return jobs.flatMap((job) => {
    const startedAt = sims.firstStart.get(job.id);
    if (startedAt === undefined) return [];
    const noticedAt = noticed.get(job.id);
    const recordedAt = recorded.get(job.id);
    return [
      {
        id: job.id,
        pool: poolOf(job),
        startedAt,
        finishedAt: sims.finishedAt.get(job.id) ?? Infinity,
        ...(noticedAt === undefined ? {} : { noticedAt }),
        ...(recordedAt === undefined ? {} : { recordedAt }),
      },
    ];
  });
}

async function rowCount(db: Queryable, jobs: BenchJob[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from jobs where id = any($1::uuid[])',
    [jobs.map((j) => j.id)],
  );
  return rows[0]?.n ?? 0;
}
