/**
 * renderJob as it ran before fleet-wide admission (patch 'fleet-admission'): Temporal's activity
 * retries were the render attempts and the caps were per worker process. Frozen: it exists so
 * that histories recorded before the patch replay, and so that jobs started by an older worker
 * finish as they began. Never change what it does; new behaviour goes into render-job.ts.
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DEFAULT_RENDER_POLICY,
  LIMITS,
  RENDER_TASK_QUEUE,
  SYNC_TASK_QUEUE,
  renderQueueFor,
} from '../shared/constants';
import { NON_RETRYABLE_RENDER_ERRORS, RENDER_JOB_FAILED } from '../shared/errors';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { RenderJobInput, RenderPolicy } from '../shared/job-schema';
import { freshJobState, jobStateQuery, renderProgressSignal } from '../shared/messages';
import type { JobState, RenderJobResult, RenderProgress } from '../shared/messages';
import type { ReadModelActivities } from '../activities/read-model';
import type { RenderActivities } from '../activities/render';
import { describeRenderFailure } from './failure-message';
import { jobFieldsOf, stateRow } from './job-state';
import { ReadModelSync } from './read-model-sync';

/** Sequence numbers of one run live in their own block so a re-run (retry command) outranks it. */
const SEQ_PER_GENERATION = 1_000_000;

/** Before 'policy-read-local': the policy came from a regular activity on the sync queue. */
const { loadRenderPolicy } = proxyActivities<ReadModelActivities>({
  taskQueue: SYNC_TASK_QUEUE,
  startToCloseTimeout: '10s',
  // A short try: if the database is down we render with the default policy rather than wait.
  retry: { maximumAttempts: 3, initialInterval: '1s' },
});

/**
 * A local activity runs inside the workflow task, so the render is scheduled in the job's first
 * workflow task: sooner, and in the order jobs were submitted (FIFO within a priority).
 */
const { loadRenderPolicy: loadRenderPolicyLocally } = proxyLocalActivities<ReadModelActivities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

function renderActivity(input: RenderJobInput, policy: RenderPolicy): RenderActivities['render'] {
  // Durations in milliseconds: the config holds fractional minutes.
  const minutes = (value: number): number => Math.round(value * 60_000);
  return proxyActivities<RenderActivities>({
    taskQueue: RENDER_TASK_QUEUE[renderQueueFor(input.renderer)],
    startToCloseTimeout: minutes(policy.jobTimeoutMinutes),
    // Short, so a crashed worker's render is retried within seconds, not after the 10-minute timeout.
    heartbeatTimeout: LIMITS.legacyRenderHeartbeatTimeoutSeconds * 1000,
    // Eager dispatch would hand the render to this worker directly, jumping the server's priority order.
    allowEagerDispatch: false,
    // Wait for the activity to tell the renderer before recording `cancelled`.
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
    retry: {
      // The old system's promise: 3 attempts, a fixed interval between them (no backoff).
      maximumAttempts: policy.maxAttempts,
      initialInterval: minutes(policy.retryIntervalMinutes),
      maximumInterval: minutes(policy.retryIntervalMinutes),
      backoffCoefficient: 1,
      nonRetryableErrorTypes: NON_RETRYABLE_RENDER_ERRORS,
    },
  }).render;
}

async function readPolicy(): Promise<RenderPolicy> {
  try {
    return patched('policy-read-local') ? await loadRenderPolicyLocally() : await loadRenderPolicy();
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('could not read render policy; using defaults', { error: String(err) });
    return { ...DEFAULT_RENDER_POLICY };
  }
}

/** Runs a job the pre-admission way; `input` is already validated. */
export async function legacyRenderJob(input: RenderJobInput): Promise<RenderJobResult> {
  const now = () => new Date().toISOString();

  const state: JobState = freshJobState(input.jobId);
  let seq = (input.generation ?? 0) * SEQ_PER_GENERATION;
  const sync = new ReadModelSync(jobFieldsOf(input));
  // Histories recorded before RenderStatus was kept up to date replay without the upserts.
  // Only where the job started with our attributes: a namespace without them must still run jobs.
  const upsertsStatus =
    patched('render-status-search-attribute') &&
    workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.jobId) !== undefined;
  let shownStatus: JobState['status'] = 'queued';
  const publish = () => {
    if (upsertsStatus && state.status !== shownStatus) {
      shownStatus = state.status;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.renderStatus, value: state.status }]);
    }
    sync.publish(stateRow(state, ++seq));
  };

  setHandler(jobStateQuery, () => state);
  setHandler(renderProgressSignal, (update: RenderProgress) => {
    // Late or duplicate reports (an older attempt, a finished job) must not move the state back.
    if (state.status !== 'queued' && state.status !== 'processing') return;
    if (update.attempt < state.attempt) return;
    if (update.attempt > state.attempt) {
      state.attempt = update.attempt;
      state.attempts.push({ attempt: update.attempt, startedAt: now() });
      state.startedAt ??= now();
      state.progress = null;
    }
    state.status = 'processing';
    if (update.progress !== null) state.progress = Math.max(state.progress ?? 0, update.progress);
    publish();
  });

  publish();

  let policy: RenderPolicy | undefined;
  try {
    policy = await readPolicy();
    const outcome = await renderActivity(
      input,
      policy,
    )({
      jobId: input.jobId,
      jobType: input.jobType,
      renderer: input.renderer,
      payload: input.payload,
    });
    state.status = 'completed';
    state.attempt = Math.max(state.attempt, outcome.attempt);
    state.progress = 1;
    state.result = outcome.videoUrl;
    state.error = null;
    state.completedAt = now();
    publish();
    await sync.flushed();
    log.info('render job completed', { jobId: input.jobId, attempt: state.attempt });
    return { jobId: input.jobId, videoUrl: outcome.videoUrl, attempts: state.attempt };
  } catch (err) {
    if (isCancellation(err)) {
      state.status = 'cancelled';
      state.completedAt = now();
      // The job is cancelled, but recording that must still happen.
      await CancellationScope.nonCancellable(async () => {
        publish();
        await sync.flushed();
      });
      log.info('render job cancelled', { jobId: input.jobId, attempt: state.attempt });
      throw err;
    }
    state.status = 'failed';
    state.error = describeRenderFailure(
      err,
      policy?.jobTimeoutMinutes ?? DEFAULT_RENDER_POLICY.jobTimeoutMinutes,
      LIMITS.legacyRenderHeartbeatTimeoutSeconds,
    );
    state.attempt = Math.max(state.attempt, 1);
    state.completedAt = now();
    publish();
    await sync.flushed();
    log.warn('render job failed', { jobId: input.jobId, attempt: state.attempt, error: state.error });
    throw ApplicationFailure.nonRetryable(state.error, RENDER_JOB_FAILED, {
      jobId: input.jobId,
      attempts: state.attempt,
    });
  }
}
