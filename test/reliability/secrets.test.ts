/**
 * Secrets never leak. Two worker processes run jobs (success, failures, a cancel, intake, and a
 * database outage that makes them log errors) with recognisable fake secrets configured: one on
 * the Supabase adapter (service-role key), one on DATABASE_URL with a password. Then everything
 * they produced is scanned: their logs, every workflow history (inputs and payloads decoded),
 * search attributes and memos, the schedule, the rows, failed start-ups and the CLI's output.
 */
import { randomBytes } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { cancelJob, submitJob } from '../../src/jobs/submit';
import { LIMITS } from '../../src/shared/constants';
import type { AllSimulators } from '../../dev/simulator/start-all';
import { startStackSimulators } from '../../dev/stack';
import { runCli } from '../helpers/cli';
import { postgresAvailable } from '../../dev/db';
import { openSupabaseTestTarget } from '../helpers/postgrest-test-server';
import type { SupabaseTestTarget } from '../helpers/postgrest-test-server';
import { devServerEnv, eventually } from '../../dev/temporal';
import { leaks } from './helpers/secret-scan';
import { startTcpProxy } from './helpers/tcp-proxy';
import type { TcpProxy } from './helpers/tcp-proxy';
import { prebuiltBundle, removePrebuiltBundle, spawnWorker } from './helpers/worker-process';
import type { WorkerProcess } from './helpers/worker-process';

const DB_PASSWORD = `RQ-FAKE-DB-PASSWORD-${randomBytes(6).toString('hex')}`;

const maybe = postgresAvailable() ? describe : describe.skip;

maybe('secrets', () => {
  let env: TestWorkflowEnvironment;
  let target: SupabaseTestTarget;
  let proxy: TcpProxy;
  let simulators: AllSimulators;
  let databaseUrl: string;
  let secrets: Record<string, string>;
  let viaSupabase: WorkerProcess;
  let viaPostgres: WorkerProcess;
  /** Environment common to both workers; each adds its store settings. */
  let common: Record<string, string>;

  beforeAll(async () => {
    env = await devServerEnv();
    target = await openSupabaseTestTarget({ timeoutMs: 2_000 });
    simulators = await startStackSimulators({ defaultDurationMs: 300, progressSteps: 2 });
    // Trust auth ignores the password, so the fake one still connects (through a proxy we can cut).
    proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
    const { rows } = await target.db.query<{ db: string }>('SELECT current_database() AS db');
    databaseUrl = `postgres://postgres:${DB_PASSWORD}@127.0.0.1:${proxy.port}/${rows[0]!.db}`;
    const key = target.server.serviceRoleKey;
    secrets = {
      serviceRoleKey: key,
      serviceRoleKeySignature: key.split('.')[2]!,
      databasePassword: DB_PASSWORD,
    };
    common = {
      TEMPORAL_ADDRESS: env.address,
      MANIM_API_URL: simulators.urls.manim,
      REVIDEO_API_URL: simulators.urls.revideo,
      ORCHESTRATOR_API_URL: simulators.urls.orchestrator,
      INTAKE_INTERVAL_SECONDS: '1',
      CONFIG_REFRESH_SECONDS: '1',
      WORKER_SHUTDOWN_GRACE_SECONDS: '2',
      LOG_LEVEL: 'DEBUG',
      WORKFLOW_BUNDLE_PATH: await prebuiltBundle(),
    };
    // The Supabase worker has DATABASE_URL too (unused: Supabase wins), so its config dump shows both.
    viaSupabase = spawnWorker({
      ...common,
      SUPABASE_URL: target.server.url,
      SUPABASE_SERVICE_ROLE_KEY: key,
      DATABASE_URL: databaseUrl,
    });
    viaPostgres = spawnWorker({ ...common, DATABASE_URL: databaseUrl });
    await Promise.all([
      viaSupabase.waitFor(/"msg":"worker running"/),
      viaPostgres.waitFor(/"msg":"worker running"/),
    ]);
  }, 120_000);

  afterAll(async () => {
    removePrebuiltBundle();
    await viaSupabase?.kill('SIGKILL');
    await viaPostgres?.kill('SIGKILL');
    await simulators?.close();
    await proxy?.close();
    await target?.close();
    await env?.teardown();
  });

  test('jobs run through success, failure, cancellation, intake and a database outage', async () => {
    const submit = (jobType: string, simulate?: Record<string, unknown>) =>
      submitJob(env.client, {
        jobType,
        priority: 'high',
        payload: { q: 'secrets?', ...(simulate ? { simulate } : {}) },
      });
    const started = await Promise.all([
      submit('doubt'),
      submit('concept_explainer'),
      submit('solution_walkthrough'),
      submit('revision_summary', { durationMs: 3000, steps: 6 }),
      submit('doubt', { outcome: 'reject' }),
      submit('concept_explainer', { outcome: 'fail-permanently' }),
      submit('solution_walkthrough', { durationMs: 3000, steps: 6 }),
    ]);
    await target.db.query(
      `INSERT INTO jobs (job_type, payload) VALUES ('doubt', '{"q":"from the frontend"}')`,
    );
    await target.db.query(`INSERT INTO jobs (job_type, payload) VALUES ('doubt', $1::jsonb)`, [
      JSON.stringify({ text: 'x'.repeat(LIMITS.maxPayloadBytes + 1) }),
    ]);
    // Both stores go down mid-run: syncs fail and are logged, then retried.
    target.server.setDown(true);
    proxy.setDown(true);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    target.server.setDown(false);
    proxy.setDown(false);
    const cancelled = started[6]!;
    await cancelJob(env.client, cancelled.jobId);

    await eventually(
      'every job to reach a final state in the read model',
      async () => {
        const { rows } = await target.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE status NOT IN ('completed', 'failed', 'cancelled')`,
        );
        const total = await target.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs`);
        return rows[0]!.n === 0 && total.rows[0]!.n === started.length + 2;
      },
      // A frontend row whose claim answer was lost in the outage waits out intake's 2-minute claim.
      150_000,
      250,
    );
    // The outage really made the workers log database errors (what the scan below must find clean).
    expect(viaSupabase.output() + viaPostgres.output()).toMatch(
      /supabase|ECONNRESET|Connection terminated|ECONNREFUSED|connect/i,
    );
  }, 200_000);

  test('the start-up log shows the configuration with the key and the password redacted', async () => {
    for (const worker of [viaSupabase, viaPostgres]) {
      const line = await worker.waitFor(/"msg":"worker starting"/);
      const { config } = JSON.parse(line) as { config: Record<string, string> };
      expect(config.DATABASE_URL).toMatch(/^postgres:\/\/postgres:\[redacted\]@127\.0\.0\.1:\d+\//);
      if (worker === viaSupabase) expect(config.SUPABASE_SERVICE_ROLE_KEY).toBe('[redacted]');
    }
  });

  test('no secret appears in worker logs, histories, inputs, search attributes, memos, the schedule or the rows', async () => {
    await viaSupabase.kill('SIGTERM');
    await viaPostgres.kill('SIGTERM');
    const histories: unknown[] = [];
    const descriptions: unknown[] = [];
    let workflows = 0;
    for await (const info of env.client.workflow.list()) {
      workflows++;
      const handle = env.client.workflow.getHandle(info.workflowId, info.runId);
      histories.push(await handle.fetchHistory());
      const description = await handle.describe();
      descriptions.push(description.raw, await description.memo, description.typedSearchAttributes);
    }
    expect(workflows).toBeGreaterThanOrEqual(9);
    const schedules: unknown[] = [];
    for await (const schedule of env.client.schedule.list()) {
      schedules.push((await env.client.schedule.getHandle(schedule.scheduleId).describe()).raw);
    }
    const rows = await target.db.query('SELECT * FROM jobs');
    expect(
      leaks(secrets, {
        'the Supabase worker log': viaSupabase.output(),
        'the Postgres worker log': viaPostgres.output(),
        histories,
        'workflow descriptions': descriptions,
        schedules,
        'jobs rows': rows.rows,
      }),
    ).toEqual([]);
  }, 60_000);

  test('a worker that cannot open its store says why without the password or the key', async () => {
    const badDb = spawnWorker({
      ...common,
      DATABASE_URL: `postgres://postgres:${DB_PASSWORD}@127.0.0.1:5432/rq_no_such_database`,
    });
    const badSupabase = spawnWorker({
      ...common,
      SUPABASE_URL: 'http://127.0.0.1:1',
      SUPABASE_SERVICE_ROLE_KEY: secrets.serviceRoleKey!,
    });
    try {
      // Within seconds, on its own: a worker without a store must not linger as a live process.
      const within = (worker: WorkerProcess) =>
        Promise.race([
          worker.exited,
          new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000).unref()),
        ]);
      const [db, supabase] = await Promise.all([within(badDb), within(badSupabase)]);
      expect(db).toEqual({ code: 1, signal: null });
      expect(supabase).toEqual({ code: 1, signal: null });
      expect(badDb.output()).toMatch(
        /"msg":"worker failed","error":"cannot open database postgres:\/\/postgres:\[redacted\]@127\.0\.0\.1:5432\/rq_no_such_database/,
      );
      expect(badSupabase.output()).toMatch(/cannot open Supabase store 127\.0\.0\.1:1/);
      expect(
        leaks(secrets, {
          'failed Postgres start-up': badDb.output(),
          'failed Supabase start-up': badSupabase.output(),
        }),
      ).toEqual([]);
    } finally {
      await badDb.kill('SIGKILL');
      await badSupabase.kill('SIGKILL');
    }
  }, 60_000);

  test('the CLI’s config and queue outputs, and its errors, carry no secret', async () => {
    const supabase = { SUPABASE_URL: target.server.url, SUPABASE_SERVICE_ROLE_KEY: secrets.serviceRoleKey! };
    const results = await Promise.all([
      runCli(['capacity', '--json'], { ...supabase, TEMPORAL_ADDRESS: env.address }),
      runCli(['stats', '--json'], { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: env.address }),
      runCli(['stats'], { DATABASE_URL: `postgres://postgres:${DB_PASSWORD}@127.0.0.1:1/none` }),
      runCli(['capacity'], {
        SUPABASE_URL: 'http://127.0.0.1:1',
        SUPABASE_SERVICE_ROLE_KEY: secrets.serviceRoleKey!,
      }),
    ]);
    expect(results.map((r) => r.code)).toEqual([0, 0, 1, 1]);
    expect(JSON.parse(results[0]!.stdout)).toMatchObject({
      caps: expect.any(Object),
      config: expect.any(Object),
    });
    expect(results[2]!.stderr).toMatch(/postgres:\/\/postgres:(\*\*\*|\[redacted\])@127\.0\.0\.1:1/);
    expect(
      leaks(secrets, Object.fromEntries(results.map((r, i) => [`CLI run ${i}`, `${r.stdout}\n${r.stderr}`]))),
    ).toEqual([]);
  }, 60_000);
});
