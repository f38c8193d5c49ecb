/**
 * The peers in the benchmark must play by the same rules as this project, or the comparison is
 * unfair: each baseline, run for real against the renderer simulators, must keep the caps and
 * start jobs by priority (then submission order) once it is saturated.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createRenderers } from '../../src/renderers/adapters';
import { bullmqProducer, startBullmqWorkers } from '../../bench/baselines/bullmq';
import { startOldPoller } from '../../bench/baselines/old-poller';
import { completedCount, openBenchDb, REDIS, startSims, waitUntil } from '../../bench/lib/infra';
import type { BenchDb, Sims } from '../../bench/lib/infra';
import { benchJob, jobMix, poolOf } from '../../bench/lib/jobs';
import type { BenchJob } from '../../bench/lib/jobs';
import { countOrdering } from '../../bench/lib/ordering';
import { insertQueuedJob } from '../../bench/systems/peers';
import { watchRenders } from '../../dev/stack';
import type { RenderWatch } from '../../dev/stack';

const RENDER_MS = 300;
const POLLER_INTERVAL_MS = 100;
const POLLER_RENDER_POLL_MS = 50;

/**
 * Jobs all queued, one after another, before dispatch began. `pool`: count within one pool only
 * (BullMQ's promise: a queue per pool); without it, across renderers (the old poller's).
 */
function ordering(jobs: BenchJob[], sims: Sims, pool?: 'manim' | 'general') {
  const inPool = jobs.filter((job) => pool === undefined || poolOf(job) === pool);
  const renders = inPool.flatMap((job) => {
    const startedAt = sims.firstStart.get(job.id);
    return startedAt === undefined
      ? []
      : [
          {
            id: job.id,
            pool: poolOf(job),
            startedAt,
            finishedAt: sims.finishedAt.get(job.id) ?? Infinity,
          },
        ];
  });
  const ordered = inPool.map((job) => {
    const at = jobs.indexOf(job) - jobs.length;
    return { id: job.id, pool: poolOf(job), priority: job.priority, submittedAt: at, acceptedAt: at };
  });
  return countOrdering(ordered, renders, 4, RENDER_MS / 2);
}

/**
 * The old poller's order as it decided it: each job's claim and completion as its own table
 * records them (one clock, the database's), not the renderers' start times. Its promise is about
 * claims (every queued job by priority, then age, then the caps, at each tick), and a loaded
 * machine delays an HTTP submit or the completion's write by more than any fixed allowance.
 */
async function pollerOrdering(jobs: BenchJob[], db: BenchDb) {
  const { rows } = await db.db.query<{ id: string; claimed_at: Date | null; completed_at: Date | null }>(
    'select id, claimed_at, completed_at from jobs where id = any($1)',
    [jobs.map((j) => j.id)],
  );
  const renders = rows.flatMap((row) =>
    row.claimed_at
      ? [
          {
            id: row.id,
            pool: poolOf(jobs.find((j) => j.id === row.id)!),
            startedAt: new Date(row.claimed_at).getTime(),
            // Seen by the poller's count at its next tick at the latest.
            finishedAt: row.completed_at
              ? new Date(row.completed_at).getTime() + POLLER_INTERVAL_MS
              : Infinity,
          },
        ]
      : [],
  );
  const ordered = jobs.map((job, i) => {
    const at = i - jobs.length;
    return { id: job.id, pool: poolOf(job), priority: job.priority, submittedAt: at, acceptedAt: at };
  });
  // A tick claims its jobs in one statement: they share one claimed_at, one round.
  return countOrdering(ordered, renders, 4, POLLER_INTERVAL_MS);
}

function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(REDIS);
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('benchmark baselines play by the same rules', () => {
  let sims: Sims;
  let db: BenchDb;
  let watch: RenderWatch;

  beforeEach(async () => {
    sims = await startSims();
    db = await openBenchDb();
    watch = watchRenders(sims.sims);
  });

  afterEach(async () => {
    watch.stop();
    await sims.close();
    await db.close();
  });

  it('old poller: saturated, it keeps 10 total / 4 Manim and claims by priority, then age', async () => {
    // Manim-heavy, so the Manim cap is what binds for part of the run.
    const jobs = jobMix({
      count: 40,
      durationMs: RENDER_MS,
      manimShare: 0.5,
      mixedPriorities: true,
      seed: 3,
    });
    const poller = await startOldPoller({
      db: db.db,
      renderers: createRenderers(sims.urls),
      intervalMs: POLLER_INTERVAL_MS,
      renderPollMs: POLLER_RENDER_POLL_MS,
      paused: true,
    });
    try {
      for (const job of jobs) await insertQueuedJob(db.db, job);
      poller.resume();
      await waitUntil(
        'all old-poller jobs completed',
        async () =>
          (await completedCount(
            db.db,
            jobs.map((j) => j.id),
          )) === jobs.length,
        60_000,
      );
    } finally {
      await poller.stop();
    }
    expect(watch.peak().total).toBe(10);
    expect(watch.peak().manim).toBe(4);
    expect(await pollerOrdering(jobs, db)).toEqual({ inversions: 0, fifoViolations: 0 });
  });

  it('old poller: a render past the timeout is re-queued and rendered again after the retry interval', async () => {
    const [job] = jobMix({ count: 1, durationMs: 60_000, seed: 5 });
    const poller = await startOldPoller({
      db: db.db,
      renderers: createRenderers(sims.urls),
      intervalMs: 100,
      renderPollMs: 50,
      timeoutMs: 500,
      retryIntervalMs: 300,
    });
    try {
      await insertQueuedJob(db.db, job!);
      await waitUntil(
        'a second attempt',
        () => sims.sims[job!.renderer].stats().started.some((s) => s.attempt === 2),
        10_000,
      );
    } finally {
      await poller.stop();
    }
    const { rows } = await db.db.query<{ retry_count: number }>(
      'select retry_count from jobs where id = $1',
      [job!.id],
    );
    expect(rows[0]?.retry_count).toBe(1);
  });

  it('old poller: a job waiting to retry is claimed after its interval even while every change rewrites the queue', async () => {
    // Inserted first, so it is first in order once its retry time has come.
    const failing = { ...benchJob('revideo', 'high', 100) };
    failing.payload = { simulate: { ...failing.payload.simulate, failTimes: 1 } as never };
    const others = jobMix({ count: 40, durationMs: 150, seed: 9 }).map((j) => ({
      ...j,
      priority: 'low' as const,
    }));
    const poller = await startOldPoller({
      db: db.db,
      renderers: createRenderers(sims.urls),
      intervalMs: 50,
      renderPollMs: 25,
      retryIntervalMs: 500,
      paused: true,
    });
    try {
      await insertQueuedJob(db.db, failing);
      for (const job of others) await insertQueuedJob(db.db, job);
      poller.resume();
      await waitUntil(
        'every job to complete',
        async () =>
          (await completedCount(db.db, [failing.id, ...others.map((j) => j.id)])) === others.length + 1,
        30_000,
      );
    } finally {
      await poller.stop();
    }
    // The full position rewrite after every claim and completion touches every queued row; the
    // retry gate must not move with it, or the retry waits for the queue to empty.
    const secondAttempt = sims.sims.revideo
      .stats()
      .started.find((s) => s.jobId === failing.id && s.attempt === 2);
    const lastOther = Math.max(
      ...others.map((j) => sims.sims[j.renderer].stats().started.find((s) => s.jobId === j.id)!.at),
    );
    expect(secondAttempt).toBeDefined();
    expect(secondAttempt!.at).toBeLessThan(lastOther);
  });

  it('BullMQ: saturated, it keeps Manim 4 / general 6 (10 total) and starts by priority, then age', async () => {
    if (!(await redisAnswers())) {
      // CI has Redis (the machine runs it): a missing one there is a broken environment, said by name.
      if (process.env.CI === 'true') {
        throw new Error(
          `Redis is not answering on ${REDIS.host}:${REDIS.port}; CI needs it for the BullMQ baseline`,
        );
      }
      // On a user's machine the bench itself reports BullMQ as skipped without Redis.
      process.stderr.write(
        `${JSON.stringify({ level: 'warn', msg: 'no Redis: BullMQ baseline test skipped' })}\n`,
      );
      return;
    }
    const jobs = jobMix({
      count: 40,
      durationMs: RENDER_MS,
      manimShare: 0.5,
      mixedPriorities: true,
      seed: 3,
    });
    const common = { connection: REDIS, prefix: `test-${randomBytes(4).toString('hex')}`, db: db.db };
    const producer = await bullmqProducer({ ...common, retryIntervalMs: 1000, maxAttempts: 3 });
    const workers = await startBullmqWorkers({
      ...common,
      renderers: createRenderers(sims.urls),
      renderPollMs: 50,
      paused: true,
    });
    try {
      for (const job of jobs) {
        await producer.submit({
          jobId: job.id,
          jobType: job.jobType,
          renderer: job.renderer,
          payload: job.payload,
          priority: job.priority,
        });
      }
      workers.resume();
      await waitUntil(
        'all BullMQ jobs completed',
        async () =>
          (await completedCount(
            db.db,
            jobs.map((j) => j.id),
          )) === jobs.length,
        60_000,
      );
    } finally {
      await workers.close();
      await producer.obliterate();
      await producer.close();
    }
    expect(watch.peak().manim).toBe(4);
    expect(watch.peak().general).toBe(6);
    expect(watch.peak().total).toBeLessThanOrEqual(10);
    // Within each queue; across them its static split cannot keep one order (the bench counts that).
    expect(ordering(jobs, sims, 'manim')).toEqual({ inversions: 0, fifoViolations: 0 });
    expect(ordering(jobs, sims, 'general')).toEqual({ inversions: 0, fifoViolations: 0 });
  });
});
