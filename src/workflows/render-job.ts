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
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DEFAULT_QUEUE_CONFIG,
  LIMITS,
  PRIORITIES,
  RENDER_TASK_QUEUE,
  renderQueueFor,
} from '../shared/constants';
import { ATTEMPT_FAILURE_RENDER_ERRORS, NON_RETRYABLE_RENDER_ERRORS } from '../shared/errors';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { RenderJobInputSchema, describeZodError } from '../shared/job-schema';
import type { RenderJobInput, RenderPolicy } from '../shared/job-schema';
import {
  INVALID_JOB_INPUT,
  RENDER_JOB_FAILED,
  changePrioritySignal,
  jobStateQuery,
  renderProgressSignal,
} from '../shared/messages';
import type { RenderJobResult } from '../shared/messages';
import type { ReadModelActivities } from '../activities/read-model';
import type { RenderActivities } from '../activities/render';
import { describeRenderFailure } from './failure-message';
import { JobStateKeeper } from './job-state';
import { Permit } from './permit';
import { legacyRenderJob } from './render-job-legacy';

/** Histories recorded before fleet-wide admission replay through the legacy code. */
export const FLEET_ADMISSION_PATCH = 'fleet-admission';

/**
 * The activity's own timeouts only back up the workflow's timer (a render past it is cancelled
 * by the workflow, which can still tell the renderer); they end an attempt nobody is running.
 */
const ACTIVITY_TIMEOUT_BACKSTOP_MS = 2 * 60_000;

/** Read inside the job's first workflow task, so its permit request goes out at once. */
const { loadRenderPolicy } = proxyLocalActivities<ReadModelActivities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

const minutesToMs = (minutes: number): number => Math.round(minutes * 60_000);

function renderActivities(input: RenderJobInput, policy: RenderPolicy): RenderActivities {
  const timeoutMs = minutesToMs(policy.jobTimeoutMinutes);
  return proxyActivities<RenderActivities>({
    taskQueue: RENDER_TASK_QUEUE[renderQueueFor(input.renderer)],
    startToCloseTimeout: timeoutMs + ACTIVITY_TIMEOUT_BACKSTOP_MS,
    scheduleToCloseTimeout: timeoutMs + ACTIVITY_TIMEOUT_BACKSTOP_MS,
    // Heartbeats run on a timer: a timeout means the worker is gone, and the retry resumes the render.
    heartbeatTimeout: LIMITS.renderHeartbeatTimeoutSeconds * 1000,
    // Eager dispatch would start the render before the server records it, on this worker only.
    allowEagerDispatch: false,
    // Wait for the activity to tell the renderer before the attempt counts as over.
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
    retry: {
      // Temporal's retries here are for lost workers only: resume at once, as often as it takes
      // (the attempt's timer bounds it). Every render failure is classified by the workflow.
      initialInterval: LIMITS.renderResumeIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: 10 * LIMITS.renderResumeIntervalMs,
      nonRetryableErrorTypes: [...NON_RETRYABLE_RENDER_ERRORS, ...ATTEMPT_FAILURE_RENDER_ERRORS],
    },
  });
}

/** Cleanup calls to a renderer: short, a few tries, best effort. */
function cleanupActivities(input: RenderJobInput): RenderActivities {
  return proxyActivities<RenderActivities>({
    taskQueue: RENDER_TASK_QUEUE[renderQueueFor(input.renderer)],
    startToCloseTimeout: '30s',
    retry: { maximumAttempts: 3, initialInterval: '1s' },
  });
}

async function readPolicy(): Promise<RenderPolicy> {
  try {
    return await loadRenderPolicy();
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('could not read render policy; using defaults', { error: String(err) });
    const { jobTimeoutMinutes, retryIntervalMinutes, maxAttempts } = DEFAULT_QUEUE_CONFIG;
    return { jobTimeoutMinutes, retryIntervalMinutes, maxAttempts };
  }
}

type AttemptOutcome =
  | { kind: 'completed'; videoUrl: string }
  | { kind: 'failed'; permanent: boolean; error: string };

/** Did the activity itself tell the renderer to stop? It says so in its cancellation details. */
function rendererToldByActivity(err: unknown): boolean {
  const cancelled = err instanceof ActivityFailure ? err.cause : err;
  if (!(cancelled instanceof CancelledFailure)) return false;
  const [details] = cancelled.details as Array<{ rendererTold?: boolean } | undefined>;
  return details?.rendererTold === true;
}

function classify(err: unknown, policy: RenderPolicy): AttemptOutcome {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const permanent =
    cause instanceof ApplicationFailure && NON_RETRYABLE_RENDER_ERRORS.includes(cause.type ?? '');
  return {
    kind: 'failed',
    permanent,
    error: describeRenderFailure(err, policy.jobTimeoutMinutes, LIMITS.renderHeartbeatTimeoutSeconds),
  };
}

export async function renderJob(rawInput: RenderJobInput): Promise<RenderJobResult> {
  const parsed = RenderJobInputSchema.safeParse(rawInput);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid job: ${describeZodError(parsed.error)}`,
      INVALID_JOB_INPUT,
    );
  }
  const input = parsed.data;
  if (!patched(FLEET_ADMISSION_PATCH)) return legacyRenderJob(input);

  const info = workflowInfo();
  const job = new JobStateKeeper(
    input,
    info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.jobId) !== undefined,
  );
  const { state } = job;
  /** The renderer's id for each attempt's render, as the activity reported it. */
  const renderIds = new Map<number, string>();
  const permit = new Permit({ jobId: input.jobId, renderer: input.renderer, priority: input.priority });

  setHandler(jobStateQuery, () => state);
  setHandler(changePrioritySignal, async ({ priority }) => {
    if (!PRIORITIES.includes(priority) || priority === state.priority) return;
    if (state.status !== 'queued' && state.status !== 'processing' && state.status !== 'retrying') return;
    job.reprioritized(priority);
    await permit.reprioritize(priority);
  });
  setHandler(renderProgressSignal, (update) => {
    if (update.phase === 'submitted' && update.renderId) renderIds.set(update.attempt, update.renderId);
    if (update.progress !== null) job.progress(update.attempt, update.progress);
  });

  job.publish();
  // Read while the job waits for its first permit: both are local activities of the first task.
  const policyRead = readPolicy();
  // Awaited below; a cancellation while the job waits must not count as an unhandled rejection.
  policyRead.catch(() => undefined);
  try {
    let attempts: AttemptRunner | undefined;
    for (let attempt = 1; ; attempt += 1) {
      await permit.acquire(attempt);
      const policy = await policyRead;
      attempts ??= new AttemptRunner(input, policy, renderIds);
      job.startAttempt(attempt, permit.accepted);
      let outcome: AttemptOutcome;
      try {
        outcome = await attempts.run(attempt, permit.accepted);
      } catch (err) {
        await permit.release(attempt, 'cancelled');
        throw err;
      }
      // Given back before anything else, so the next job in the queue starts as soon as possible.
      await permit.release(attempt, outcome.kind === 'completed' ? 'completed' : 'failed');
      if (outcome.kind === 'completed') {
        job.completed(outcome.videoUrl);
        await job.flushed();
        log.info('render job completed', { jobId: input.jobId, attempt });
        return { jobId: input.jobId, videoUrl: outcome.videoUrl, attempts: attempt };
      }
      if (outcome.permanent || attempt >= policy.maxAttempts) {
        job.failed(outcome.error);
        await job.flushed();
        log.warn('render job failed', { jobId: input.jobId, attempt, error: outcome.error });
        throw ApplicationFailure.nonRetryable(outcome.error, RENDER_JOB_FAILED, {
          jobId: input.jobId,
          attempts: attempt,
        });
      }
      const intervalMs = minutesToMs(policy.retryIntervalMinutes);
      job.retrying(outcome.error, new Date(new Date().getTime() + intervalMs).toISOString());
      log.info('render attempt failed; next attempt after the retry interval', {
        jobId: input.jobId,
        attempt,
        error: outcome.error,
      });
      await sleep(intervalMs);
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        job.cancelled();
        await job.flushed();
      });
      log.info('render job cancelled', { jobId: input.jobId, attempt: state.attempt });
    }
    throw err;
  }
}

/**
 * One render attempt: the render activity under the per-attempt timer. When the timer fires the
 * activity is cancelled (it tells the renderer), and if the activity could not (its worker is
 * gone) the renderer is told from here.
 */
class AttemptRunner {
  private readonly render: RenderActivities['render'];
  private readonly timeoutMs: number;

  constructor(
    private readonly input: RenderJobInput,
    private readonly policy: RenderPolicy,
    private readonly renderIds: ReadonlyMap<number, string>,
  ) {
    this.render = renderActivities(input, policy).render;
    this.timeoutMs = minutesToMs(policy.jobTimeoutMinutes);
  }

  async run(attempt: number, acceptedAt: string | null): Promise<AttemptOutcome> {
    const attemptScope = new CancellationScope();
    const timerScope = new CancellationScope();
    let timedOut = false;
    void timerScope
      .run(() => sleep(this.timeoutMs))
      .then(
        () => {
          timedOut = true;
          attemptScope.cancel();
        },
        () => undefined,
      );
    const { jobId, jobType, renderer, payload } = this.input;
    // Workflow time, as the timer's: a cancellation from then on is this attempt's timeout.
    const deadline = new Date(new Date().getTime() + this.timeoutMs).toISOString();
    try {
      const outcome = await attemptScope.run(() =>
        this.render({
          jobId,
          jobType,
          renderer,
          payload,
          attempt,
          maxAttempts: this.policy.maxAttempts,
          deadline,
          ...(acceptedAt ? { acceptedAt } : {}),
        }),
      );
      return { kind: 'completed', videoUrl: outcome.videoUrl };
    } catch (err) {
      if (timedOut || isCancellation(err)) await this.stopRender(attempt, err);
      if (timedOut) {
        return {
          kind: 'failed',
          permanent: false,
          error: `render timed out after ${this.policy.jobTimeoutMinutes} minutes`,
        };
      }
      if (isCancellation(err)) throw err;
      return classify(err, this.policy);
    } finally {
      timerScope.cancel();
    }
  }

  private async stopRender(attempt: number, err: unknown): Promise<void> {
    const renderId = this.renderIds.get(attempt);
    if (!renderId || rendererToldByActivity(err)) return;
    await CancellationScope.nonCancellable(() =>
      cleanupActivities(this.input)
        .cancelRender({ renderer: this.input.renderer, renderId })
        .catch((cleanupErr: unknown) =>
          log.warn('could not tell the renderer to stop', { renderId, error: String(cleanupErr) }),
        ),
    );
  }
}
