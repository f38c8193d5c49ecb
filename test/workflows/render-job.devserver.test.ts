/** renderJob end to end on the real dev server: real database, real HTTP to renderer simulators. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { cancelJob, getJobStatus, submitJob } from '../../src/jobs/submit';
import { RENDERERS } from '../../src/shared/constants';
import type { Renderer } from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { startStack } from '../../dev/stack';
import type { Stack } from '../../dev/stack';

let env: TestWorkflowEnvironment;
let stack: Stack;

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, { simulator: { defaultDurationMs: 400, progressSteps: 4 } });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

const jobTypeFor: Record<Renderer, 'doubt' | 'concept_explainer' | 'solution_walkthrough'> = {
  manim: 'doubt',
  revideo: 'concept_explainer',
  orchestrator: 'solution_walkthrough',
};

test.each(RENDERERS)(
  'a %s job is recorded as processing, then completed with its video URL',
  async (renderer) => {
    const sim = stack.sims[renderer];
    sim.hold();
    const { jobId, workflowId } = await submitJob(env.client, {
      jobType: jobTypeFor[renderer],
      priority: 'medium',
      payload: { question: `Explain with ${renderer}` },
    });
    const processing = await eventually('row to show processing', async () => {
      const row = await stack.store.getJob(jobId);
      return row?.status === 'processing' ? row : undefined;
    });
    expect(processing).toMatchObject({ renderer, retryCount: 0, workflowId });
    expect(processing.startedAt).not.toBeNull();
    sim.release();

    const result = await env.client.workflow.getHandle(workflowId).result();
    const row = await stack.store.getJob(jobId);
    expect(row).toMatchObject({ status: 'completed', result: result.videoUrl, progress: 1 });
    expect(row?.completedAt).not.toBeNull();
    expect(sim.ledger.filter((c) => c.method === 'POST' && c.jobId === jobId)).toHaveLength(1);
  },
);

test('cancelling a running job tells the renderer (DELETE) and records cancelled', async () => {
  const sim = stack.sims.revideo;
  sim.hold();
  const { jobId, workflowId } = await submitJob(env.client, {
    jobType: 'concept_explainer',
    payload: { topic: 'Photosynthesis' },
  });
  await eventually('render to start', () => sim.ledger.some((c) => c.method === 'POST' && c.jobId === jobId));
  expect(await cancelJob(env.client, jobId)).toBe('cancelled');
  await expect(env.client.workflow.getHandle(workflowId).result()).rejects.toThrow();
  const renderId = sim.ledger.find((c) => c.method === 'POST' && c.jobId === jobId)?.renderId;
  expect(sim.ledger.some((c) => c.method === 'DELETE' && c.renderId === renderId)).toBe(true);
  const row = await eventually('row to show cancelled', async () => {
    const r = await stack.store.getJob(jobId);
    return r?.status === 'cancelled' ? r : undefined;
  });
  expect(row.completedAt).not.toBeNull();
  sim.release();
  expect(await cancelJob(env.client, jobId)).toBe('not-running');
});

test('submitting the same job twice starts one workflow and renders once', async () => {
  const submission = { id: crypto.randomUUID(), jobType: 'doubt', priority: 'low', payload: { q: 'twice' } };
  const [first, second] = await Promise.all([
    submitJob(env.client, submission),
    submitJob(env.client, submission),
  ]);
  expect([first.started, second.started].sort()).toEqual([false, true]);
  await env.client.workflow.getHandle(first.workflowId).result();
  const third = await submitJob(env.client, submission);
  expect(third.started).toBe(false);
  const posts = stack.sims.manim.ledger.filter((c) => c.method === 'POST' && c.jobId === submission.id);
  expect(posts).toHaveLength(1);
});

test("a job's status reports the attempt and the render progress while it runs", async () => {
  const { jobId, workflowId } = await submitJob(env.client, {
    jobType: 'solution_walkthrough',
    payload: { problem: 'Integrate x^2', simulate: { durationMs: 3000, steps: 10 } },
  });
  const handle = env.client.workflow.getHandle(workflowId);
  // Progress rides on the render activity's heartbeat, not in the workflow's history.
  const midway = await eventually('progress between 0 and 1', async () => {
    const view = await getJobStatus(env.client, jobId);
    const progress = view?.state?.progress ?? null;
    return progress !== null && progress > 0 && progress < 1 ? view : undefined;
  });
  expect(midway?.execution).toBe('RUNNING');
  expect(midway?.state).toMatchObject({ status: 'processing', attempt: 1 });
  await handle.result();
  expect((await getJobStatus(env.client, jobId))?.state).toMatchObject({ status: 'completed', progress: 1 });
});
