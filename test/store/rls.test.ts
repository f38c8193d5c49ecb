/**
 * Row-level security as the frontend meets it: the same roles and JWT claims PostgREST sets
 * (SET ROLE + request.jwt.claims), inside a transaction that is rolled back. Runs on real
 * PostgreSQL and on PGlite (which supports roles and policies too); skipped targets are absent.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Queryable } from '../../src/store/migrate';
import { dbTargets } from '../../dev/db';
import type { OpenedTestDb } from '../../dev/db';

type Role = 'anon' | 'authenticated' | 'service_role';

/** Postgres error code of a refused statement (42501: permission denied / RLS violation). */
async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
}

describe.each(dbTargets())('row-level security ($name)', (target) => {
  let opened: OpenedTestDb;
  let conn: Queryable;
  let pgClient: Client | undefined;
  const alice = randomUUID();
  const bob = randomUUID();
  let aliceJob: string;
  let bobJob: string;

  /**
   * Runs `fn` as `role` with `sub` as the JWT subject, in a transaction that is rolled back, or
   * committed with `commit` (so a write that should have been refused would stay and be seen).
   */
  async function as<T>(role: Role, sub: string | null, fn: () => Promise<T>, commit = false): Promise<T> {
    await conn.query('BEGIN');
    let ok = false;
    try {
      await conn.query(`SET LOCAL ROLE ${role}`);
      await conn.query(`SELECT set_config('request.jwt.claims', $1, true)`, [
        JSON.stringify(sub ? { sub, role } : { role }),
      ]);
      const result = await fn();
      ok = true;
      return result;
    } finally {
      await conn.query(commit && ok ? 'COMMIT' : 'ROLLBACK');
    }
  }

  beforeAll(async () => {
    opened = await target.open();
    if (opened.url) {
      // One connection, so SET LOCAL ROLE and the statements share a session.
      pgClient = new Client({ connectionString: opened.url, query_timeout: 10_000 });
      await pgClient.connect();
      conn = pgClient;
    } else {
      conn = opened.db;
    }
    aliceJob = (await opened.store.insertQueuedJob({ jobType: 'doubt', userId: alice, payload: { q: 'a' } }))
      .id;
    bobJob = (await opened.store.insertQueuedJob({ jobType: 'doubt', userId: bob, payload: { q: 'b' } })).id;
    await opened.store.insertQueuedJob({ jobType: 'doubt', payload: { q: 'nobody' } });
  });

  afterAll(async () => {
    await pgClient?.end();
    await opened?.close();
  });

  test('an authenticated user reads only their own jobs, with their queue position', async () => {
    // Positions are published by admission (the service role); the user reads theirs.
    await opened.store.publishQueuePositions([
      { jobId: bobJob, position: 1, estimatedStartAt: '2026-12-01T10:00:00.000Z' },
      { jobId: aliceJob, position: 2, estimatedStartAt: '2026-12-01T10:01:00.000Z' },
    ]);
    const rows = await as(
      'authenticated',
      alice,
      async () =>
        (await conn.query<{ id: string; queue_position: number }>('SELECT id, queue_position FROM jobs'))
          .rows,
    );
    expect(rows.map((row) => row.id)).toEqual([aliceJob]);
    expect(rows[0]!.queue_position).toBe(2);
  });

  test('an authenticated user can insert their own queued job and reads it back, renderer filled in', async () => {
    const row = await as('authenticated', alice, async () => {
      const { rows } = await conn.query<{ id: string; status: string; renderer: string }>(
        `INSERT INTO jobs (job_type, priority, payload, user_id) VALUES ('doubt', 'high', '{"q":1}', $1)
         RETURNING id, status, renderer`,
        [alice],
      );
      const mine = await conn.query<{ id: string }>('SELECT id FROM jobs WHERE id = $1', [rows[0]!.id]);
      return { ...rows[0]!, visible: mine.rows.length };
    });
    expect(row).toMatchObject({ status: 'queued', renderer: 'manim', visible: 1 });
  });

  test('an authenticated user cannot insert a job for another user', async () => {
    const code = await as('authenticated', alice, () =>
      errorCode(
        conn.query(`INSERT INTO jobs (job_type, payload, user_id) VALUES ('doubt', '{}', $1)`, [bob]),
      ),
    );
    expect(code).toBe('42501');
  });

  test('an authenticated user cannot insert a completed job, a result, a position or a workflow id', async () => {
    for (const [column, value] of [
      ['status', 'completed'],
      ['result', 'https://evil/video.mp4'],
      ['queue_position', '1'],
      ['workflow_id', 'render-job-x'],
    ] as const) {
      const code = await as('authenticated', alice, () =>
        errorCode(
          conn.query(
            `INSERT INTO jobs (job_type, payload, user_id, ${column}) VALUES ('doubt', '{}', $1, $2)`,
            [alice, value],
          ),
        ),
      );
      expect([column, code]).toEqual([column, '42501']);
    }
  });

  test('an authenticated user cannot change status or result of their own job', async () => {
    // Committed, not rolled back: a write the policies let through would still be there below.
    const attempt = (sql: string) =>
      as(
        'authenticated',
        alice,
        async () => {
          await conn.query('SAVEPOINT attempt');
          const code = await errorCode(conn.query(sql, [aliceJob]));
          if (code) await conn.query('ROLLBACK TO SAVEPOINT attempt');
          return code;
        },
        true,
      );
    expect(await attempt(`UPDATE jobs SET status = 'completed', result = 'x' WHERE id = $1`)).toBe('42501');
    expect(await attempt('DELETE FROM jobs WHERE id = $1')).toBe('42501');
    expect(await opened.store.getJob(aliceJob)).toMatchObject({ status: 'queued', result: null });
  });

  test.each(['anon', 'authenticated'] as const)('%s cannot call the service-side functions', async (role) => {
    const calls = [
      `SELECT apply_job_transition('${aliceJob}'::uuid, 9, 'completed', 'w', 1, null, null, 'x', null, now(), null)`,
      'SELECT * FROM claim_intake_jobs(10)',
      `SELECT mark_intake_rejected('${aliceJob}'::uuid, 'no')`,
      `SELECT mark_intake_started('${aliceJob}'::uuid, 'w')`,
      `SELECT publish_queue_positions(ARRAY['${aliceJob}']::uuid[], ARRAY[1], ARRAY[now()])`,
    ];
    for (const sql of calls) {
      const code = await as(role, alice, () => errorCode(conn.query(sql)));
      expect([sql, code]).toEqual([sql, '42501']);
    }
  });

  test('anon and users may call get_queue_stats (aggregates only, over every row), as the old system documents', async () => {
    for (const [role, sub] of [
      ['anon', null],
      ['authenticated', alice],
    ] as const) {
      const stats = await as(
        role,
        sub,
        async () =>
          (await conn.query<{ s: { byStatus: Record<string, number> } }>('SELECT get_queue_stats() AS s'))
            .rows[0]!.s,
      );
      // All three queued rows are counted, not only the caller's own (RLS would show anon none).
      expect([role, stats.byStatus.queued]).toEqual([role, 3]);
      expect(JSON.stringify(stats)).not.toContain(aliceJob);
    }
  });

  test('anon sees no job and cannot insert one', async () => {
    const count = await as('anon', null, async () => (await conn.query('SELECT id FROM jobs')).rows.length);
    expect(count).toBe(0);
    const code = await as('anon', null, () =>
      errorCode(conn.query(`INSERT INTO jobs (job_type, payload) VALUES ('doubt', '{}')`)),
    );
    expect(code).toBe('42501');
  });

  test('the frontend can read job types and (signed in) the queue policy, and change neither', async () => {
    const types = await as(
      'anon',
      null,
      async () => (await conn.query('SELECT name FROM job_types')).rows.length,
    );
    expect(types).toBeGreaterThan(0);
    const config = await as(
      'authenticated',
      alice,
      async () => (await conn.query('SELECT max_concurrent_renders FROM job_queue_config')).rows.length,
    );
    expect(config).toBe(1);
    const code = await as('authenticated', alice, () =>
      errorCode(conn.query('UPDATE job_queue_config SET max_concurrent_renders = 100')),
    );
    expect(code).toBe('42501');
  });

  test('service_role bypasses row-level security and may call the service functions', async () => {
    const { count, stats } = await as('service_role', null, async () => ({
      count: (await conn.query('SELECT id FROM jobs')).rows.length,
      stats: (await conn.query<{ s: { byStatus: { queued: number } } }>('SELECT get_queue_stats() AS s'))
        .rows[0]!.s,
    }));
    expect(count).toBe(3);
    expect(stats.byStatus.queued).toBe(3);
    const applied = await as(
      'service_role',
      null,
      async () =>
        (
          await conn.query<{ applied: boolean }>(
            `SELECT apply_job_transition($1::uuid, 1, 'processing', 'render-job-x', 1, null, null, null, now(), null, null) AS applied`,
            [bobJob],
          )
        ).rows[0]!.applied,
    );
    expect(applied).toBe(true);
  });
});
