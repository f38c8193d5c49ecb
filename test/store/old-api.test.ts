/**
 * The old system's documented calls, as its users make them, through the PostgREST-subset test
 * server over a database migrated by this project, and the security policy of the frontend's
 * own inserts (priority per job type, a per-user cap, disabled types, types added in the
 * database alone). Needs PostgreSQL (the server runs one transaction per request).
 */
import { randomUUID } from 'node:crypto';
import { postgresAvailable } from '../../dev/db';
import { openSupabaseTestTarget } from '../helpers/postgrest-test-server';
import type { SupabaseTestTarget } from '../helpers/postgrest-test-server';

const maybe = postgresAvailable() ? describe : describe.skip;

maybe('the old system API and the frontend insert policy', () => {
  let target: SupabaseTestTarget;

  beforeAll(async () => {
    target = await openSupabaseTestTarget();
  });

  afterAll(async () => {
    await target?.close();
  });

  async function call(
    key: string,
    method: string,
    path: string,
    body?: unknown,
    prefer?: string,
  ): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${target.server.url}${path}`, {
      method,
      headers: {
        apikey: key,
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...(prefer ? { prefer } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
  }

  const insertAs = (key: string, row: Record<string, unknown>) =>
    call(key, 'POST', '/rest/v1/jobs', row, 'return=representation');

  describe('the documented calls work as documented', () => {
    test('POST /rest/v1/jobs with the service key and Prefer: return=representation creates a queued job and returns it', async () => {
      const { status, json } = await insertAs(target.server.serviceRoleKey, {
        job_type: 'doubt',
        priority: 'high',
        status: 'queued',
        payload: { question: 'Why is the sky blue?' },
      });
      expect(status).toBe(201);
      const [row] = json as Array<Record<string, unknown>>;
      expect(row).toMatchObject({
        job_type: 'doubt',
        priority: 'high',
        status: 'queued',
        renderer: 'manim',
        payload: { question: 'Why is the sky blue?' },
        retry_count: 0,
        workflow_id: null,
      });
      expect(row!.id).toEqual(expect.any(String));
    });

    test('POST /rest/v1/rpc/get_queue_stats with the anon key and {} returns the aggregates, and nothing of any job', async () => {
      const secret = `private question ${randomUUID()}`;
      await insertAs(target.server.serviceRoleKey, { job_type: 'doubt', payload: { question: secret } });
      const { status, json } = await call(target.server.anonKey, 'POST', '/rest/v1/rpc/get_queue_stats', {});
      expect(status).toBe(200);
      const stats = json as { byStatus: Record<string, number>; caps: Record<string, unknown> };
      // Every queued job is counted (the function aggregates over all rows), not only anon's (none).
      expect(stats.byStatus.queued).toBeGreaterThanOrEqual(2);
      expect(Object.keys(stats).sort()).toEqual(
        [
          'byStatus',
          'caps',
          'generatedAt',
          'lastHour',
          'oldestQueuedAgeSeconds',
          'processingByRenderer',
          'queuedByPriority',
        ].sort(),
      );
      expect(JSON.stringify(stats)).not.toContain(secret);
    });

    test('GET /rest/v1/jobs?select=*&order=created_at.desc&limit=10 with the anon key returns what anon may see: no job', async () => {
      const { status, json } = await call(
        target.server.anonKey,
        'GET',
        '/rest/v1/jobs?select=*&order=created_at.desc&limit=10',
      );
      expect(status).toBe(200);
      expect(json).toEqual([]);
      // The same call signed in returns that user's own jobs, newest first.
      const user = randomUUID();
      const key = target.server.userKey(user);
      for (const q of ['first', 'second']) {
        expect((await insertAs(key, { job_type: 'doubt', payload: { q }, user_id: user })).status).toBe(201);
      }
      const mine = await call(key, 'GET', '/rest/v1/jobs?select=*&order=created_at.desc&limit=10');
      expect((mine.json as Array<{ payload: { q: string } }>).map((r) => r.payload.q)).toEqual([
        'second',
        'first',
      ]);
    });

    test("the operators' SQL runs as written: counts by status, and config changes by the old statements", async () => {
      const counts = await target.db.query<{ total: string; status: string }>(
        'SELECT COUNT(*) AS total, status FROM jobs GROUP BY status;',
      );
      expect(counts.rows.find((r) => r.status === 'queued')).toBeDefined();
      for (const statement of [
        'UPDATE job_queue_config SET max_concurrent_renders = 15 WHERE id = (SELECT id FROM job_queue_config LIMIT 1);',
        "UPDATE job_queue_config SET peak_hour_start = '07:00' WHERE id = (SELECT id FROM job_queue_config LIMIT 1);",
        "UPDATE job_queue_config SET peak_hour_end = '22:00' WHERE id = (SELECT id FROM job_queue_config LIMIT 1);",
        'UPDATE job_queue_config SET peak_worker_multiplier = 2.0 WHERE id = (SELECT id FROM job_queue_config LIMIT 1);',
      ]) {
        expect((await target.db.query(statement)).rowCount).toBe(1);
      }
      // What the workers read (admission applies it within its next round; tested on the dev server).
      expect(await target.store.readQueueConfig()).toMatchObject({
        maxConcurrentRenders: 15,
        peakHourStart: '07:00',
        peakHourEnd: '22:00',
        peakWorkerMultiplier: 2,
      });
    });
  });

  describe('the security policy of inserts with the frontend keys', () => {
    afterEach(async () => {
      await target.db.query(`UPDATE job_types SET enabled = true, user_priority = 'medium'`);
      await target.db.query('UPDATE job_queue_config SET max_queued_per_user = 20');
    });

    test("a signed-in user's insert gets the priority its job type allows, no higher", async () => {
      const user = randomUUID();
      const key = target.server.userKey(user);
      const asked = await insertAs(key, { job_type: 'doubt', priority: 'high', payload: {}, user_id: user });
      expect(asked.status).toBe(201);
      expect((asked.json as Array<{ priority: string }>)[0]!.priority).toBe('medium');
      const lower = await insertAs(key, { job_type: 'doubt', priority: 'low', payload: {}, user_id: user });
      expect((lower.json as Array<{ priority: string }>)[0]!.priority).toBe('low');
      // The service role opens `high` for this type: users get it from then on.
      await target.db.query(`UPDATE job_types SET user_priority = 'high' WHERE name = 'doubt'`);
      const opened = await insertAs(key, { job_type: 'doubt', priority: 'high', payload: {}, user_id: user });
      expect((opened.json as Array<{ priority: string }>)[0]!.priority).toBe('high');
      // That column is the service's: the frontend cannot read it.
      const peek = await call(key, 'GET', '/rest/v1/job_types?select=name,user_priority');
      expect(peek.status).toBe(403);
    });

    test('a per-user cap on waiting jobs refuses the excess with a clear error, for that user only, writing nothing', async () => {
      await target.db.query('UPDATE job_queue_config SET max_queued_per_user = 2');
      const user = randomUUID();
      const key = target.server.userKey(user);
      for (let i = 0; i < 2; i += 1) {
        expect((await insertAs(key, { job_type: 'doubt', payload: { i }, user_id: user })).status).toBe(201);
      }
      const third = await insertAs(key, { job_type: 'doubt', payload: { i: 2 }, user_id: user });
      expect(third.status).toBe(400);
      expect(third.json).toMatchObject({
        message: expect.stringMatching(/^too many waiting jobs: 2 of 2 allowed/),
      });
      const rows = await target.db.query('SELECT 1 FROM jobs WHERE user_id = $1', [user]);
      expect(rows.rowCount).toBe(2);
      const other = randomUUID();
      expect(
        (await insertAs(target.server.userKey(other), { job_type: 'doubt', payload: {}, user_id: other }))
          .status,
      ).toBe(201);
    });

    test('ten concurrent inserts of one user against a cap of 3 store exactly 3', async () => {
      await target.db.query('UPDATE job_queue_config SET max_queued_per_user = 3');
      const user = randomUUID();
      const key = target.server.userKey(user);
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          insertAs(key, { job_type: 'doubt', payload: { i }, user_id: user }),
        ),
      );
      expect(replies.filter((r) => r.status === 201)).toHaveLength(3);
      expect((await target.db.query('SELECT 1 FROM jobs WHERE user_id = $1', [user])).rowCount).toBe(3);
    });

    test('job_types.enabled = false refuses new jobs of that type, whoever inserts', async () => {
      await target.db.query(`UPDATE job_types SET enabled = false WHERE name = 'revision_summary'`);
      const user = randomUUID();
      for (const key of [target.server.userKey(user), target.server.serviceRoleKey]) {
        const reply = await insertAs(key, { job_type: 'revision_summary', payload: {}, user_id: user });
        expect(reply.status).toBe(400);
        expect(reply.json).toMatchObject({
          message: expect.stringMatching(/job_type "revision_summary" is disabled/),
        });
      }
    });

    test('a job type added to job_types is accepted without a code change, with its default renderer', async () => {
      await target.db.query(
        `INSERT INTO job_types (name, default_renderer) VALUES ('formula_sheet', 'orchestrator') ON CONFLICT DO NOTHING`,
      );
      const user = randomUUID();
      const reply = await insertAs(target.server.userKey(user), {
        job_type: 'formula_sheet',
        payload: { topic: 'trigonometry' },
        user_id: user,
      });
      expect(reply.status).toBe(201);
      expect((reply.json as Array<Record<string, unknown>>)[0]).toMatchObject({
        job_type: 'formula_sheet',
        renderer: 'orchestrator',
        status: 'queued',
      });
      const unknown = await insertAs(target.server.userKey(user), {
        job_type: 'nope',
        payload: {},
        user_id: user,
      });
      expect(unknown.status).toBe(409);
    });
  });
});
