/**
 * Records renderJob histories for the replay tests (test/fixtures/histories). Run it after a
 * deliberate workflow change, guarded by patched(), to add the new paths; never to paper over
 * a replay failure. `npm run record-histories`
 *
 * `npm run record-histories -- --intake` records the intake workflow's paths instead
 * (test/reliability/fixtures/histories), on the dev server: intake starts jobs with search attributes.
 *
 * `npm run record-histories -- --admission` records the admission workflow's paths
 * (test/fixtures/histories/admission-*), on the dev server: its reconciliation uses visibility.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import {
  INTAKE_SWEEP_WORKFLOW_ID,
  INTAKE_WORKFLOW_ID_PREFIX,
  ensureIntakeSweep,
} from '../src/jobs/intake-sweep';
import { submitJob } from '../src/jobs/submit';
import {
  ADMISSION_WORKFLOW_ID,
  LIMITS,
  SERVICE_WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
} from '../src/shared/constants';
import {
  admissionConfigChangedSignal,
  admissionSnapshotQuery,
  grantsUndeliveredSignal,
} from '../src/shared/admission-messages';
import { AdmissionQueue } from '../src/shared/admission-queue';
import type { intakeJobs } from '../src/workflows/intake';
import { PROJECT_ROOT } from '../dev/server/tool-paths';
import { admissionIdle, replaceAdmissionWithOlderCodeRun, startStack } from '../dev/stack';
import { TIME_SKIPPING_ADMISSION, devServerEnv, eventually, timeSkippingEnv } from '../dev/temporal';

const OUT = join(PROJECT_ROOT, 'test', 'fixtures', 'histories');
const INTAKE_OUT = join(PROJECT_ROOT, 'test', 'reliability', 'fixtures', 'histories');

async function saveHistory(dir: string, name: string, handle: WorkflowHandle): Promise<void> {
  const history = await handle.fetchHistory();
  // Proto3 JSON, the format the Web UI downloads and Worker.runReplayHistory reads.
  writeFileSync(join(dir, `${name}.json`), historyToJSON(history));
  process.stdout.write(`recorded ${name} (${history.events?.length ?? 0} events)\n`);
}

/** One intake run, as the schedule starts it (`batchSize` smaller than the default to show batching). */
async function runIntake(client: Client, batchSize?: number): Promise<WorkflowHandle> {
  const handle = await client.workflow.start<typeof intakeJobs>(WORKFLOW_TYPE.intake, {
    taskQueue: SERVICE_WORKFLOW_TASK_QUEUE,
    workflowId: `${INTAKE_WORKFLOW_ID_PREFIX}record-${randomUUID()}`,
    args: batchSize === undefined ? [] : [batchSize],
    workflowRunTimeout: '5m',
  });
  await handle.result().catch(() => undefined);
  return handle;
}

async function recordIntake(): Promise<void> {
  const env = await devServerEnv();
  const stack = await startStack(env, { simulator: { defaultDurationMs: 100, progressSteps: 1 } });
  mkdirSync(INTAKE_OUT, { recursive: true });
  const insert = (payload: Record<string, unknown>) =>
    stack.db.query(`INSERT INTO jobs (job_type, priority, payload) VALUES ('doubt', 'high', $1::jsonb)`, [
      JSON.stringify(payload),
    ]);
  const save = (name: string, handle: WorkflowHandle) => saveHistory(INTAKE_OUT, name, handle);
  try {
    await save('intake-nothing-to-do', await runIntake(env.client));

    await insert({ q: 'one' });
    await insert({ q: 'two' });
    await insert({ text: 'x'.repeat(LIMITS.maxPayloadBytes + 1) });
    await save('intake-started-and-rejected', await runIntake(env.client));

    for (let i = 0; i < 5; i++) await insert({ q: `batch ${i}` });
    await save('intake-several-batches', await runIntake(env.client, 2));

    // The claim fails once (an outage), is retried by the activity's policy, then succeeds.
    await stack.db.query(`ALTER FUNCTION claim_intake_jobs(int) RENAME TO claim_intake_jobs_real`);
    await stack.db.query(`CREATE SEQUENCE claim_calls`);
    await stack.db
      .query(`CREATE FUNCTION claim_intake_jobs(p_limit int) RETURNS SETOF jobs LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('claim_calls') = 1 THEN RAISE EXCEPTION 'simulated database outage'; END IF;
        RETURN QUERY SELECT * FROM claim_intake_jobs_real(p_limit);
      END $$`);
    await insert({ q: 'after an outage' });
    await save('intake-retried-then-started', await runIntake(env.client));

    // The claim fails on every attempt: the run fails; the schedule's next run tries again.
    await stack.db.query(`DROP FUNCTION claim_intake_jobs(int)`);
    await save('intake-failed', await runIntake(env.client));
    await stack.db.query(`ALTER FUNCTION claim_intake_jobs_real(int) RENAME TO claim_intake_jobs`);

    // The safety sweep: a few sweeps 1 s apart, one of them finding a row, one failing.
    await ensureIntakeSweep(env.client, { intervalSeconds: 1 });
    const sweep = env.client.workflow.getHandle(INTAKE_SWEEP_WORKFLOW_ID);
    await insert({ q: 'found by the sweep' });
    await eventually('a few sweeps', async () => (await sweep.describe()).historyLength > 40, 30_000);
    await save('intake-sweep', sweep);
    await sweep.terminate('recorded');
  } finally {
    await stack.close();
    await env.teardown();
  }
}

/**
 * The admission workflow's paths: grants and releases across a continue-as-new, a terminated
 * holder reclaimed, a grant to a closed job reclaimed, a fresh start rebuilt, a run continued
 * from older code asking jobs again.
 */
async function recordAdmission(): Promise<void> {
  const env = await devServerEnv();
  // A low history limit, so a handful of jobs takes admission across continue-as-new.
  const stack = await startStack(env, {
    caps: { total: 2, manim: 1 },
    simulator: { defaultDurationMs: 200, progressSteps: 2 },
    admissionOptions: { historyLimit: 120, housekeepingSeconds: 2 },
  });
  const admission = env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID);
  const submit = (jobType: string, simulate: Record<string, unknown> = {}) =>
    submitJob(env.client, { jobType, priority: 'medium', payload: { q: 'admission', simulate } });
  try {
    const firstRun = (await admission.describe()).runId;
    // Queued behind the caps, granted in order, released; a config change on the way.
    const jobs = [];
    for (let i = 0; i < 10; i += 1) jobs.push(await submit(i % 3 ? 'concept_explainer' : 'doubt'));
    await admission.signal(admissionConfigChangedSignal);
    await Promise.all(jobs.map((j) => env.client.workflow.getHandle(j.workflowId).result()));
    await eventually(
      'a continue-as-new',
      async () => (await admission.describe()).runId !== firstRun,
      60_000,
    );
    await saveHistory(
      OUT,
      'admission-grants-across-continue-as-new',
      env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID, firstRun),
    );

    // A holder whose workflow is terminated mid-render: reclaimed by reconciliation.
    stack.sims.revideo.hold();
    const holder = await submit('concept_explainer');
    await eventually('the holder to render', () =>
      stack.sims.revideo.stats().inFlightJobIds.includes(holder.jobId),
    );
    const reconcileRun = (await admission.describe()).runId;
    await env.client.workflow.getHandle(holder.workflowId).terminate('recorded: operator stopped it');
    await admissionIdle(env.client);
    stack.sims.revideo.release();
    await saveHistory(
      OUT,
      'admission-terminated-holder-reclaimed',
      env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID, reconcileRun),
    );

    // A waiting job terminated just before its grant: the grant finds no job, comes back to
    // admission as a signal, and the permit goes to the next job. Reconciliation may forget the
    // terminated job first (no grant then): tried until a run shows the path.
    for (let tries = 1; ; tries += 1) {
      stack.sims.revideo.hold();
      const fillers = [await submit('concept_explainer'), await submit('concept_explainer')];
      await eventually('both slots to render', () =>
        fillers.every((f) => stack.sims.revideo.stats().inFlightJobIds.includes(f.jobId)),
      );
      const doomed = await submit('concept_explainer');
      const next = await submit('concept_explainer');
      await eventually('both to wait', async () => {
        const queue = AdmissionQueue.decode((await admission.query(admissionSnapshotQuery)).queue);
        return queue.waitingEntry(doomed.jobId) !== undefined && queue.waitingEntry(next.jobId) !== undefined;
      });
      const run = (await admission.describe()).runId;
      await env.client.workflow.getHandle(doomed.workflowId).terminate('recorded: closed while waiting');
      stack.sims.revideo.release();
      await Promise.all([...fillers, next].map((j) => env.client.workflow.getHandle(j.workflowId).result()));
      await admissionIdle(env.client);
      const events =
        (await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID, run).fetchHistory()).events ?? [];
      const reported = events.some(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === grantsUndeliveredSignal.name,
      );
      if (reported) {
        await saveHistory(
          OUT,
          'admission-undelivered-grant-reclaimed',
          env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID, run),
        );
        break;
      }
      if (tries >= 5) throw new Error('no grant went to the terminated job in 5 tries');
    }

    // Admission terminated while a job renders and another waits: a fresh run rebuilds the queue.
    stack.sims.manim.hold();
    const rendering = await submit('doubt');
    await eventually('the Manim job to render', () =>
      stack.sims.manim.stats().inFlightJobIds.includes(rendering.jobId),
    );
    const waiting = await submit('doubt');
    await admission.terminate('recorded: operator reset admission');
    const restarted = await submit('concept_explainer');
    await eventually('the fresh run to re-register the renderer', async () => {
      const run = await admission.describe();
      return run.status.name === 'RUNNING' && run.historyLength > 10;
    });
    stack.sims.manim.release();
    await Promise.all(
      [rendering, waiting, restarted].map((j) => env.client.workflow.getHandle(j.workflowId).result()),
    );
    await saveHistory(OUT, 'admission-fresh-start-rebuilt', admission);

    // A run continued from older code (no `requestBatches` mark), which lost a waiting job's
    // request: it asks every running job to register again, and the job renders.
    stack.sims.manim.hold();
    const holding = await submit('doubt');
    await eventually('the Manim job to render', () =>
      stack.sims.manim.stats().inFlightJobIds.includes(holding.jobId),
    );
    const lost = await submit('doubt');
    await eventually('the second Manim job to wait', async () => {
      const queue = AdmissionQueue.decode((await admission.query(admissionSnapshotQuery)).queue);
      return queue.waitingEntry(lost.jobId) !== undefined;
    });
    const olderRun = await replaceAdmissionWithOlderCodeRun(
      env.client,
      { total: 2, manim: 1 },
      { historyLimit: 120, housekeepingSeconds: 2 },
    );
    stack.sims.manim.release();
    await Promise.all([holding, lost].map((j) => env.client.workflow.getHandle(j.workflowId).result()));
    await saveHistory(
      OUT,
      'admission-continued-from-older-code',
      env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID, olderRun),
    );
  } finally {
    await stack.close();
    await env.teardown();
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--intake')) return recordIntake();
  if (process.argv.includes('--admission')) return recordAdmission();
  const env = await timeSkippingEnv();
  const stack = await startStack(env, {
    simulator: { defaultDurationMs: 300, progressSteps: 3 },
    admissionOptions: TIME_SKIPPING_ADMISSION,
  });
  mkdirSync(OUT, { recursive: true });
  const save = (name: string, handle: WorkflowHandle) => saveHistory(OUT, name, handle);
  const start = async (simulate: Record<string, unknown>, jobType = 'doubt') => {
    const { workflowId } = await submitJob(
      env.client,
      { jobType, priority: 'high', payload: { q: 'replay', simulate } },
      { searchAttributes: false },
    );
    return env.client.workflow.getHandle(workflowId);
  };
  try {
    const success = await start({}, 'concept_explainer');
    await success.result();
    await save('render-job-success', success);

    const retried = await start({ failTimes: 2 });
    await retried.result();
    await save('render-job-retried-then-completed', retried);

    const failed = await start({ failTimes: 99 });
    await failed.result().catch(() => undefined);
    await save('render-job-failed-after-retries', failed);

    const rejected = await start({ outcome: 'reject' });
    await rejected.result().catch(() => undefined);
    await save('render-job-rejected', rejected);

    stack.sims.orchestrator.hold();
    const cancelled = await start({}, 'solution_walkthrough');
    await eventually('render to start', () =>
      stack.sims.orchestrator.ledger.some((c) => c.method === 'POST'),
    );
    await cancelled.cancel();
    await cancelled.result().catch(() => undefined);
    await save('render-job-cancelled', cancelled);
    stack.sims.orchestrator.release();

    // Cancelled while it waits for a permit (the caps are full of held renders).
    await stack.db.query('UPDATE job_queue_config SET max_concurrent_renders = 1');
    await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(admissionConfigChangedSignal);
    stack.sims.revideo.hold();
    const blocker = await start({}, 'concept_explainer');
    await eventually('the blocker to render', () => stack.sims.revideo.stats().inFlight === 1);
    const queued = await start({}, 'concept_explainer');
    await eventually(
      'the queued job to ask for a permit',
      // enterQueue (a local activity: a marker) has sent the request when its task completes.
      async () => (await queued.fetchHistory()).events!.some((e) => e.markerRecordedEventAttributes),
    );
    await queued.cancel();
    await queued.result().catch(() => undefined);
    await save('render-job-cancelled-while-waiting', queued);
    stack.sims.revideo.release();
    await blocker.result();
    await stack.db.query('UPDATE job_queue_config SET max_concurrent_renders = 10');
    await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(admissionConfigChangedSignal);

    // Each attempt timed out by the workflow's timer and its render stopped (a 3 s timeout).
    await stack.db.query('UPDATE job_queue_config SET job_timeout_minutes = 0.05');
    const timedOut = await start({ outcome: 'never-finish' });
    await timedOut.result().catch(() => undefined);
    await save('render-job-timed-out', timedOut);
    await stack.db.query('UPDATE job_queue_config SET job_timeout_minutes = 10');
  } finally {
    await stack.close();
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
