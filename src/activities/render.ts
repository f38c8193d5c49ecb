/**
 * The render activity: submits one render attempt of a job to its renderer and polls it to the
 * end.
 *
 * Temporal behaviour this relies on:
 * - Heartbeats run on a timer once the render is submitted, whatever the renderer answers: a
 *   heartbeat timeout means this worker is gone. The workflow's retry policy retries only that,
 *   at once, and the next worker resumes the same render from the heartbeat details (its id), so
 *   a lost worker costs neither an attempt nor a second render.
 * - The renderer's own trouble (an error, 5xx, a bad answer, no answer for
 *   LIMITS.renderPollErrorToleranceMs) fails the attempt with a typed ApplicationFailure that the
 *   workflow classifies: a failed attempt, or a job that cannot succeed.
 * - Cancellation reaches an activity only through heartbeats; it aborts the in-flight HTTP call
 *   and the sleep between polls, and the renderer is then told to stop (DELETE, best effort).
 *
 * Inputs without `attempt` come from workflows started before fleet-wide admission, where each
 * Temporal attempt was a render attempt; they keep that behaviour (see `legacy` below).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, type Logger } from '@temporalio/common';
import { LIMITS, renderJobWorkflowId, type Renderer } from '../shared/constants';
import { ATTEMPT_FAILURE_RENDER_ERRORS, NON_RETRYABLE_RENDER_ERRORS, RENDER_ERROR } from '../shared/errors';
import { describeZodError } from '../shared/job-schema';
import {
  CancelRenderInputSchema,
  RenderActivityInputSchema,
  RenderHeartbeatDetailsSchema,
  StopRenderInputSchema,
  type CancelRenderInput,
  type StopRenderInput,
  type RenderActivityInput,
  type RenderHeartbeatDetails,
  type RenderResult,
  type RenderProgressUpdate,
  type RenderStatusResponse,
} from '../renderers/contract';
import type { RendererAdapter } from '../renderers/http-client';
import type { PermitRelease } from '../shared/admission-messages';
import type { JobStore } from '../store/job-store';
import { AttemptRows, RowWriter } from './row-writer';

export type {
  StopRenderInput,
  CancelRenderInput,
  RenderActivityInput,
  RenderHeartbeatDetails,
  RenderResult,
  RenderProgressUpdate,
} from '../renderers/contract';
import { withTimeout } from '../util/with-timeout';
import { errorMessage } from '../shared/error-message';

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
   * How long polling rides out retryable errors (5xx, bad answers, no answer) since the last good
   * answer before failing the attempt; defaults to LIMITS.renderPollErrorToleranceMs.
   */
  pollErrorToleranceMs?: number;
  /** How often a running render heartbeats; defaults to LIMITS.renderHeartbeatEveryMs. */
  heartbeatEveryMs?: number;
  /** Where the attempt's own rows go when the workflow leaves them to the activity (`readModel`). */
  store?: Pick<JobStore, 'applyTransition'>;
  /** Gives a finished render's permit back (`releasesPermit`), so the next job starts at once. */
  releasePermit?: (release: PermitRelease) => Promise<void>;
  /** The last heartbeat details of a workflow's pending render activities (for stopRender). */
  pendingRenders?: (workflowId: string) => Promise<unknown[]>;
}

export interface RenderActivities {
  render(input: RenderActivityInput): Promise<RenderResult>;
  /** Tells a renderer to stop a render whose activity could not (its worker was gone). */
  cancelRender(input: CancelRenderInput): Promise<{ acknowledged: boolean }>;
  /**
   * Stops the render of a workflow's running attempt, found by its activity's last heartbeat:
   * run by the workflow before it cancels the attempt, so the renderer is told even when no
   * worker runs the activity at that moment.
   */
  stopRender(input: StopRenderInput): Promise<{ renderId: string | null; acknowledged: boolean }>;
}

/** Failures the renderer reported about the render itself: nothing is left running there. */
const RENDERER_ENDED = new Set<string>([
  RENDER_ERROR.failed,
  RENDER_ERROR.failedPermanently,
  RENDER_ERROR.rejected,
]);

/** Every failure type the workflow classifies itself; anything else is reported as unexpected. */
const CLASSIFIED_FAILURES = new Set([...NON_RETRYABLE_RENDER_ERRORS, ...ATTEMPT_FAILURE_RENDER_ERRORS]);

const DEFAULT_PROGRESS_REPORT_TIMEOUT_MS = 5_000;
const PERMIT_RELEASE_TIMEOUT_MS = 5_000;

interface Run {
  ctx: Context;
  input: RenderActivityInput;
  /** The job's render attempt. */
  attempt: number;
  /** Started before fleet-wide admission: every Temporal attempt is a render attempt. */
  legacy: boolean;
  renderer: RendererAdapter;
  log: Logger;
  fields: Record<string, unknown>;
  progress: ProgressReporter;
  /** Set when the workflow leaves this attempt's rows to the activity. */
  rows: AttemptRows | undefined;
  heartbeat: Heartbeat;
}

export function createRenderActivities(deps: RenderActivityDeps): RenderActivities {
  const pollIntervalMs = deps.pollIntervalMs ?? LIMITS.renderPollIntervalMs;

  async function render(rawInput: RenderActivityInput): Promise<RenderResult> {
    const ctx = Context.current();
    const input = parseInput(rawInput);
    const legacy = input.attempt === undefined;
    const attempt = input.attempt ?? ctx.info.attempt;
    const log = deps.logger ?? ctx.log;
    // Ids only: payloads may hold user content and never go to logs.
    const fields: Record<string, unknown> = { jobId: input.jobId, renderer: input.renderer, attempt };
    if (!legacy && ctx.info.attempt > 1) fields.resumedBy = ctx.info.attempt;
    const reporter = new ProgressReporter(deps, workflowIdOf(ctx, input), attempt, log, fields);
    const writer =
      input.readModel && deps.store
        ? new RowWriter({ store: deps.store, log, fields, job: input.readModel.job })
        : undefined;
    const run: Run = {
      ctx,
      input,
      attempt,
      legacy,
      renderer: deps.renderers[input.renderer],
      log,
      fields,
      progress: reporter,
      rows:
        writer && input.readModel
          ? new AttemptRows(writer, input.jobId, attempt, input.readModel)
          : undefined,
      heartbeat: new Heartbeat(ctx, deps.heartbeatEveryMs ?? LIMITS.renderHeartbeatEveryMs),
    };

    // Legacy: told in parallel with the submit, so the start does not wait for the signal's round trip.
    const startReported = legacy ? reporter.started() : Promise.resolve();
    let renderId: string | undefined;
    try {
      const resumed = await resume(run);
      renderId = resumed?.renderId ?? (await submit(run));
      run.rows?.processing();
      // Workflows that leave the rows to the activity find the render's id in its heartbeat
      // details when they need it (see stopRender); older ones are told, before any progress.
      if (legacy) await startReported;
      else if (!input.readModel) await reporter.submitted(renderId);
      const outcome = await poll(run, renderId, resumed?.status);
      return await finish(run, outcome);
    } catch (error) {
      if (ctx.cancellationSignal.aborted) throw await onCancelled(run, renderId, error);
      if (legacy) throw error;
      const failure = classified(error);
      if (renderId && !RENDERER_ENDED.has(failure.type ?? '')) await abandon(run, renderId, failure);
      throw failure;
    } finally {
      run.heartbeat.stop();
      writer?.stop();
    }
  }

  /**
   * The video is there: its row and the permit go first, together, so the next job starts at once
   * (the two do not depend on each other: each falls back to the workflow on its own).
   */
  async function finish(run: Run, outcome: RenderResult): Promise<RenderResult> {
    const release = async (): Promise<boolean | undefined> => {
      if (!run.input.releasesPermit || !deps.releasePermit) return undefined;
      try {
        await withTimeout(
          deps.releasePermit({ jobId: run.input.jobId, attempt: run.attempt, outcome: 'completed' }),
          PERMIT_RELEASE_TIMEOUT_MS,
          `permit release timed out after ${PERMIT_RELEASE_TIMEOUT_MS} ms`,
        );
        return true;
      } catch (error) {
        // The workflow gives it back instead.
        run.log.warn('could not give the permit back; the workflow will', {
          ...run.fields,
          error: message(error),
        });
        return false;
      }
    };
    const [recorded, released] = await Promise.all([
      run.rows ? run.rows.completed(outcome.videoUrl) : undefined,
      release(),
    ]);
    return {
      ...outcome,
      ...(recorded === undefined ? {} : { recorded }),
      ...(released === undefined ? {} : { released }),
    };
  }

  async function cancelRender(rawInput: CancelRenderInput): Promise<{ acknowledged: boolean }> {
    const parsed = CancelRenderInputSchema.safeParse(rawInput);
    if (!parsed.success) {
      throw ApplicationFailure.nonRetryable(
        `cancel input is invalid: ${describeZodError(parsed.error)}`,
        RENDER_ERROR.invalidPayload,
      );
    }
    const { renderer, renderId } = parsed.data;
    const acknowledged = await deps.renderers[renderer].cancel(renderId);
    (deps.logger ?? Context.current().log).info('render cancelled by the workflow', {
      renderer,
      renderId,
      rendererAcknowledged: acknowledged,
    });
    return { acknowledged };
  }

  async function stopRender(
    rawInput: StopRenderInput,
  ): Promise<{ renderId: string | null; acknowledged: boolean }> {
    const parsed = StopRenderInputSchema.safeParse(rawInput);
    if (!parsed.success) {
      throw ApplicationFailure.nonRetryable(
        `stop input is invalid: ${describeZodError(parsed.error)}`,
        RENDER_ERROR.invalidPayload,
      );
    }
    const { renderer, workflowId, attempt } = parsed.data;
    if (!deps.pendingRenders) return { renderId: null, acknowledged: false };
    const log = deps.logger ?? Context.current().log;
    for (const raw of await deps.pendingRenders(workflowId)) {
      const details = RenderHeartbeatDetailsSchema.safeParse(raw);
      if (!details.success || details.data.attempt !== attempt) continue;
      const { renderId } = details.data;
      const acknowledged = await deps.renderers[renderer].cancel(renderId);
      log.info('render stopped by the workflow', {
        renderer,
        renderId,
        attempt,
        rendererAcknowledged: acknowledged,
      });
      return { renderId, acknowledged };
    }
    // Not submitted yet (or its first heartbeat has not reached the server): the activity itself
    // tells the renderer when it is cancelled.
    return { renderId: null, acknowledged: false };
  }

  /**
   * Heartbeat details of an earlier try of this attempt name its render: keep polling it. Legacy
   * workflows also resume across render attempts, and start afresh when that render failed.
   */
  async function resume(run: Run): Promise<{ renderId: string; status?: RenderStatusResponse } | undefined> {
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
    if (!run.legacy) {
      if (details.data.attempt !== run.attempt) return undefined;
      // The worker that ran it is gone; the render itself may still be going at the renderer.
      run.heartbeat.update(details.data);
      run.log.info('resuming render after a lost worker', { ...run.fields, renderId });
      return { renderId };
    }
    let status: RenderStatusResponse;
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
    // The first heartbeat carries the render's id, so a worker that dies from here on is resumed.
    run.heartbeat.update({ phase: 'submitted', renderId, progress: null, attempt });
    run.log.info('render submitted', { ...run.fields, renderId });
    return renderId;
  }

  async function poll(
    run: Run,
    renderId: string,
    first: RenderStatusResponse | undefined,
  ): Promise<RenderResult> {
    const tolerance = deps.pollErrorToleranceMs ?? LIMITS.renderPollErrorToleranceMs;
    let lastAnswerAt = Date.now();
    let status = first;
    // Short renders are noticed fast, long ones cost one request per interval: ask at once (a
    // renderer may answer from its cache), then after 1/8 of the interval, doubling up to it.
    let delay = 0;
    for (;;) {
      if (status) {
        const progress = status.progress ?? null;
        run.heartbeat.update({
          phase: status.status === 'queued' ? 'submitted' : 'rendering',
          renderId,
          progress,
          attempt: run.attempt,
        });
        if (run.rows) run.rows.progress(progress);
        else await run.progress.update(progress);
        if (status.status === 'completed') return completed(run, renderId, status);
        if (status.status === 'failed') throw renderFailed(run, renderId, status);
      }
      if (delay > 0) await run.ctx.sleep(delay);
      delay = delay === 0 ? Math.max(1, Math.round(pollIntervalMs / 8)) : Math.min(delay * 2, pollIntervalMs);
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

  return { render, cancelRender, stopRender };
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

/**
 * Heartbeats on a timer with the newest details, so a heartbeat timeout means the worker is gone
 * and never that the renderer is slow (Core throttles what reaches the server).
 */
class Heartbeat {
  private details: RenderHeartbeatDetails | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly everyMs: number,
  ) {}

  update(details: RenderHeartbeatDetails): void {
    this.details = details;
    this.ctx.heartbeat(details);
    this.timer ??= setInterval(() => this.ctx.heartbeat(this.details), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Renderer failures keep their type (the workflow classifies them); anything else is a bug or an
 * environment problem this code did not foresee, reported as such and counted as a failed attempt.
 */
function classified(error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure && CLASSIFIED_FAILURES.has(error.type ?? '')) return error;
  return ApplicationFailure.create({
    type: RENDER_ERROR.unexpected,
    message: `render activity failed unexpectedly: ${message(error)}`,
    nonRetryable: true,
    cause: asError(error),
  });
}

function completed(run: Run, renderId: string, status: RenderStatusResponse): RenderResult {
  // The schema guarantees an http(s) videoUrl on a completed status.
  const videoUrl = status.videoUrl as string;
  run.log.info('render completed', { ...run.fields, renderId });
  return { videoUrl, renderId, attempt: run.attempt };
}

function renderFailed(run: Run, renderId: string, status: RenderStatusResponse): ApplicationFailure {
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
 * The attempt fails for a reason the renderer did not report (it stopped answering, answered
 * garbage): its render may still be running there, beyond the caps. Tell it to stop, best effort.
 */
async function abandon(run: Run, renderId: string, failure: ApplicationFailure): Promise<void> {
  const acknowledged = await run.renderer.cancel(renderId);
  run.log.warn('render attempt failed; told the renderer to stop it', {
    ...run.fields,
    renderId,
    failure: failure.type,
    rendererAcknowledged: acknowledged,
  });
}

/**
 * Tells the renderer to stop when the workflow asked for cancellation (a cancelled job, or the
 * attempt's timeout), and says so in the cancellation's details. A worker shutdown, a lost
 * heartbeat or a pause also abort the signal, but there the render goes on and the next worker
 * picks it up: the activity fails as `RenderWorkerLost`, which Temporal retries at once.
 */
async function onCancelled(run: Run, renderId: string | undefined, error: unknown): Promise<unknown> {
  const details = run.ctx.cancellationDetails;
  // A workflow that no longer exists (terminated) wants its render stopped as much as one that asked.
  const requested = details ? details.cancelRequested || details.notFound : true;
  let rendererTold = false;
  if (requested && renderId) {
    rendererTold = await run.renderer.cancel(renderId);
    run.log.info('render cancelled', { ...run.fields, renderId, rendererAcknowledged: rendererTold });
  } else {
    run.log.info('render attempt aborted', {
      ...run.fields,
      renderId: renderId ?? null,
      cancelRequested: requested,
    });
  }
  if (!requested && !run.legacy && !details?.paused && !details?.reset) {
    return ApplicationFailure.retryable(
      `the worker running this render stopped (${String(run.ctx.cancellationSignal.reason)}); another resumes it`,
      RENDER_ERROR.workerLost,
    );
  }
  if (run.legacy) {
    if (error instanceof CancelledFailure) return error;
    const reason: unknown = run.ctx.cancellationSignal.reason;
    return reason instanceof CancelledFailure
      ? reason
      : new CancelledFailure('render cancelled', [], asError(error));
  }
  // The details tell the workflow whether it still has to tell the renderer itself.
  return new CancelledFailure('render cancelled', [{ rendererTold }], asError(error));
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

  submitted(renderId: string): Promise<void> {
    return this.send('submitted', null, renderId);
  }

  async update(progress: number | null): Promise<void> {
    // The epsilon keeps 0.3 - 0.2 (0.0999...) counting as a full step.
    if (progress === null || progress - this.lastReported < LIMITS.progressSignalStep - 1e-9) return;
    this.lastReported = progress;
    await this.send('progress', progress);
  }

  private async send(
    phase: RenderProgressUpdate['phase'],
    progress: number | null,
    renderId?: string,
  ): Promise<void> {
    const timeoutMs = this.deps.progressReportTimeoutMs ?? DEFAULT_PROGRESS_REPORT_TIMEOUT_MS;
    try {
      // The async wrapper turns a synchronous throw of the reporter into a rejection too.
      const report = (async () =>
        this.deps.reportProgress({
          workflowId: this.workflowId,
          attempt: this.attempt,
          phase,
          progress,
          ...(renderId ? { renderId } : {}),
        }))();
      await withTimeout(report, timeoutMs, `progress report timed out after ${timeoutMs} ms`);
    } catch (error) {
      this.log.warn('progress report failed', { ...this.fields, phase, error: message(error) });
    }
  }
}

function message(error: unknown): string {
  return errorMessage(error);
}

function asError(error: unknown): Error | undefined {
  return error instanceof Error ? error : undefined;
}
