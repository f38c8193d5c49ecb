/**
 * An admission run that cannot replay against today's code fails instead of retrying its workflow
 * task for ever (which would hold every grant of the fleet), and a fresh run takes its place and
 * rebuilds the queue from the jobs: a job waiting through it renders and completes.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { admissionStartOptions } from '../../src/activities/admission-client';
import { cancelJob, submitJob } from '../../src/jobs/submit';
import { admissionSnapshotQuery } from '../../src/shared/admission-messages';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import {
  ADMISSION_WORKFLOW_ID,
  SERVICE_WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
} from '../../src/shared/constants';
import { devServerEnv, eventually } from '../../dev/temporal';
import { replaceAdmissionWithOlderCodeRun, startStack } from '../../dev/stack';
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

test('a run continued from code that knew no batched requests asks every job to register again: a lost request is found', async () => {
  stack ??= await startStack(env, { caps: { total: 2, manim: 1 }, admissionKeeperSeconds: 1 });
  const submit = (label: string, durationMs: number) =>
    submitJob(env.client, {
      jobType: 'concept_explainer',
      priority: 'high',
      payload: { label, simulate: { durationMs } },
    });
  const snapshot = async () =>
    env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery);
  // The run the first test left may not have read job_queue_config yet (it starts on defaults).
  await eventually('admission to apply the caps of 2', async () => (await snapshot()).caps.total === 2);
  // Two renders hold both permits for far longer than the test runs (they are cancelled below, so
  // no timing under load can let them finish first); a third job, submitted once they hold (jobs
  // submitted together may reach admission in any order), waits in admission's queue.
  const holders = [await submit('holder 1', 600_000), await submit('holder 2', 600_000)];
  const queue = async () => AdmissionQueue.decode((await snapshot()).queue);
  await eventually('both holders granted', async () => {
    const now = await queue();
    return holders.every((job) => now.holder(job.jobId) !== undefined);
  });
  const waiting = await submit('waiting', 100);
  const registered = async () => {
    const now = await queue();
    return (
      holders.every((job) => now.holder(job.jobId) !== undefined) &&
      now.waitingEntry(waiting.jobId) !== undefined
    );
  };
  await eventually('the third job in the queue of the run to be replaced', registered);

  // A run of older code that dropped the batched requests, continued as new: it knows the holders
  // it granted, not the job that waits.
  await replaceAdmissionWithOlderCodeRun(env.client, { total: 2, manim: 1 });

  // It asks every running job to register again: the holders hold again and the third job waits.
  await eventually('every job registered with the run continued from older code', registered, 60_000, 250);
  expect((await stack.store.getJob(waiting.jobId))?.status).toBe('queued');

  // The holders' permits free when they are cancelled, and the found job renders and completes.
  for (const job of holders) expect(await cancelJob(env.client, job.jobId)).toBe('cancelled');
  await eventually(
    'the job that waited through the replacement to complete',
    async () => (await stack!.store.getJob(waiting.jobId))?.status === 'completed',
    60_000,
    250,
  );
});
