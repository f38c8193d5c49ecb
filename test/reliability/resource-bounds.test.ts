/**
 * Long-running work keeps its workflows small (dev server). An intake run drains a bounded amount
 * (INTAKE_MAX_BATCHES_PER_RUN batches) and ends, so its history is short whatever the backlog;
 * a render with hundreds of progress steps reports progress in coarse steps, so its history is
 * bounded too. (Worker memory over 2,000 jobs: memory.long.test.ts.)
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runIntakeOnce } from '../../src/jobs/intake-sweep';
import { submitJob } from '../../src/jobs/submit';
import { LIMITS } from '../../src/shared/constants';
import { INTAKE_BATCH_SIZE, INTAKE_MAX_BATCHES_PER_RUN } from '../../src/workflows/intake';
import { devServerEnv } from '../../dev/temporal';
import { startReliabilityStack } from './helpers/reliability-stack';
import type { ReliabilityStack } from './helpers/reliability-stack';

let env: TestWorkflowEnvironment;
let stack: ReliabilityStack;

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startReliabilityStack(env, { simulator: { defaultDurationMs: 100, progressSteps: 1 } });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

test('an intake run over a backlog larger than it may drain stops after its batches with a short history; the next run takes the rest', async () => {
  const perRun = INTAKE_BATCH_SIZE * INTAKE_MAX_BATCHES_PER_RUN;
  const backlog = perRun + 120;
  // Rows the schema refuses (nested too deep), so the test measures intake itself, not renders.
  let deep: unknown = 'x';
  for (let i = 0; i < LIMITS.maxPayloadDepth + 1; i++) deep = { d: deep };
  await stack.db!.query(
    `INSERT INTO jobs (job_type, payload) SELECT 'doubt', $1::jsonb FROM generate_series(1, $2::int)`,
    [JSON.stringify({ deep }), backlog],
  );
  const first = await runIntakeOnce(env.client);
  expect(first).toMatchObject({ batches: INTAKE_MAX_BATCHES_PER_RUN, claimed: perRun, rejected: perRun });
  const second = await runIntakeOnce(env.client);
  expect(second).toMatchObject({ claimed: 120, rejected: 120 });

  let longest = 0;
  for await (const wf of env.client.workflow.list({ query: `WorkflowType = 'intakeJobs'` })) {
    const history = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    longest = Math.max(longest, history.events!.length);
  }
  // Per batch: scheduled, started, completed, and a workflow task: bounded by the batch cap, not the backlog.
  expect(longest).toBeLessThanOrEqual(INTAKE_MAX_BATCHES_PER_RUN * 6 + 10);
});

test('a render with 400 progress steps has no longer a history than one with 10: progress reaches the workflow in 10% steps', async () => {
  const historyOf = async (steps: number) => {
    const { workflowId } = await submitJob(env.client, {
      jobType: 'concept_explainer',
      payload: { q: 'long render', simulate: { durationMs: 3000, steps } },
    });
    const handle = env.client.workflow.getHandle(workflowId);
    await handle.result();
    return (await handle.fetchHistory()).events!;
  };
  const [fine, coarse] = await Promise.all([historyOf(400), historyOf(10)]);
  const signals = fine.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  // The permit's grant, 'submitted' (the render's id), and at most one per progressSignalStep.
  expect(signals).toBeLessThanOrEqual(2 + Math.ceil(1 / LIMITS.progressSignalStep));
  // Timing may merge or split a workflow task or a sync; 400x more steps must not mean more events.
  expect(fine.length).toBeLessThanOrEqual(coarse.length + 12);
  expect(fine.length).toBeLessThan(200);
});
