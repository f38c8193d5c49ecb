/**
 * The render activity: submits a job to its renderer and polls it to the end, one Temporal
 * attempt at a time.
 *
 * Temporal behaviour this relies on:
 * - It heartbeats after each successful renderer answer, never on a timer: when the renderer
 *   stops answering, heartbeats stop and the heartbeat timeout retries the attempt (seconds, not
 *   the 10-minute start-to-close). The same holds when this worker dies.
 * - The heartbeat details name the render, so the next attempt resumes polling it instead of
 *   rendering the job twice.
 * - Cancellation reaches an activity only through heartbeats; it aborts the in-flight HTTP call
 *   and the sleep between polls, and the renderer is then told to stop (DELETE, best effort).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, type Logger } from '@temporalio/common';
import { LIMITS, renderJobWorkflowId, type Renderer } from '../shared/constants';
import { RENDER_ERROR } from '../shared/errors';
import { describeZodError } from '../shared/job-schema';
import {
  RenderActivityInputSchema,
  RenderHeartbeatDetailsSchema,
  type RenderActivityInput,
  type RenderHeartbeatDetails,
  type RenderOutcome,
  type RenderProgressUpdate,
  type RenderStatus,
} from '../renderers/contract';
import type { RendererAdapter } from '../renderers/http-client';

export type {
  RenderActivityInput,
  RenderHeartbeatDetails,
  RenderOutcome,
  RenderProgressUpdate,
} from '../renderers/contract';
import { withTimeout } from '../util/with-timeout';

export interface RenderActivityDeps {
  renderers: Record<Renderer, RendererAdapter>;
  /** Tells the workflow about progress; best effort, it never fails a render. */
  reportProgress: (update: RenderProgressUpdate) => Promise<void>;
  /** Defaults to LIMITS.renderPollIntervalMs. */
  pollIntervalMs?: number;
  /** Defaults to the activity context's logger. */
  logger?: Logger;
  /** How long one progress report may take before it is abandoned; default 5 s. */
  progressReportTimeoutMs?: number;
  /**
   * How long polling rides out retryable errors (5xx, bad answers) since the last good answer
   * before failing the attempt; defaults to the activity's heartbeat timeout, after which
   * Temporal would give up on the attempt anyway.
   */
  pollErrorToleranceMs?: number;
}

export interface RenderActivities {
  render(input: RenderActivityInput): Promise<RenderOutcome>;
}

const DEFAULT_PROGRESS_REPORT_TIMEOUT_MS = 5_000;

interface Run {
  ctx: Context;
  input: RenderActivityInput;
  attempt: number;
  renderer: RendererAdapter;
  log: Logger;
  fields: Record<string, unknown>;
  progress: ProgressReporter;
}

export function createRenderActivities(deps: RenderActivityDeps): RenderActivities {
  const pollIntervalMs = deps.pollIntervalMs ?? LIMITS.renderPollIntervalMs;

  async function render(rawInput: RenderActivityInput): Promise<RenderOutcome> {
    const ctx = Context.current();
    const input = parseInput(rawInput);
    const attempt = ctx.info.attempt;
    const log = deps.logger ?? ctx.log;
    // Ids only: payloads may hold user content and never go to logs.
    const fields: Record<string, unknown> = { jobId: input.jobId, renderer: input.renderer, attempt };
    const reporter = new ProgressReporter(deps, workflowIdOf(ctx, input), attempt, log, fields);
    const run: Run = {
      ctx,
      input,
      attempt,
      renderer: deps.renderers[input.renderer],
      log,
      fields,
      progress: reporter,
    };

    // Told in parallel with the submit: the render's start must not wait for the signal's round trip.
    const startReported = reporter.started();
    let renderId: string | undefined;
    try {
      const resumed = await resume(run);
      renderId = resumed?.renderId ?? (await submit(run));
      await startReported; // before any progress report, so the workflow sees them in order
      return await poll(run, renderId, resumed?.status);
    } catch (error) {
      if (ctx.cancellationSignal.aborted) throw await onCancelled(run, renderId, error);
      throw error;
    }
  }

  /** Heartbeat details of a previous attempt name its render: keep polling it if it still runs. */
  async function resume(run: Run): Promise<{ renderId: string; status: RenderStatus } | undefined> {
    const raw: unknown = run.ctx.info.heartbeatDetails;
    if (raw === undefined || raw === null) return undefined;
    const details = RenderHeartbeatDetailsSchema.safeParse(raw);
    if (!details.success) {
      run.log.warn('ignoring unreadable heartbeat details', {
        ...run.fields,
        error: describeZodError(details.error),
      });
      return undefined;
    }
    const { renderId } = details.data;
    let status: RenderStatus;
    try {
      status = await run.renderer.status(renderId, run.ctx.cancellationSignal);
    } catch (error) {
      // Only a renderer that answered "no such render" (or refused) lets us start afresh; when it
      // is merely unreachable the render may still be running, and a second one would double-render.
      const type = error instanceof ApplicationFailure ? error.type : undefined;
      if (type !== RENDER_ERROR.failed && type !== RENDER_ERROR.rejected) throw error;
      run.log.warn('previous render is gone; submitting a new one', {
        ...run.fields,
        renderId,
        error: message(error),
      });
      return undefined;
    }
    if (status.status === 'failed') {
      run.log.info('previous render failed; submitting a new one', { ...run.fields, renderId });
      return undefined;
    }
    run.log.info('resuming previous render', { ...run.fields, renderId, status: status.status });
    return { renderId, status };
  }

  async function submit(run: Run): Promise<string> {
    const { input, attempt } = run;
    const request = { jobId: input.jobId, jobType: input.jobType, attempt, payload: input.payload };
    const { renderId } = await run.renderer.submit(request, run.ctx.cancellationSignal);
    heartbeat(run, { phase: 'submitted', renderId, progress: null, attempt });
    run.log.info('render submitted', { ...run.fields, renderId });
    return renderId;
  }

  async function poll(run: Run, renderId: string, first: RenderStatus | undefined): Promise<RenderOutcome> {
    const tolerance =
      deps.pollErrorToleranceMs ??
      run.ctx.info.heartbeatTimeoutMs ??
      1000 * LIMITS.renderHeartbeatTimeoutSeconds;
    let lastAnswerAt = Date.now();
    let status = first;
    // Short renders are noticed fast, long ones cost one request per interval: start at 1/8 of the
    // interval and double up to it.
    let delay = Math.max(1, Math.round(pollIntervalMs / 8));
    for (;;) {
      if (status) {
        const progress = status.progress ?? null;
        heartbeat(run, {
          phase: status.status === 'queued' ? 'submitted' : 'rendering',
          renderId,
          progress,
          attempt: run.attempt,
        });
        await run.progress.update(progress);
        if (status.status === 'completed') return completed(run, renderId, status);
        if (status.status === 'failed') throw renderFailed(run, renderId, status);
      }
      await run.ctx.sleep(delay);
      delay = Math.min(delay * 2, pollIntervalMs);
      try {
        status = await run.renderer.status(renderId, run.ctx.cancellationSignal);
        lastAnswerAt = Date.now();
      } catch (error) {
        const transient =
          error instanceof ApplicationFailure && !error.nonRetryable && error.type !== RENDER_ERROR.failed;
        if (!transient || run.ctx.cancellationSignal.aborted || Date.now() - lastAnswerAt >= tolerance)
          throw error;
        run.log.warn('render status unavailable; polling on', {
          ...run.fields,
          renderId,
          error: message(error),
        });
        status = undefined;
      }
    }
  }

  return { render };
}

function parseInput(rawInput: unknown): RenderActivityInput {
  const parsed = RenderActivityInputSchema.safeParse(rawInput);
  if (parsed.success) return parsed.data;
  throw ApplicationFailure.nonRetryable(
    `render input is invalid: ${describeZodError(parsed.error)}`,
    RENDER_ERROR.invalidPayload,
  );
}

/** Standalone activity runs have no workflow; the job's workflow id is then derived from its job id. */
function workflowIdOf(ctx: Context, input: RenderActivityInput): string {
  return ctx.info.workflowExecution?.workflowId ?? renderJobWorkflowId(input.jobId);
}

function heartbeat(run: Run, details: RenderHeartbeatDetails): void {
  run.ctx.heartbeat(details);
}

function completed(run: Run, renderId: string, status: RenderStatus): RenderOutcome {
  // The schema guarantees an http(s) videoUrl on a completed status.
  const videoUrl = status.videoUrl as string;
  run.log.info('render completed', { ...run.fields, renderId });
  return { videoUrl, renderId, attempt: run.attempt };
}

function renderFailed(run: Run, renderId: string, status: RenderStatus): ApplicationFailure {
  const permanent = status.retryable === false;
  const reason = status.error ?? 'no reason given';
  run.log.warn('render failed', { ...run.fields, renderId, permanent });
  return ApplicationFailure.create({
    type: permanent ? RENDER_ERROR.failedPermanently : RENDER_ERROR.failed,
    message: `${run.renderer.name} reported render ${renderId} failed${permanent ? ' permanently' : ''}: ${reason}`,
    nonRetryable: permanent,
  });
}

/**
 * Tells the renderer to stop when the workflow asked for cancellation. A worker shutdown, a
 * timeout or a pause also abort the signal, but there the next attempt should pick the render
 * up again, so it is left running.
 */
async function onCancelled(run: Run, renderId: string | undefined, error: unknown): Promise<unknown> {
  const details = run.ctx.cancellationDetails;
  const requested = details ? details.cancelRequested : true;
  if (requested && renderId) {
    const acknowledged = await run.renderer.cancel(renderId);
    run.log.info('render cancelled', { ...run.fields, renderId, rendererAcknowledged: acknowledged });
  } else {
    run.log.info('render attempt aborted', {
      ...run.fields,
      renderId: renderId ?? null,
      cancelRequested: requested,
    });
  }
  if (error instanceof CancelledFailure) return error;
  const reason: unknown = run.ctx.cancellationSignal.reason;
  return reason instanceof CancelledFailure
    ? reason
    : new CancelledFailure('render cancelled', [], asError(error));
}

/** Sends progress to the workflow in LIMITS.progressSignalStep steps, never failing the render. */
class ProgressReporter {
  private lastReported = 0;

  constructor(
    private readonly deps: Pick<RenderActivityDeps, 'reportProgress' | 'progressReportTimeoutMs'>,
    private readonly workflowId: string,
    private readonly attempt: number,
    private readonly log: Logger,
    private readonly fields: Record<string, unknown>,
  ) {}

  started(): Promise<void> {
    return this.send('started', null);
  }

  async update(progress: number | null): Promise<void> {
    // The epsilon keeps 0.3 - 0.2 (0.0999...) counting as a full step.
    if (progress === null || progress - this.lastReported < LIMITS.progressSignalStep - 1e-9) return;
    this.lastReported = progress;
    await this.send('progress', progress);
  }

  private async send(phase: RenderProgressUpdate['phase'], progress: number | null): Promise<void> {
    const timeoutMs = this.deps.progressReportTimeoutMs ?? DEFAULT_PROGRESS_REPORT_TIMEOUT_MS;
    try {
      // The async wrapper turns a synchronous throw of the reporter into a rejection too.
      const report = (async () =>
        this.deps.reportProgress({ workflowId: this.workflowId, attempt: this.attempt, phase, progress }))();
      await withTimeout(report, timeoutMs, `progress report timed out after ${timeoutMs} ms`);
    } catch (error) {
      this.log.warn('progress report failed', { ...this.fields, phase, error: message(error) });
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asError(error: unknown): Error | undefined {
  return error instanceof Error ? error : undefined;
}
