/**
 * An admission run that cannot replay against today's code fails instead of retrying its workflow
 * task for ever (which would hold every grant of the fleet), and a fresh run takes its place and
 * rebuilds the queue from the jobs: a job waiting through it renders and completes.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { admissionStartOptions } from '../../src/activities/admission-client';
import { submitJob } from '../../src/jobs/submit';
import {
  ADMISSION_WORKFLOW_ID,
  SERVICE_WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
} from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { startStack } from '../../dev/stack';
import type { Stack } from '../../dev/stack';

let env: TestWorkflowEnvironment;
let stack: Stack | undefined;

beforeAll(async () => {
  env = await devServerEnv();
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

test('a run that hits nondeterminism fails, a fresh run replaces it, and a waiting job completes', async () => {
  // The run's first task is recorded by other code: a timer where today's admission reads its config.
  const other = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: SERVICE_WORKFLOW_TASK_QUEUE,
    workflowsPath: require.resolve('./fixtures/other-admission'),
  });
  const first = await env.client.workflow.start(WORKFLOW_TYPE.admission, admissionStartOptions());
  await other.runUntil(
    eventually('the other code to start its timer', async () => {
      const history = await first.fetchHistory();
      return history.events?.some((e) => e.timerStartedEventAttributes);
    }),
  );

  // Today's workers, checking every second that admission runs.
  stack = await startStack(env, { caps: { total: 2, manim: 1 }, admissionKeeperSeconds: 1 });
  // The job's request reaches the old run: its next task replays on today's code and fails.
  const { jobId, workflowId } = await submitJob(env.client, {
    jobType: 'concept_explainer',
    priority: 'high',
    payload: { label: 'through a replaced admission' },
  });

  const failed = await eventually(
    'the old admission run to fail',
    async () => {
      const description = await env.client.workflow
        .getHandle(ADMISSION_WORKFLOW_ID, first.firstExecutionRunId)
        .describe();
      return description.status.name === 'FAILED' ? description : undefined;
    },
    60_000,
    250,
  );
  expect(failed.runId).toBe(first.firstExecutionRunId);
  const failure = await env.client.workflow
    .getHandle(ADMISSION_WORKFLOW_ID, first.firstExecutionRunId)
    .result()
    .then(
      () => undefined,
      (err: Error) => err,
    );
  expect(String((failure?.cause as Error | undefined)?.message)).toMatch(/nondetermin/i);

  // The fresh run asks every running job to re-register; the waiting job's row ends completed.
  await eventually(
    'the job to complete through the fresh admission run',
    async () => (await stack!.store.getJob(jobId))?.status === 'completed',
    60_000,
    250,
  );
  await env.client.workflow.getHandle(workflowId).result();
  const rendered = Object.values(stack.sims).flatMap((sim) => sim.stats().completed.map((r) => r.jobId));
  expect(rendered).toContain(jobId);

  const latest = await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).describe();
  expect(latest.runId).not.toBe(first.firstExecutionRunId);
  expect(latest.status.name).toBe('RUNNING');
});
