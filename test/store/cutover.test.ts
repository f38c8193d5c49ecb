/**
 * Cutover from the Phase-2 system (docs/CUTOVER.md): a database built as the old system documents
 * it (its `jobs` and `job_queue_config`, the `update_queue_positions()` trigger and
 * `get_queue_stats()`), filled with queued, stuck and finished rows, is migrated: every row is
 * kept, the old machinery is gone, the old policy carried over, and the queued and stuck jobs
 * then run to completion on the dev server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { openJobStore } from '../../src/store/open-store';
import type { OpenedJobStore } from '../../src/store/open-store';
import type { Queryable } from '../../src/store/migrate';
import { createTestDatabase, postgresAvailable, withDatabase } from '../../dev/db';
import { devServerEnv, eventually } from '../../dev/temporal';
import { startStack } from '../../dev/stack';

/** The Phase-2 schema, as its documentation gives it. */
const PHASE2_SCHEMA = `
create table jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid,
  job_type text not null,
  priority text not null default 'medium',
  status text not null default 'queued',
  payload jsonb not null default '{}',
  retry_count int not null default 0,
  error_message text,
  video_url text,
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  queue_position int
);
create table job_queue_config (
  id uuid primary key default gen_random_uuid(),
  max_concurrent_renders int not null default 10,
  max_manim_renders int not null default 4,
  job_timeout_minutes int not null default 10,
  retry_interval_minutes int not null default 5,
  peak_hour_start time not null default '06:00',
  peak_hour_end time not null default '21:00',
  peak_worker_multiplier numeric not null default 1.5
);
insert into job_queue_config default values;
create function update_queue_positions() returns trigger language plpgsql as $$
begin
  update jobs j set queue_position = r.pos
  from (select id, row_number() over (order by case priority when 'high' then 0 when 'medium' then 1 else 2 end, created_at) as pos
        from jobs where status = 'queued') r
  where j.id = r.id;
  return null;
end $$;
create trigger update_queue_positions_trigger
  after insert or update of status on jobs
  for each statement execute function update_queue_positions();
create function get_queue_stats() returns table (status text, total bigint) language sql as $$
  select status, count(*) from jobs group by status
$$;
`;

/** Rows as the old poller left them when it was stopped: queued, stuck in processing, finished. */
const PHASE2_ROWS = `
insert into jobs (id, job_type, priority, status, payload, retry_count, started_at, created_at, error_message, video_url, completed_at) values
  ('00000000-0000-4000-8000-000000000001', 'doubt', 'high', 'queued', '{"question":"q1"}', 0, null, now() - interval '10 minutes', null, null, null),
  ('00000000-0000-4000-8000-000000000002', 'concept_explainer', 'low', 'queued', '{"topic":"q2"}', 0, null, now() - interval '9 minutes', null, null, null),
  ('00000000-0000-4000-8000-000000000003', 'solution_walkthrough', 'medium', 'queued', '{"problem":"q3"}', 1, null, now() - interval '8 minutes', null, null, null),
  ('00000000-0000-4000-8000-000000000004', 'doubt', 'medium', 'processing', '{"question":"stuck"}', 0, now() - interval '30 minutes', now() - interval '31 minutes', null, null, null),
  ('00000000-0000-4000-8000-000000000005', 'revision_summary', 'high', 'processing', '{"chapter":"stuck"}', 2, now() - interval '20 minutes', now() - interval '25 minutes', null, null, null),
  ('00000000-0000-4000-8000-000000000006', 'doubt', 'high', 'completed', '{"question":"done"}', 0, now() - interval '2 hours', now() - interval '3 hours', null, 'https://cdn.example/v/6.mp4', now() - interval '110 minutes'),
  ('00000000-0000-4000-8000-000000000007', 'concept_explainer', 'medium', 'completed', '{"topic":"done"}', 1, now() - interval '2 hours', now() - interval '3 hours', null, 'https://cdn.example/v/7.mp4', now() - interval '100 minutes'),
  ('00000000-0000-4000-8000-000000000008', 'doubt', 'low', 'failed', '{"question":"bad"}', 3, now() - interval '2 hours', now() - interval '3 hours', 'render crashed', null, now() - interval '90 minutes');
update job_queue_config set max_concurrent_renders = 8, peak_hour_start = '07:00', peak_hour_end = '22:00', peak_worker_multiplier = 2.0;
`;

const RUNNABLE = ['1', '2', '3', '4', '5'].map((n) => `00000000-0000-4000-8000-00000000000${n}`);

async function exec(db: Queryable, sql: string): Promise<void> {
  if (db.exec) await db.exec(sql);
  else await db.query(sql);
}

/** A Phase-2 database, built and filled, then opened (and so migrated) by this project. */
async function adoptPglite(dir: string): Promise<OpenedJobStore> {
  const nodeModule = process.getBuiltinModule?.('node:module') ?? { createRequire };
  const { PGlite: PGliteClass } = nodeModule.createRequire(__filename)('@electric-sql/pglite') as {
    PGlite: { create(dir: string): Promise<PGlite> };
  };
  const raw = await PGliteClass.create(dir);
  await raw.exec(PHASE2_SCHEMA);
  await raw.exec(PHASE2_ROWS);
  await raw.close();
  return openJobStore({ PGLITE_DIR: dir });
}

async function expectAdopted(opened: OpenedJobStore): Promise<void> {
  const { db, store } = opened;
  const rows = (
    await db.query<{
      id: string;
      status: string;
      retry_count: number;
      error: string | null;
      result: string | null;
      workflow_id: string | null;
      renderer: string;
      priority: string;
    }>(
      'select id::text, status, retry_count, error, result, workflow_id, renderer, priority from jobs order by id',
    )
  ).rows;
  expect(rows).toHaveLength(8);
  const byId = (n: number) => rows.find((r) => r.id.endsWith(`${n}`))!;
  // Queued, and the stuck `processing` rows, wait for intake; nothing owns them yet.
  for (const n of [1, 2, 3, 4, 5]) expect(byId(n)).toMatchObject({ status: 'queued', workflow_id: null });
  expect(byId(1)).toMatchObject({ priority: 'high', renderer: 'manim' });
  expect(byId(5)).toMatchObject({ retry_count: 2, renderer: 'revideo' });
  expect(byId(6)).toMatchObject({ status: 'completed', result: 'https://cdn.example/v/6.mp4' });
  expect(byId(8)).toMatchObject({ status: 'failed', error: 'render crashed', retry_count: 3 });
  // The old policy carried over.
  expect(await store.readQueueConfig()).toMatchObject({
    maxConcurrentRenders: 8,
    peakHourStart: '07:00',
    peakHourEnd: '22:00',
    peakWorkerMultiplier: 2,
  });
  // The old machinery is gone: no per-change rewrite, and the stats call is this project's.
  const fns = await db.query<{ name: string }>(
    `select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'public' and p.proname = 'update_queue_positions'`,
  );
  expect(fns.rows).toEqual([]);
  expect((await store.getQueueStats()).byStatus).toMatchObject({ queued: 5, completed: 2, failed: 1 });
  // The old tables wait, untouched, for the operator's check.
  expect((await db.query('select 1 from phase2_jobs')).rows).toHaveLength(8);
  // Migrating again changes nothing.
  expect(opened.appliedMigrations.length).toBeGreaterThan(0);
}

test('PGlite: a Phase-2 database is adopted with every row kept and the old machinery gone', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rq-phase2-'));
  try {
    const opened = await adoptPglite(dir);
    try {
      await expectAdopted(opened);
    } finally {
      await opened.close();
    }
    // Re-opening (the migrations run again) keeps everything as it is.
    const again = await openJobStore({ PGLITE_DIR: dir });
    try {
      expect(again.appliedMigrations).toEqual([]);
      expect((await again.db.query('select 1 from jobs')).rows).toHaveLength(8);
    } finally {
      await again.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

(postgresAvailable() ? describe : describe.skip)('PostgreSQL: cutover, then the workers run it', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await devServerEnv();
  });

  afterAll(async () => {
    await env?.teardown();
  });

  test('the queued and stuck Phase-2 jobs run to completion once a worker starts; finished ones stay as they were', async () => {
    const database = await createTestDatabase();
    const raw = new Pool({ connectionString: database.url, max: 1 });
    await exec(raw, PHASE2_SCHEMA);
    await exec(raw, PHASE2_ROWS);
    await raw.end();
    const opened = await openJobStore({ DATABASE_URL: database.url });
    await expectAdopted(opened);
    const stack = await startStack(env, {
      intake: true,
      simulator: { defaultDurationMs: 200, progressSteps: 2 },
      db: withDatabase(opened, database),
    });
    try {
      const done = await eventually(
        'every runnable Phase-2 job to complete',
        async () => {
          const rows = await Promise.all(RUNNABLE.map((id) => stack.store.getJob(id)));
          return rows.every((r) => r?.status === 'completed') ? rows : undefined;
        },
        60_000,
        200,
      );
      expect(done.map((r) => r!.result)).toEqual(RUNNABLE.map(() => expect.stringMatching(/^https?:\/\//)));
      // The finished ones were not run again.
      const finished = await stack.store.getJob('00000000-0000-4000-8000-000000000006');
      expect(finished).toMatchObject({
        status: 'completed',
        result: 'https://cdn.example/v/6.mp4',
        workflowId: null,
      });
      expect(
        Object.values(stack.sims).some((sim) =>
          sim.ledger.some((c) => c.jobId === '00000000-0000-4000-8000-000000000006'),
        ),
      ).toBe(false);
    } finally {
      await stack.close();
    }
  }, 120_000);
});
