/**
 * The activity interceptor of the render Workers: it feeds the render metrics with how each
 * render attempt ended, how long it took, and how long the job waited for its first one.
 */
import type { Context as ActivityContext } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { PRIORITIES, PRIORITY_KEY, RENDERERS } from '../shared/constants';
import { NON_RETRYABLE_RENDER_ERRORS, RENDER_ERROR } from '../shared/errors';
import type { RenderActivityInput } from '../renderers/contract';
import type { RenderAttemptEnd, RenderMetrics } from './render-metrics';

/**
 * How a failed render attempt ended. Since fleet-wide admission the activity's input says which
 * render attempt it is, whether it is the last, and when the workflow's timeout ends it; before,
 * the Temporal retry policy said so.
 */
export function classifyRenderFailure(
  error: unknown,
  ctx: Pick<ActivityContext, 'info' | 'cancellationDetails'>,
  input?: Pick<RenderActivityInput, 'attempt' | 'maxAttempts' | 'deadline'>,
): Exclude<RenderAttemptEnd, 'completed'> {
  if (input?.attempt !== undefined) return classifyAttemptFailure(error, ctx, input);
  const details = ctx.cancellationDetails;
  if (error instanceof CancelledFailure || details) {
    // Timeouts, worker shutdown and pauses also cancel the attempt; only a request from the
    // workflow ends the render. Without details (older servers) a cancellation is taken at its word.
    if (!details || details.cancelRequested) return 'cancelled';
  }
  const policy = ctx.info.retryPolicy;
  if (error instanceof ApplicationFailure) {
    if (error.nonRetryable) return 'failed';
    if (error.type && policy?.nonRetryableErrorTypes?.includes(error.type)) return 'failed';
  }
  const max = policy?.maximumAttempts ?? 0;
  return max > 0 && ctx.info.attempt >= max ? 'failed' : 'retried';
}

function classifyAttemptFailure(
  error: unknown,
  ctx: Pick<ActivityContext, 'cancellationDetails'>,
  input: Pick<RenderActivityInput, 'attempt' | 'maxAttempts' | 'deadline'>,
): Exclude<RenderAttemptEnd, 'completed'> {
  const attemptFailed = (): 'failed' | 'retried' =>
    input.maxAttempts !== undefined && (input.attempt ?? 1) < input.maxAttempts ? 'retried' : 'failed';
  if (error instanceof ApplicationFailure && error.type === RENDER_ERROR.workerLost) return 'lost';
  if (error instanceof CancelledFailure || ctx.cancellationDetails?.cancelRequested) {
    // The workflow cancels an attempt at its timeout, which is a failed attempt; any other
    // cancellation request is the job's.
    const timedOut = input.deadline !== undefined && Date.now() >= Date.parse(input.deadline) - 1000;
    return timedOut ? attemptFailed() : 'cancelled';
  }
  if (error instanceof ApplicationFailure && NON_RETRYABLE_RENDER_ERRORS.includes(error.type ?? ''))
    return 'failed';
  return attemptFailed();
}

function rendererLabel(input: unknown): string {
  const renderer = (input as { renderer?: unknown } | undefined)?.renderer;
  return typeof renderer === 'string' && (RENDERERS as readonly string[]).includes(renderer)
    ? renderer
    : 'unknown';
}

/** The priority a task carries (activities inherit the workflow's priority key), by name. */
function priorityLabel(priorityKey: number | undefined): string {
  return PRIORITIES.find((p) => PRIORITY_KEY[p] === priorityKey) ?? 'unknown';
}

/** Feeds attempt outcomes, durations, retries and queue waits; add it to the render Workers' `interceptors.activity`. */
export function renderMetricsInterceptor(
  metrics: RenderMetrics,
  activityType = 'render',
): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        if (ctx.info.activityType !== activityType) return next(input);
        const args = (input.args[0] ?? {}) as Partial<RenderActivityInput>;
        const renderer = rendererLabel(args);
        // The render attempt (since fleet-wide admission in the input; before, Temporal's attempt).
        const renderAttempt = args.attempt ?? ctx.info.attempt;
        if (args.attempt !== undefined && ctx.info.attempt > 1) metrics.resumes.inc({ renderer });
        else if (renderAttempt > 1) metrics.retries.inc({ renderer });
        else {
          // From admission's acceptance (the server's clock; a worker clock behind it must not
          // yield < 0), or, for workflows from before admission, from the render's scheduling.
          const since = args.acceptedAt ? Date.parse(args.acceptedAt) : ctx.info.scheduledTimestampMs;
          metrics.queueWait.observe(
            { renderer, priority: priorityLabel(ctx.info.priority?.priorityKey) },
            Math.max(0, (Date.now() - since) / 1000),
          );
        }
        const started = performance.now();
        const seconds = () => (performance.now() - started) / 1000;
        try {
          const result = await next(input);
          metrics.recordRenderAttempt({ renderer, outcome: 'completed', durationSeconds: seconds() });
          return result;
        } catch (error) {
          const outcome = classifyRenderFailure(error, ctx, args);
          metrics.recordRenderAttempt({ renderer, outcome, durationSeconds: seconds() });
          throw error;
        }
      },
    },
  });
}
