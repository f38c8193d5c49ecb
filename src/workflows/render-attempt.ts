/**
 * One render attempt of a job: the render activity under the per-attempt timer, and how its
 * end is told apart (completed, failed for good, failed with attempts left, timed out).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { LIMITS, RENDER_TASK_QUEUE, SYNC_TASK_QUEUE, renderQueueFor } from '../shared/constants';
import { ATTEMPT_FAILURE_RENDER_ERRORS, NON_RETRYABLE_RENDER_ERRORS } from '../shared/errors';
import type { RenderJobInput, RenderPolicy } from '../shared/job-schema';
import type { RenderActivities, RenderActivityInput } from '../activities/render';
import { describeRenderFailure } from './failure-message';

/**
 * The activity's own timeouts only back up the workflow's timer (a render past it is cancelled
 * by the workflow, which can still tell the renderer); they end an attempt nobody is running.
 */
const ACTIVITY_TIMEOUT_BACKSTOP_MS = 2 * 60_000;

/** How long a render the renderer acknowledged stopping gets to end its activity by itself (2 polls). */
const STOPPED_RENDER_GRACE_MS = 2 * LIMITS.renderPollIntervalMs;

export const minutesToMs = (minutes: number): number => Math.round(minutes * 60_000);

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

/**
 * Cleanup calls to a renderer: short, a few tries, best effort, and bounded: the attempt is
 * cancelled after it either way. On the sync queue, never behind a render slot: the render being
 * stopped may hold the last one.
 */
function cleanupActivities(): RenderActivities {
  return proxyActivities<RenderActivities>({
    taskQueue: SYNC_TASK_QUEUE,
    startToCloseTimeout: '10s',
    scheduleToCloseTimeout: '30s',
    retry: { maximumAttempts: 3, initialInterval: '1s' },
  });
}

export type AttemptOutcome =
  | { kind: 'completed'; videoUrl: string; recorded: boolean; released: boolean }
  | { kind: 'failed'; permanent: boolean; error: string };

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

/**
 * One render attempt: the render activity under the per-attempt timer. The attempt is shielded
 * from the job's cancellation, so that when the job is cancelled or the timer fires the render is
 * stopped first, found by its activity's last heartbeat whether or not a worker runs the activity
 * at that moment; only then is the activity cancelled.
 */
export class AttemptRunner {
  private readonly render: RenderActivities['render'];
  private readonly stop: RenderActivities['stopRender'];
  private readonly timeoutMs: number;

  constructor(
    private readonly input: RenderJobInput,
    private readonly policy: RenderPolicy,
  ) {
    this.render = renderActivities(input, policy).render;
    this.stop = cleanupActivities().stopRender;
    this.timeoutMs = minutesToMs(policy.jobTimeoutMinutes);
  }

  async run(
    attempt: number,
    readModel: NonNullable<RenderActivityInput['readModel']>,
  ): Promise<AttemptOutcome> {
    const job = CancellationScope.current();
    return CancellationScope.nonCancellable(async () => {
      const attemptScope = new CancellationScope();
      const timerScope = new CancellationScope();
      let ending: 'timeout' | 'cancelled' | undefined;
      let over = false;
      const end = async (why: 'timeout' | 'cancelled'): Promise<void> => {
        if (ending || over) return;
        ending = why;
        const stopped = await this.stopRender(attempt);
        // A render the renderer has stopped ends its activity at the next status poll: waiting
        // for that spares the renderer a second DELETE and the server a cancel that crosses the
        // activity's own end. Otherwise (no answer, no worker) cancel at once.
        if (stopped) await condition(() => over, STOPPED_RENDER_GRACE_MS);
        if (!over) attemptScope.cancel();
      };
      void timerScope
        .run(() => sleep(this.timeoutMs))
        .then(
          () => end('timeout'),
          () => undefined,
        );
      job.cancelRequested.catch(() => end('cancelled'));
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
            ...(readModel.acceptedAt ? { acceptedAt: readModel.acceptedAt } : {}),
            readModel,
            releasesPermit: true,
          }),
        );
        return {
          kind: 'completed',
          videoUrl: outcome.videoUrl,
          recorded: outcome.recorded === true,
          released: outcome.released === true,
        };
      } catch (err) {
        if (ending === 'timeout') {
          return {
            kind: 'failed',
            permanent: false,
            error: `render timed out after ${this.policy.jobTimeoutMinutes} minutes`,
          };
        }
        // The render may have ended on our stop before the activity heard of the cancellation.
        if (ending === 'cancelled' && !isCancellation(err)) {
          throw new CancelledFailure('render job cancelled', [], err instanceof Error ? err : undefined);
        }
        if (isCancellation(err)) throw err;
        return classify(err, this.policy);
      } finally {
        over = true;
        timerScope.cancel();
      }
    });
  }

  /** Best effort: the activity also tells the renderer when it is cancelled while running. */
  private async stopRender(attempt: number): Promise<boolean> {
    try {
      const { acknowledged } = await this.stop({
        renderer: this.input.renderer,
        workflowId: workflowInfo().workflowId,
        attempt,
      });
      return acknowledged;
    } catch (err) {
      log.warn('could not tell the renderer to stop', { attempt, error: String(err) });
      return false;
    }
  }
}
