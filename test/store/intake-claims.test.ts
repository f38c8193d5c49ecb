/**
 * The SQL side of intake (claim_intake_jobs, mark_intake_started, mark_intake_rejected) through
 * the JobStore port, on every available database.
 */
import { randomUUID } from 'node:crypto';
import { JobStoreConstraintError } from '../../src/store/job-store';
import { dbTargets } from '../../dev/db';
import type { OpenedTestDb } from '../../dev/db';

describe.each(dbTargets())('intake claims ($name)', (target) => {
  let opened: OpenedTestDb;

  beforeAll(async () => {
    opened = await target.open();
  });

  afterAll(async () => {
    await opened?.close();
  });

  beforeEach(async () => {
    await opened.db.query('DELETE FROM jobs');
  });

  async function insert(
    priority: string,
    secondsAgo: number,
    workflowId: string | null = null,
  ): Promise<string> {
    const { rows } = await opened.db.query<{ id: string }>(
      `INSERT INTO jobs (job_type, priority, payload, workflow_id, created_at)
       VALUES ('doubt', $1, '{}', $2, now() - make_interval(secs => $3)) RETURNING id::text`,
      [priority, workflowId, secondsAgo],
    );
    return rows[0]!.id;
  }

  test('claims unowned queued rows in dispatch order, each once, skipping rows a workflow owns', async () => {
    const low = await insert('low', 30);
    const high = await insert('high', 10);
    const medium = await insert('medium', 20);
    await insert('high', 40, 'render-job-owned');
    const first = await opened.store.claimIntakeJobs(2);
    expect(first.map((row) => row.id)).toEqual([high, medium]);
    const second = await opened.store.claimIntakeJobs(2);
    expect(second.map((row) => row.id)).toEqual([low]);
    expect(await opened.store.claimIntakeJobs(2)).toEqual([]);
  });

  test('a claim older than 2 minutes is claimable again (a crashed intake run)', async () => {
    const id = await insert('medium', 5);
    expect(await opened.store.claimIntakeJobs(5)).toHaveLength(1);
    await opened.db.query(`UPDATE jobs SET claimed_at = now() - interval '119 seconds' WHERE id = $1`, [id]);
    expect(await opened.store.claimIntakeJobs(5)).toHaveLength(0);
    await opened.db.query(`UPDATE jobs SET claimed_at = now() - interval '121 seconds' WHERE id = $1`, [id]);
    expect((await opened.store.claimIntakeJobs(5)).map((row) => row.id)).toEqual([id]);
  });

  test('mark started records the workflow once; the row is then neither claimable nor rejectable', async () => {
    const id = await insert('high', 5);
    await opened.store.claimIntakeJobs(5);
    expect(await opened.store.markIntakeStarted(id, 'render-job-a')).toBe(true);
    expect(await opened.store.markIntakeStarted(id, 'render-job-b')).toBe(false);
    expect(await opened.store.markIntakeRejected(id, 'too late')).toBe(false);
    expect(await opened.store.getJob(id)).toMatchObject({
      status: 'queued',
      workflowId: 'render-job-a',
      error: null,
    });
    await opened.db.query(`UPDATE jobs SET claimed_at = now() - interval '1 hour' WHERE id = $1`, [id]);
    expect(await opened.store.claimIntakeJobs(5)).toEqual([]);
  });

  test('mark rejected fails the row with the reason and takes it out of the queue', async () => {
    const id = await insert('low', 5);
    expect(await opened.store.markIntakeRejected(id, 'invalid job: payload: too big')).toBe(true);
    const row = await opened.store.getJob(id);
    expect(row).toMatchObject({
      status: 'failed',
      error: 'invalid job: payload: too big',
      queuePosition: null,
    });
    expect(row?.completedAt).not.toBeNull();
    expect(await opened.store.markIntakeRejected(id, 'again')).toBe(false);
  });

  test('bad arguments are refused naming the field', async () => {
    await expect(opened.store.claimIntakeJobs(0)).rejects.toThrow(
      /limit must be an integer between 1 and 1000/,
    );
    await expect(opened.store.markIntakeStarted('nope', 'w')).rejects.toThrow(JobStoreConstraintError);
    await expect(opened.store.markIntakeStarted(randomUUID(), '')).rejects.toThrow(/workflowId is required/);
  });
});
