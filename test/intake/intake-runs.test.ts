/**
 * Intake runs on the dev server (the one-off run of `render-queue intake --once`, which the
 * safety sweep repeats): rows inserted with plain SQL, as the frontend does, are claimed once
 * however many runs race, invalid rows are failed with the reason, and a row whose workflow
 * already exists is marked owned. Nothing wakes intake here: the runs are the only way in.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runIntakeOnce } from '../../src/jobs/intake-sweep';
import { LIMITS, renderJobWorkflowId } from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { startStack } from '../../dev/stack';
import type { Stack } from '../../dev/stack';

let env: TestWorkflowEnvironment;
let stack: Stack;

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, { simulator: { defaultDurationMs: 200, progressSteps: 2 } });
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

test('two intake runs at once start one workflow per row, and the render happens once', async () => {
  const jobId = await frontendInsert('doubt', { question: 'twice?' }, 'high');
  const [first, second] = await Promise.all([runIntakeOnce(env.client), runIntakeOnce(env.client)]);
  expect(first.started + second.started).toBe(1);
  expect(first.claimed + second.claimed).toBe(1);

  const workflowId = renderJobWorkflowId(jobId);
  await env.client.workflow.getHandle(workflowId).result();
  const row = await eventually('row to be completed', async () => {
    const r = await stack.store.getJob(jobId);
    return r?.status === 'completed' ? r : undefined;
  });
  expect(row.workflowId).toBe(workflowId);

  // A third run finds nothing: the row is owned by its workflow now.
  expect((await runIntakeOnce(env.client)).claimed).toBe(0);
  const runs: string[] = [];
  for await (const execution of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    runs.push(execution.runId);
  }
  expect(runs).toHaveLength(1);
  expect(stack.sims.manim.ledger.filter((c) => c.method === 'POST' && c.jobId === jobId)).toHaveLength(1);
});

test('a row whose payload the database accepts but the schema refuses is failed with the reason', async () => {
  const big = 'x'.repeat(LIMITS.maxPayloadBytes + 10);
  const jobId = await frontendInsert('concept_explainer', { text: big });
  const result = await runIntakeOnce(env.client);
  expect(result.rejected).toBeGreaterThanOrEqual(1);
  const row = await stack.store.getJob(jobId);
  expect(row).toMatchObject({ status: 'failed', workflowId: null, queuePosition: null });
  expect(row?.error).toMatch(/^invalid job: payload: payload is \d+ bytes; the limit is 65536/);
  expect(row?.completedAt).not.toBeNull();
});

test('a row whose workflow already exists is marked as owned without starting another', async () => {
  const jobId = await frontendInsert('solution_walkthrough', { problem: 'x^2' });
  // Simulates an intake run that crashed after starting the workflow but before marking the row.
  const { submitJob } = await import('../../src/jobs/submit');
  const row = await stack.store.getJob(jobId);
  await submitJob(env.client, { id: jobId, jobType: 'solution_walkthrough', payload: row!.payload });
  const result = await runIntakeOnce(env.client);
  // The workflow owns its row from its first step (its `queued` write names it); intake, when it
  // gets there first, finds the workflow and starts nothing.
  expect(result.started).toBe(0);
  expect(result.alreadyRunning).toBe(result.claimed);
  await env.client.workflow.getHandle(renderJobWorkflowId(jobId)).result();
  expect(await stack.store.getJob(jobId)).toMatchObject({
    status: 'completed',
    workflowId: renderJobWorkflowId(jobId),
  });
  expect(stack.sims.orchestrator.ledger.filter((c) => c.method === 'POST' && c.jobId === jobId)).toHaveLength(
    1,
  );
});
