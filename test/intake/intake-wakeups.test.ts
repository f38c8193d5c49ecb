/**
 * Intake woken on insert, on the dev server: rows inserted with plain SQL, as the frontend does,
 * wake every worker's intake at once (LISTEN/NOTIFY on PostgreSQL, in-process on PGlite) and are
 * rendered; one long-running safety sweep catches what no wake-up reached, without a workflow per
 * tick in the Web UI.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  INTAKE_SWEEP_WORKFLOW_ID,
  LEGACY_INTAKE_SCHEDULE_ID,
  ensureIntakeSweep,
} from '../../src/jobs/intake-sweep';
import { renderJobWorkflowId } from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { startStack } from '../../dev/stack';
import type { Stack } from '../../dev/stack';

let env: TestWorkflowEnvironment;
let stack: Stack;

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, { simulator: { defaultDurationMs: 200, progressSteps: 2 }, intake: true });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

async function frontendInsert(jobType: string, payload: unknown, priority = 'medium'): Promise<string> {
  const id = randomUUID();
  await stack.db.query(
    `INSERT INTO jobs (id, job_type, priority, payload, user_id) VALUES ($1, $2, $3, $4::jsonb, $5)`,
    [id, jobType, priority, JSON.stringify(payload), randomUUID()],
  );
  return id;
}

test('a row inserted with plain SQL wakes intake at once: it renders with no sweep and no CLI call', async () => {
  // No sweep runs in this file until the last test: the insert's NOTIFY is the only way in.
  const jobId = await frontendInsert('concept_explainer', { topic: 'Photosynthesis' }, 'low');
  const row = await eventually(
    'the inserted row to be completed',
    async () => {
      const r = await stack.store.getJob(jobId);
      return r?.status === 'completed' ? r : undefined;
    },
    10_000,
    50,
  );
  expect(row).toMatchObject({ workflowId: renderJobWorkflowId(jobId), queuePosition: null });
  expect(row.result).toMatch(/^https?:\/\//);
});

test('a burst of inserts in one statement is taken up in insertion order, by one wake-up', async () => {
  stack.sims.revideo.hold();
  try {
    const ids = Array.from({ length: 5 }, () => randomUUID());
    await stack.db.query(
      `INSERT INTO jobs (id, job_type, priority, payload, user_id, created_at)
       SELECT id, 'concept_explainer', 'medium', '{}'::jsonb, $2::uuid, now() + (ord * interval '1 ms')
       FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, ord)`,
      [ids, randomUUID()],
    );
    const rows = await eventually(
      'every row accepted by admission',
      async () => {
        const found = await Promise.all(ids.map((id) => stack.store.getJob(id)));
        return found.every((r) => r?.acceptedAt) ? found : undefined;
      },
      15_000,
    );
    const accepted = rows.map((r) => Date.parse(r!.acceptedAt!));
    expect(accepted).toEqual([...accepted].sort((a, b) => a - b));
  } finally {
    stack.sims.revideo.release();
  }
});

test('the safety sweep is one long-running workflow, started once, and retires the old schedule', async () => {
  // The schedule intake ran on before it woke on inserts, as an upgraded namespace still has it.
  await env.client.schedule.create({
    scheduleId: LEGACY_INTAKE_SCHEDULE_ID,
    spec: { intervals: [{ every: '1h' }] },
    action: { type: 'startWorkflow', workflowType: 'intakeJobs', taskQueue: 'render-jobs-high', args: [] },
  });
  await ensureIntakeSweep(env.client, { intervalSeconds: 1 });
  // Idempotent: a second worker starting finds it running.
  await ensureIntakeSweep(env.client, { intervalSeconds: 1 });
  await expect(env.client.schedule.getHandle(LEGACY_INTAKE_SCHEDULE_ID).describe()).rejects.toThrow();

  const sweeps: string[] = [];
  for await (const run of env.client.workflow.list({
    query: `WorkflowId = '${INTAKE_SWEEP_WORKFLOW_ID}' AND ExecutionStatus = 'Running'`,
  })) {
    sweeps.push(run.runId);
  }
  expect(sweeps).toHaveLength(1);

  // A row no wake-up reached (inserted while the listener was away) is found by the sweep.
  await stack.intake!.stop();
  const jobId = await frontendInsert('doubt', { q: 'missed wake-up' });
  await eventually(
    'the sweep to take up the row',
    async () => (await stack.store.getJob(jobId))?.workflowId,
    30_000,
  );

  // However many rows came in, intake started no workflow of its own besides the sweep: the Web
  // UI's list is render jobs, admission and the sweep.
  const types = new Set<string>();
  for await (const run of env.client.workflow.list({ query: "WorkflowType != 'renderJob'" })) {
    types.add(
      `${run.type}:${run.workflowId.startsWith('render-queue-intake-manual-') ? 'manual' : run.workflowId}`,
    );
  }
  expect([...types].filter((t) => !t.endsWith(':manual')).sort()).toEqual([
    `intakeSweep:${INTAKE_SWEEP_WORKFLOW_ID}`,
    'renderAdmission:render-queue-admission',
  ]);
});
