/**
 * get_queue_stats() on every available database: counts by status, priority and renderer, the
 * last hour's averages, and the caps in force (peak hours computed in SQL exactly as admission
 * computes them in workflow time). Queue positions come from admission and are covered by the
 * JobStore contract and test/admission.
 */
import { randomUUID } from 'node:crypto';
import { renderJobWorkflowId } from '../../src/shared/constants';
import type { JobStatus, Priority } from '../../src/shared/constants';
import type { JobTransition } from '../../src/shared/job-schema';
import { dbTargets } from '../../dev/db';
import type { OpenedTestDb } from '../../dev/db';

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

describe.each(dbTargets())('queue stats ($name)', (target) => {
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
      time_zone: 'UTC',
    });
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
    expect(stats.byStatus).toEqual({
      queued: 1,
      processing: 1,
      retrying: 0,
      completed: 1,
      failed: 1,
      cancelled: 1,
    });
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

  test("a worker clock behind the database's shows a zero wait, not a negative one (the stats still parse)", async () => {
    const [a] = await enqueue(opened, [{ priority: 'high', secondsAgo: 0 }]);
    const behind = new Date(Date.now() - 5_000).toISOString();
    await opened.store.applyTransition(transition(a!, 1, 'processing', { startedAt: behind }));
    const stats = await opened.store.getQueueStats();
    expect(stats.lastHour.avgWaitSeconds).toBe(0);
    expect(stats.byStatus.processing).toBe(1);
  });

  test('get_queue_stats on an empty queue reports zeros and nulls', async () => {
    const stats = await opened.store.getQueueStats();
    expect(stats.byStatus.queued).toBe(0);
    expect(stats.oldestQueuedAgeSeconds).toBeNull();
    expect(stats.lastHour).toEqual({ avgWaitSeconds: null, avgRenderSeconds: null, completed: 0, failed: 0 });
  });

  test('peak hours raise the total cap the stats report, never the Manim cap', async () => {
    // A window covering the whole day (00:00 to 23:59:59): total cap floor(2 * 1.5) = 3.
    await setConfig(opened, { peak_hour_start: '00:00', peak_hour_end: '23:59:59.999' });
    expect((await opened.store.getQueueStats()).caps).toEqual({
      totalRenders: 3,
      manimRenders: 1,
      peak: true,
    });
  });

  test('a retrying job is counted as retrying, not as queued or processing', async () => {
    const [id] = await enqueue(opened, [{ priority: 'high' }]);
    await opened.store.applyTransition(transition(id!, 1, 'processing'));
    await opened.store.applyTransition(
      transition(id!, 2, 'retrying', { error: 'boom', nextAttemptAt: new Date().toISOString() }),
    );
    const stats = await opened.store.getQueueStats();
    expect(stats.byStatus).toMatchObject({ queued: 0, processing: 0, retrying: 1 });
  });

  test('an unknown time zone or a zero cap in the config breaks neither inserts nor the stats', async () => {
    await setConfig(opened, { time_zone: 'Mars/Olympus', max_concurrent_renders: 0 });
    const [id] = await enqueue(opened, [{ priority: 'low' }]);
    expect(await opened.store.getJob(id ?? randomUUID())).toMatchObject({ status: 'queued' });
    expect((await opened.store.getQueueStats()).caps).toEqual({
      totalRenders: 1,
      manimRenders: 1,
      peak: false,
    });
  });
});
