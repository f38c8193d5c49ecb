/**
 * The frontend's path on Supabase, end to end: the production worker runtime reaching the read
 * model over REST (the PostgREST-subset test server, with its Realtime stand-in), a user who
 * inserts jobs with their own key and reads their rows back through the REST API, as the
 * frontend does. Intake wakes on Realtime inserts; every status a row goes through tells the
 * truth when the user reads it; the queue gauges are filled on Supabase too.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rerunJob } from '../../src/jobs/rerun';
import { loadEnv } from '../../src/config/env';
import { JsonLogger } from '../../src/observability/logger';
import { ADMISSION_WORKFLOW_ID, renderJobWorkflowId } from '../../src/shared/constants';
import { admissionConfigChangedSignal } from '../../src/shared/admission-messages';
import { startStackSimulators } from '../../dev/stack';
import type { AllSimulators } from '../../dev/simulator/start-all';
import { startWorkerRuntime } from '../../src/worker/runtime';
import type { WorkerRuntime } from '../../src/worker/runtime';
import { postgresAvailable } from '../../dev/db';
import { openSupabaseTestTarget } from '../helpers/postgrest-test-server';
import type { SupabaseTestTarget } from '../helpers/postgrest-test-server';
import { devServerEnv, eventually } from '../../dev/temporal';

// The REST stand-in runs one transaction per request on PostgreSQL (postgresAvailable() fails CI without it).
const maybe = postgresAvailable() ? describe : describe.skip;

/** A row as the frontend reads it: the REST API's snake_case JSON. */
interface FrontendRow {
  id: string;
  status: string;
  priority: string;
  queue_position: number | null;
  estimated_start_at: string | null;
  next_attempt_at: string | null;
  accepted_at: string | null;
  retry_count: number;
  error: string | null;
  result: string | null;
  started_at: string | null;
  completed_at: string | null;
}

maybe('the frontend path on Supabase', () => {
  let env: TestWorkflowEnvironment;
  let target: SupabaseTestTarget;
  let sims: AllSimulators;
  let runtime: WorkerRuntime;
  let running: Promise<void>;
  const user = randomUUID();

  beforeAll(async () => {
    env = await devServerEnv();
    target = await openSupabaseTestTarget({ realtime: true });
    // One render at a time, retries 3 s apart, so every status can be caught and read.
    await target.db.query(
      `UPDATE job_queue_config SET max_concurrent_renders = 1, max_manim_renders = 1,
         peak_hour_start = '00:00', peak_hour_end = '00:00', retry_interval_minutes = 0.05`,
    );
    sims = await startStackSimulators({
      defaultDurationMs: 300,
    });
    const workerEnv = loadEnv({
      TEMPORAL_ADDRESS: env.address,
      SUPABASE_URL: target.server.url,
      SUPABASE_SERVICE_ROLE_KEY: target.server.serviceRoleKey,
      MANIM_API_URL: sims.urls.manim,
      REVIDEO_API_URL: sims.urls.revideo,
      ORCHESTRATOR_API_URL: sims.urls.orchestrator,
      // An hour between safety sweeps: in this file, only Realtime wakes intake.
      INTAKE_INTERVAL_SECONDS: '3600',
      CONFIG_REFRESH_SECONDS: '1',
      WORKER_SHUTDOWN_GRACE_SECONDS: '1',
    });
    runtime = await startWorkerRuntime({
      env: workerEnv,
      logger: new JsonLogger('ERROR'),
      listenForSighup: false,
    });
    running = runtime.run();
    await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(admissionConfigChangedSignal);
  }, 120_000);

  afterAll(async () => {
    runtime?.shutdown();
    await running;
    await sims?.close();
    await target?.close();
    await env?.teardown();
  });

  /** The REST API as the user's browser calls it, with the user's own key. */
  async function rest(method: string, path: string, body?: unknown, key = target.server.userKey(user)) {
    const response = await fetch(`${target.server.url}/rest/v1/${path}`, {
      method,
      headers: {
        apikey: key,
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        prefer: 'return=representation',
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
  }

  async function insert(
    jobType: string,
    payload: Record<string, unknown>,
    priority = 'medium',
  ): Promise<string> {
    const reply = await rest('POST', 'jobs', { job_type: jobType, priority, payload, user_id: user });
    expect(reply.status).toBe(201);
    return (reply.json as FrontendRow[])[0]!.id;
  }

  async function read(jobId: string): Promise<FrontendRow> {
    const reply = await rest('GET', `jobs?select=*&id=eq.${jobId}`);
    expect(reply.status).toBe(200);
    return (reply.json as FrontendRow[])[0]!;
  }

  const until = (what: string, jobId: string, check: (row: FrontendRow) => boolean, timeoutMs = 20_000) =>
    eventually(
      what,
      async () => {
        const row = await read(jobId);
        return check(row) ? row : undefined;
      },
      timeoutMs,
      50,
    );

  test('an insert with the user key wakes intake through Realtime; the row walks queued → processing → retrying → processing → completed, truthfully at each step', async () => {
    expect(target.server.realtime!.connections).toBeGreaterThan(0);
    sims.simulators.revideo.hold();
    // The one slot is taken, so the next job waits with a position and an estimated start.
    const blocker = await insert('concept_explainer', { q: 'blocker' });
    await until('the blocker to render', blocker, (r) => r.status === 'processing');
    const jobId = await insert('concept_explainer', { q: 'walk', simulate: { failTimes: 1 } });

    try {
      const queued = await until(
        'a queue position',
        jobId,
        (r) => r.queue_position !== null && r.accepted_at !== null,
      );
      expect(queued).toMatchObject({ status: 'queued', queue_position: 1, retry_count: 0, error: null });
      expect(Date.parse(queued.estimated_start_at!)).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      sims.simulators.revideo.release();
    }
    // Attempt 1's submit gets a 500: the job waits its retry interval holding no slot.
    const retrying = await until('retrying', jobId, (r) => r.status === 'retrying');
    expect(retrying.error).toMatch(/^RendererUnavailable: revideo failed \(500/);
    expect(retrying.retry_count).toBe(0);
    expect(Date.parse(retrying.next_attempt_at!)).toBeGreaterThan(Date.parse(retrying.started_at!));
    expect(retrying.queue_position).toBeNull();

    const second = await until(
      'attempt 2',
      jobId,
      (r) => r.status === 'processing' || r.status === 'completed',
    );
    expect(second.retry_count).toBe(1);
    expect(second.next_attempt_at).toBeNull();

    const done = await until('completed', jobId, (r) => r.status === 'completed');
    expect(done).toMatchObject({
      retry_count: 1,
      error: null,
      queue_position: null,
      estimated_start_at: null,
    });
    expect(done.result).toMatch(/^https?:\/\//);
    expect(done.completed_at).not.toBeNull();
  });

  test('a terminated job and a cancelled one end with their reason; a row intake refused is re-runnable once fixed', async () => {
    sims.simulators.manim.hold();
    try {
      const held = await insert('doubt', { q: 'terminated' });
      await until('the job to render', held, (r) => r.status === 'processing');
      await env.client.workflow.getHandle(renderJobWorkflowId(held)).terminate('stopped by an operator');
      const failed = await until('failed with the reason', held, (r) => r.status === 'failed', 60_000);
      expect(failed.error).toContain('stopped by an operator');
    } finally {
      sims.simulators.manim.release();
    }

    const cancelled = await insert('doubt', { q: 'cancelled', simulate: { durationMs: 30_000 } });
    await until('rendering', cancelled, (r) => r.status === 'processing');
    await env.client.workflow.getHandle(renderJobWorkflowId(cancelled)).cancel();
    await until('cancelled', cancelled, (r) => r.status === 'cancelled');

    // A payload the database stores but the job schema refuses (too deep), then fixed by an operator.
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i += 1) deep = { deep };
    const refused = await insert('doubt', deep);
    const rejected = await until('refused by intake', refused, (r) => r.status === 'failed');
    expect(rejected.error).toMatch(/^invalid job: payload/);
    await target.db.query(`UPDATE jobs SET payload = '{"q":"fixed"}' WHERE id = $1`, [refused]);
    // Re-run, as `render-queue retry` does with a database configured: re-queued, validated again.
    expect(await rerunJob(env.client, refused, { store: runtime.store })).toEqual({ kind: 'requeued' });
    const rerun = await until('the fixed row to complete', refused, (r) => r.status === 'completed');
    expect(rerun.error).toBeNull();
  }, 120_000);

  test('a job type added to job_types renders end to end, with no code change', async () => {
    await target.db.query(
      `INSERT INTO job_types (name, default_renderer) VALUES ('formula_sheet', 'orchestrator') ON CONFLICT DO NOTHING`,
    );
    const jobId = await insert('formula_sheet', { topic: 'trigonometry' });
    const done = await until('the new type to complete', jobId, (r) => r.status === 'completed');
    expect(done.result).toMatch(/^https?:\/\//);
    // The orchestrator was asked to run the pipeline named after the type.
    expect(sims.simulators.orchestrator.ledger.some((c) => c.method === 'POST' && c.jobId === jobId)).toBe(
      true,
    );
  });

  test('the queue gauges are filled on Supabase, through the JobStore', async () => {
    const text = await runtime.metrics.registry.metrics();
    const value = (series: string) => Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('render_queue_jobs\\{status="completed"\\}')).toBeGreaterThanOrEqual(2);
    expect(value('render_queue_jobs\\{status="cancelled"\\}')).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite(value('render_queue_depth\\{priority="medium"\\}'))).toBe(true);
    expect(Number.isFinite(value('render_queue_oldest_queued_seconds'))).toBe(true);
  });
});
