/**
 * One render job = one durable workflow.
 *
 * Each render attempt waits for a permit from the admission workflow (fleet-wide caps, one
 * priority order), renders, and gives the permit back. A render failure uses one of the job's
 * attempts: the job shows `retrying`, waits the retry interval without a permit, then rejoins the
 * queue at its original place. A lost worker is not a render failure: Temporal retries the
 * render activity at once on another worker, which resumes the same render; the job keeps its
 * permit and its attempt. The per-attempt timeout is a workflow timer, so the render is cancelled
 * at the renderer when it fires, and the next attempt submits a fresh render.
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { PRIORITIES } from '../shared/constants';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { RenderJobInput, RenderPolicy } from '../shared/job-schema';
import { INVALID_JOB_INPUT, RENDER_JOB_FAILED } from '../shared/errors';
import { changePrioritySignal, jobStateQuery } from '../shared/messages';
import type { RenderJobResult } from '../shared/messages';
import { admissionCalls } from './admission-calls';
import { JobStateKeeper } from './job-state';
import { Permit } from './permit';
import { AttemptRunner, minutesToMs } from './render-attempt';
import type { AttemptOutcome } from './render-attempt';
import { legacyRenderJob } from './render-job-legacy';

/** Histories recorded before fleet-wide admission replay through the legacy code. */
export const FLEET_ADMISSION_PATCH = 'fleet-admission';

export async function renderJob(input: RenderJobInput): Promise<RenderJobResult> {
  if (!patched(FLEET_ADMISSION_PATCH)) return legacyRenderJob(input);
  // The first step checks the input in full; this only keeps the bookkeeping below from throwing.
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw ApplicationFailure.nonRetryable('invalid job: expected an object', INVALID_JOB_INPUT);
  }
  const info = workflowInfo();
  const job = new JobStateKeeper(
    input,
    info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.jobId) !== undefined,
  );
  const permit = Permit.forJob(input, info.startTime.getTime());
  handleMessages(job, permit);

  try {
    // The job's first step: the input checked, the policy read, the `queued` row written and the
    // permit asked for. It retries until admission has the request: without it the job never starts.
    const entered = await admissionCalls().enterQueue({
      input,
      queued: job.queuedRow(),
      request: permit.requestFor(1),
    });
    if (entered.invalid !== undefined)
      throw ApplicationFailure.nonRetryable(entered.invalid, INVALID_JOB_INPUT);
    job.queuedRecorded(entered.recorded);
    const { policy } = entered;
    const attempts = new AttemptRunner(input, policy);
    for (let attempt = 1; ; attempt += 1) {
      await permit.acquire(attempt);
      const readModel = job.startAttempt(attempt, permit.accepted);
      let outcome: AttemptOutcome;
      try {
        outcome = await attempts.run(attempt, readModel);
      } catch (err) {
        await permit.release(attempt, 'cancelled');
        throw err;
      }
      if (outcome.kind === 'completed') {
        if (outcome.released) permit.releasedElsewhere(attempt);
        else await permit.release(attempt, 'completed');
        job.completed(outcome.videoUrl, outcome.recorded);
        // A render that finished is a completed job, even when a cancellation came meanwhile.
        await CancellationScope.nonCancellable(() => job.flushed());
        return { jobId: input.jobId, videoUrl: outcome.videoUrl, attempts: attempt };
      }
      // Given back before anything else, so the next job in the queue starts as soon as possible.
      await permit.release(attempt, 'failed');
      if (outcome.permanent || attempt >= policy.maxAttempts) await failJob(job, attempt, outcome.error);
      await waitToRetry(job, policy, attempt, outcome.error);
    }
  } catch (err) {
    if (isCancellation(err)) {
      await permit.withdrawUnwaited();
      await recordCancelled(job);
    }
    throw err;
  }
}

/** The job's state answers queries; a new priority moves its row and its place in the queue. */
function handleMessages(job: JobStateKeeper, permit: Permit): void {
  const { state } = job;
  setHandler(jobStateQuery, () => state);
  setHandler(changePrioritySignal, async ({ priority }) => {
    if (!PRIORITIES.includes(priority) || priority === state.priority) return;
    if (state.status !== 'queued' && state.status !== 'processing' && state.status !== 'retrying') return;
    job.reprioritized(priority);
    await permit.reprioritize(priority);
  });
}

/** The job failed for good: the row says so before the workflow fails. */
async function failJob(job: JobStateKeeper, attempt: number, error: string): Promise<never> {
  const { jobId } = job.state;
  job.failed(error);
  await job.flushed();
  log.warn('render job failed', { jobId, attempt, error });
  throw ApplicationFailure.nonRetryable(error, RENDER_JOB_FAILED, { jobId, attempts: attempt });
}

/** The job shows `retrying` and waits the retry interval, holding no permit. */
async function waitToRetry(job: JobStateKeeper, policy: RenderPolicy, attempt: number, error: string) {
  const intervalMs = minutesToMs(policy.retryIntervalMinutes);
  job.retrying(error, new Date(new Date().getTime() + intervalMs).toISOString());
  log.info('render attempt failed; next attempt after the retry interval', {
    jobId: job.state.jobId,
    attempt,
    error,
  });
  await sleep(intervalMs);
}

/** The `cancelled` row lands even though the job's scope is cancelled. */
async function recordCancelled(job: JobStateKeeper): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    job.cancelled();
    await job.flushed();
  });
  log.info('render job cancelled', { jobId: job.state.jobId, attempt: job.state.attempt });
}
