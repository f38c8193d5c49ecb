/**
 * Queue positions, estimated waits and get_queue_stats(), on every available database. The
 * expected rank is computed here from the rows themselves (priority, created_at, id), so the
 * test checks the SQL against an independent statement of the rule.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { renderJobWorkflowId } from '../../src/shared/constants';
import type { JobStatus, Priority } from '../../src/shared/constants';
import type { JobTransition } from '../../src/shared/job-schema';
import { dbTargets } from '../helpers/db';
import type { OpenedTestDb } from '../helpers/db';

const PRIORITY_RANK: Record<string, number> = { high: 0, medium: 1, low: 2 };

interface QueueRow {
  id: string;
  priority: Priority;
  renderer: string;
  status: JobStatus;
  queue_position: number | null;
  estimated_wait_seconds: number | null;
  /** created_at in microseconds since the epoch, as text: JS Dates drop the microseconds. */
  created_us: string;
}

async function rows(opened: OpenedTestDb): Promise<QueueRow[]> {
  const result = await opened.db.query<QueueRow>(
    `SELECT id::text, priority, renderer, status, queue_position, estimated_wait_seconds,
            (extract(epoch from created_at) * 1000000)::bigint::text AS created_us
     FROM jobs`,
  );
  return result.rows.map((row) => ({
    ...row,
    queue_position: row.queue_position === null ? null : Number(row.queue_position),
    estimated_wait_seconds: row.estimated_wait_seconds === null ? null : Number(row.estimated_wait_seconds),
  }));
}

/** The true dispatch order of the queued rows, by the rule, not by the database. */
function trueOrder(all: QueueRow[]): QueueRow[] {
  return all
    .filter((row) => row.status === 'queued')
    .sort(
      (a, b) =>
        PRIORITY_RANK[a.priority]! - PRIORITY_RANK[b.priority]! ||
        (BigInt(a.created_us) < BigInt(b.created_us)
          ? -1
          : BigInt(a.created_us) > BigInt(b.created_us)
            ? 1
            : 0) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}

async function expectTruePositions(opened: OpenedTestDb): Promise<QueueRow[]> {
  const all = await rows(opened);
  const order = trueOrder(all);
  expect(order.map((row) => row.queue_position)).toEqual(order.map((_, i) => i + 1));
  const unqueued = all.filter((row) => row.status !== 'queued');
  expect(unqueued.map((row) => [row.queue_position, row.estimated_wait_seconds])).toEqual(
    unqueued.map(() => [null, null]),
  );
  return order;
}

/** Inserts queued rows `secondsAgo` in the past, oldest first, so created_at order is known. */
async function enqueue(
  opened: OpenedTestDb,
  jobs: Array<{ priority: Priority; jobType?: string; secondsAgo?: number }>,
): Promise<string[]> {
  const ids: string[] = [];
  for (const job of jobs) {
    const { rows: inserted } = await opened.db.query<{ id: string }>(
      `INSERT INTO jobs (job_type, priority, payload, created_at)
       VALUES ($1, $2, '{}'::jsonb, now() - make_interval(secs => $3)) RETURNING id::text`,
      [job.jobType ?? 'concept_explainer', job.priority, job.secondsAgo ?? 0],
    );
    ids.push(inserted[0]!.id);
  }
  return ids;
}

function transition(
  jobId: string,
  seq: number,
  status: JobStatus,
  extra: Partial<JobTransition> = {},
): JobTransition {
  return {
    jobId,
    seq,
    status,
    workflowId: renderJobWorkflowId(jobId),
    attempt: status === 'queued' ? 0 : 1,
    progress: null,
    error: null,
    result: null,
    startedAt: null,
    completedAt: null,
    ...extra,
  };
}

async function setConfig(opened: OpenedTestDb, values: Record<string, unknown>): Promise<void> {
  const keys = Object.keys(values);
  await opened.db.query(
    `UPDATE job_queue_config SET ${keys.map((key, i) => `${key} = $${i + 1}`).join(', ')} WHERE id = 1`,
    Object.values(values),
  );
}

describe.each(dbTargets())('queue positions ($name)', (target) => {
  let opened: OpenedTestDb;

  beforeAll(async () => {
    opened = await target.open();
  });

  afterAll(async () => {
    await opened?.close();
  });

  beforeEach(async () => {
    await opened.db.query('DELETE FROM jobs');
    // Peak hours off (start = end), so the caps are exactly the configured ones whatever the clock says.
    await setConfig(opened, {
      max_concurrent_renders: 2,
      max_manim_renders: 1,
      peak_hour_start: '00:00',
      peak_hour_end: '00:00',
      peak_worker_multiplier: 1.5,
    });
  });

  test('every queued job gets its rank through enqueue, a high behind lows, start, cancel and completion', async () => {
    const lows = await enqueue(opened, [
      { priority: 'low', secondsAgo: 50 },
      { priority: 'low', secondsAgo: 40 },
      { priority: 'medium', secondsAgo: 30 },
      { priority: 'low', secondsAgo: 20 },
    ]);
    await expectTruePositions(opened);

    const [high] = await enqueue(opened, [{ priority: 'high' }]);
    let order = await expectTruePositions(opened);
    expect(order[0]!.id).toBe(high);

    // The head starts: it leaves the queue, everyone behind moves up one.
    await opened.store.applyTransition(
      transition(high!, 1, 'processing', { startedAt: new Date(Date.now() - 30_000).toISOString() }),
    );
    order = await expectTruePositions(opened);
    expect(order.map((row) => row.id)).not.toContain(high);

    // A queued job in the middle is cancelled.
    await opened.store.applyTransition(
      transition(lows[1]!, 1, 'cancelled', { completedAt: new Date().toISOString() }),
    );
    order = await expectTruePositions(opened);
    expect(order).toHaveLength(3);

    // The running job completes; the queue itself is unchanged and stays ranked.
    await opened.store.applyTransition(
      transition(high!, 2, 'completed', { completedAt: new Date().toISOString(), result: 'https://v/1.mp4' }),
    );
    await expectTruePositions(opened);
    const stored = await opened.store.getJob(high!);
    expect(stored).toMatchObject({ status: 'completed', queuePosition: null, estimatedWaitSeconds: null });
  });

  test('a write that changes no status (progress) leaves the queue untouched', async () => {
    const [running, queued] = await enqueue(opened, [
      { priority: 'high', secondsAgo: 10 },
      { priority: 'low', secondsAgo: 5 },
    ]);
    await opened.store.applyTransition(
      transition(running!, 1, 'processing', { startedAt: new Date().toISOString() }),
    );
    const before = await opened.db.query<{ xmin: string }>('SELECT xmin::text FROM jobs WHERE id = $1', [
      queued,
    ]);
    await opened.store.applyTransition(transition(running!, 2, 'processing', { progress: 0.5 }));
    const after = await opened.db.query<{ xmin: string }>('SELECT xmin::text FROM jobs WHERE id = $1', [
      queued,
    ]);
    expect(after.rows[0]!.xmin).toBe(before.rows[0]!.xmin);
  });

  test('an insert at the end of the queue rewrites no other row', async () => {
    await enqueue(opened, [
      { priority: 'high', secondsAgo: 30 },
      { priority: 'medium', secondsAgo: 20 },
      { priority: 'low', secondsAgo: 10 },
    ]);
    const before = await opened.db.query<{ id: string; xmin: string }>(
      'SELECT id::text, xmin::text FROM jobs',
    );
    await enqueue(opened, [{ priority: 'low' }]);
    const after = await opened.db.query<{ id: string; xmin: string }>(
      'SELECT id::text, xmin::text FROM jobs',
    );
    for (const row of before.rows) {
      expect(after.rows.find((r) => r.id === row.id)?.xmin).toBe(row.xmin);
    }
    await expectTruePositions(opened);
  });

  test('estimates are waves of the cap times the 60 s default, grow with position and shrink when the cap grows', async () => {
    // Six revideo jobs, nothing in flight, no completions: wait = floor((position - 1) / cap) * 60.
    await enqueue(
      opened,
      Array.from({ length: 6 }, (_, i) => ({ priority: 'medium' as const, secondsAgo: 60 - i })),
    );
    let order = await expectTruePositions(opened);
    expect(order.map((row) => row.estimated_wait_seconds)).toEqual([0, 0, 60, 60, 120, 120]);

    await setConfig(opened, { max_concurrent_renders: 3 });
    order = await expectTruePositions(opened);
    expect(order.map((row) => row.estimated_wait_seconds)).toEqual([0, 0, 0, 60, 60, 60]);
  });

  test('a Manim job waits for a Manim slot as well as a total slot, at the recent Manim render time', async () => {
    // One Manim render finished in the last hour, taking 30 s; one Manim render is in flight.
    const [done, running] = await enqueue(opened, [
      { priority: 'high', jobType: 'doubt', secondsAgo: 100 },
      { priority: 'high', jobType: 'doubt', secondsAgo: 90 },
    ]);
    const now = Date.now();
    const startedAt = new Date(now - 40_000).toISOString();
    await opened.store.applyTransition(transition(done!, 1, 'processing', { startedAt }));
    await opened.store.applyTransition(
      transition(done!, 2, 'completed', { completedAt: new Date(now - 10_000).toISOString() }),
    );
    await opened.store.applyTransition(transition(running!, 1, 'processing', { startedAt }));
    await enqueue(opened, [
      { priority: 'medium', jobType: 'doubt', secondsAgo: 30 },
      { priority: 'medium', jobType: 'concept_explainer', secondsAgo: 20 },
      { priority: 'medium', jobType: 'doubt', secondsAgo: 10 },
    ]);
    const order = await expectTruePositions(opened);
    // total cap 2 with 1 busy; manim cap 1 with 1 busy.
    // 1st (manim): max(floor((1+0)/1), floor((1+0)/2)) = 1 wave * 30 s
    // 2nd (revideo): floor((1+1)/2) = 1 wave * 60 s default (no revideo completions)
    // 3rd (manim): max(floor((1+1)/1), floor((1+2)/2)) = 2 waves * 30 s
    expect(order.map((row) => [row.renderer, row.estimated_wait_seconds])).toEqual([
      ['manim', 30],
      ['revideo', 60],
      ['manim', 60],
    ]);
  });

  test('peak hours raise the total cap in the estimates, as the workers do', async () => {
    await enqueue(
      opened,
      Array.from({ length: 4 }, (_, i) => ({ priority: 'medium' as const, secondsAgo: 60 - i })),
    );
    // A window covering the whole day (00:00 to 23:59:59): total cap floor(2 * 1.5) = 3.
    await setConfig(opened, { peak_hour_start: '00:00', peak_hour_end: '23:59:59.999' });
    const order = await expectTruePositions(opened);
    expect(order.map((row) => row.estimated_wait_seconds)).toEqual([0, 0, 0, 60]);
  });

  test('get_queue_stats counts by status, priority and renderer, and averages the last hour', async () => {
    const [a, b, c, d] = await enqueue(opened, [
      { priority: 'high', secondsAgo: 120 },
      { priority: 'low', jobType: 'doubt', secondsAgo: 110 },
      { priority: 'high', secondsAgo: 100 },
      { priority: 'medium', secondsAgo: 90 },
      { priority: 'low', secondsAgo: 80 },
    ]);
    const iso = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString();
    // a: waited 20 s (created 120 s ago, started 100 s ago), rendered 40 s.
    await opened.store.applyTransition(transition(a!, 1, 'processing', { startedAt: iso(100) }));
    await opened.store.applyTransition(transition(a!, 2, 'completed', { completedAt: iso(60) }));
    // b: waited 10 s, still rendering on Manim.
    await opened.store.applyTransition(transition(b!, 1, 'processing', { startedAt: iso(100) }));
    // c: waited 40 s, failed.
    await opened.store.applyTransition(transition(c!, 1, 'processing', { startedAt: iso(60) }));
    await opened.store.applyTransition(transition(c!, 2, 'failed', { completedAt: iso(30), error: 'boom' }));
    await opened.store.applyTransition(transition(d!, 1, 'cancelled', { completedAt: iso(5) }));

    const stats = await opened.store.getQueueStats();
    expect(stats.byStatus).toEqual({ queued: 1, processing: 1, completed: 1, failed: 1, cancelled: 1 });
    expect(stats.queuedByPriority).toEqual({ high: 0, medium: 0, low: 1 });
    expect(stats.processingByRenderer).toEqual({ manim: 1, revideo: 0, orchestrator: 0 });
    expect(stats.lastHour.completed).toBe(1);
    expect(stats.lastHour.failed).toBe(1);
    expect(stats.lastHour.avgRenderSeconds).toBeCloseTo(40, 0);
    expect(stats.lastHour.avgWaitSeconds).toBeCloseTo((20 + 10 + 40) / 3, 0);
    expect(stats.oldestQueuedAgeSeconds).toBeGreaterThanOrEqual(80);
    expect(stats.oldestQueuedAgeSeconds).toBeLessThan(90);
    expect(stats.caps).toEqual({ totalRenders: 2, manimRenders: 1, peak: false });
  });

  test('get_queue_stats on an empty queue reports zeros and nulls', async () => {
    const stats = await opened.store.getQueueStats();
    expect(stats.byStatus.queued).toBe(0);
    expect(stats.oldestQueuedAgeSeconds).toBeNull();
    expect(stats.lastHour).toEqual({ avgWaitSeconds: null, avgRenderSeconds: null, completed: 0, failed: 0 });
  });

  if (target.name === 'postgres') {
    test('concurrent enqueues, starts and cancels from many connections leave every rank true', async () => {
      const pool = new Pool({ connectionString: opened.url, max: 8, query_timeout: 20_000 });
      try {
        const seed = await enqueue(
          opened,
          Array.from({ length: 20 }, (_, i) => ({
            priority: (['high', 'medium', 'low'] as const)[i % 3]!,
            secondsAgo: 100 - i,
          })),
        );
        const ops: Array<Promise<unknown>> = [];
        for (let i = 0; i < 30; i++) {
          const priority = (['high', 'medium', 'low'] as const)[i % 3]!;
          ops.push(
            pool.query(`INSERT INTO jobs (job_type, priority, payload) VALUES ('doubt', $1, '{}')`, [
              priority,
            ]),
          );
        }
        for (const [i, id] of seed.entries()) {
          const status = i % 2 === 0 ? 'processing' : 'cancelled';
          ops.push(
            pool.query(
              `SELECT apply_job_transition($1::uuid, 1, $2, $3, 1, null, null, null, now(), null, null)`,
              [id, status, renderJobWorkflowId(id)],
            ),
          );
        }
        await Promise.all(ops);
        const order = await expectTruePositions(opened);
        expect(order).toHaveLength(30);
      } finally {
        await pool.end();
      }
    });
  }

  test('an unknown time zone or a zero cap in the config does not break inserts', async () => {
    await setConfig(opened, { time_zone: 'Mars/Olympus', max_concurrent_renders: 0 });
    const [id] = await enqueue(opened, [{ priority: 'low' }]);
    expect(await opened.store.getJob(id ?? randomUUID())).toMatchObject({
      queuePosition: 1,
      estimatedWaitSeconds: 0,
    });
    await setConfig(opened, { time_zone: 'UTC', max_concurrent_renders: 2 });
  });
});
