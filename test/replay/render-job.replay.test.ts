/**
 * Every recorded history of renderJob and of the admission workflow replays against today's
 * workflow code without nondeterminism. A change that alters the commands either issues fails
 * here unless it is guarded by patched(): that is the point of this test. Histories named
 * `*.before-<patch>.json` were recorded before that patch and replay through its old branch.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { quietRuntime } from '../../dev/temporal';

const DIR = join(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

beforeAll(() => quietRuntime());

test('there is a recorded history for each significant path', () => {
  expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual(
    expect.arrayContaining([
      'render-job-cancelled',
      'render-job-cancelled-while-waiting',
      'render-job-failed-after-retries',
      'render-job-rejected',
      'render-job-retried-then-completed',
      'render-job-success',
      'render-job-timed-out',
      // Before the first step and the permit calls moved from local activities to the sync queue.
      'render-job-success.before-admission-calls-as-activities',
      'render-job-retried-then-completed.before-admission-calls-as-activities',
      'render-job-cancelled-while-waiting.before-admission-calls-as-activities',
      'render-job-timed-out.before-admission-calls-as-activities',
      // Before fleet-wide admission (the legacy branch of renderJob).
      'render-job-cancelled.before-fleet-admission',
      'render-job-retried-then-completed.before-fleet-admission',
      'render-job-success.before-fleet-admission',
      // The admission workflow.
      'admission-grants-across-continue-as-new',
      'admission-terminated-holder-reclaimed',
      'admission-fresh-start-rebuilt',
      'admission-continued-from-older-code',
      'admission-undelivered-grant-reclaimed',
      // Before admission's continue-as-new stopped holding up grants (shorter runs, grants on while it winds down).
      'admission-grants-across-continue-as-new.before-admission-brief-handover',
      'admission-terminated-holder-reclaimed.before-admission-brief-handover',
      'admission-fresh-start-rebuilt.before-admission-brief-handover',
      'admission-continued-from-older-code.before-admission-brief-handover',
      'admission-undelivered-grant-reclaimed.before-admission-brief-handover',
      // Before reconciliation kept what a re-run of a job found closed was given meanwhile.
      'admission-grants-across-continue-as-new.before-admission-reconcile-keeps-newer-runs',
      'admission-terminated-holder-reclaimed.before-admission-reconcile-keeps-newer-runs',
      'admission-fresh-start-rebuilt.before-admission-reconcile-keeps-newer-runs',
      'admission-continued-from-older-code.before-admission-reconcile-keeps-newer-runs',
      'admission-undelivered-grant-reclaimed.before-admission-reconcile-keeps-newer-runs',
      // Before undelivered grants came back as a signal (the delivery's result was acted on).
      'admission-grants-across-continue-as-new.before-admission-replay-order',
      'admission-terminated-holder-reclaimed.before-admission-replay-order',
      'admission-fresh-start-rebuilt.before-admission-replay-order',
      'admission-continued-from-older-code.before-admission-replay-order',
      // Before admission took batched requests.
      'admission-grants-across-continue-as-new.before-admission-request-batches',
      'admission-fresh-start-rebuilt.before-admission-request-batches',
      // Before admission had a task queue of its own.
      'admission-grants-across-continue-as-new.before-service-queue',
    ]),
  );
});

test.each(files)('%s replays without nondeterminism', async (file) => {
  const history = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../../src/workflows') }, history, file);
});
