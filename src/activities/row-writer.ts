/**
 * A job's row, written from inside an activity: the newest state wins, one write at a time, and a
 * failed write is tried again in the background while the activity runs. It never fails the
 * activity: the read model being down delays the row, never the render. Whoever needs a write to
 * have landed (the final `completed`) asks `flush` and falls back to the workflow's own sync.
 */
import type { Logger } from '@temporalio/common';
import type { JobTransition } from '../shared/job-schema';
import { LIMITS } from '../shared/constants';
import { READ_MODEL_SEQ, progressSeq } from '../shared/read-model-seq';
import type { RenderActivityInput } from '../renderers/contract';
import type { JobStore } from '../store/job-store';
import { JobStoreConstraintError } from '../store/job-store';
import { withTimeout } from '../util/with-timeout';
import { logTransition } from './read-model';
import { errorMessage } from '../shared/error-message';

export interface RowWriterOptions {
  store: Pick<JobStore, 'applyTransition'>;
  log: Logger;
  fields: Record<string, unknown>;
  /** Until a write lands, each one carries what creating the row takes. */
  job?: JobTransition['job'];
  /** One write's bound; the database's own statement timeout is longer. */
  writeTimeoutMs?: number;
  retryEveryMs?: number;
}

const DEFAULT_WRITE_TIMEOUT_MS = 5_000;
const DEFAULT_RETRY_EVERY_MS = 2_000;

export class RowWriter {
  private desired: JobTransition | undefined;
  /** The highest seq that was tried and settled (applied, stale, or refused for good). */
  private settledSeq = 0;
  /** The highest seq the database applied. */
  private appliedSeq = 0;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private rowExists: boolean;
  private warned = false;

  constructor(private readonly options: RowWriterOptions) {
    this.rowExists = options.job === undefined;
  }

  /** Writes `transition` unless a newer one is already on its way. */
  set(transition: Omit<JobTransition, 'job'>): void {
    if (this.stopped || (this.desired && this.desired.seq >= transition.seq)) return;
    this.desired = transition;
    this.wake?.();
    this.loop ??= this.run().finally(() => (this.loop = undefined));
  }

  /** Waits up to `timeoutMs` for the newest write; true when the database applied exactly it. */
  async flush(timeoutMs: number): Promise<boolean> {
    const target = this.desired?.seq ?? 0;
    const deadline = Date.now() + timeoutMs;
    while (this.settledSeq < target && this.loop && Date.now() < deadline) {
      await Promise.race([this.loop, sleep(Math.min(50, Math.max(1, deadline - Date.now())))]);
    }
    return this.appliedSeq >= target && target > 0;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    const { store, log, fields } = this.options;
    const timeoutMs = this.options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    while (!this.stopped && this.desired && this.desired.seq > this.settledSeq) {
      const transition: JobTransition = this.rowExists
        ? this.desired
        : { ...this.desired, job: this.options.job };
      try {
        const { applied } = await withTimeout(
          store.applyTransition(transition),
          timeoutMs,
          `read model write timed out after ${timeoutMs} ms`,
        );
        logTransition(log, transition, applied);
        this.rowExists = true;
        this.settledSeq = Math.max(this.settledSeq, transition.seq);
        if (applied) this.appliedSeq = Math.max(this.appliedSeq, transition.seq);
      } catch (error) {
        if (error instanceof JobStoreConstraintError) {
          log.error('read model refused a write of the render activity', {
            ...fields,
            seq: transition.seq,
            status: transition.status,
            error: error.message,
          });
          this.settledSeq = Math.max(this.settledSeq, transition.seq);
          continue;
        }
        if (!this.warned) {
          this.warned = true;
          log.warn('read model write failed; trying again while the render runs', {
            ...fields,
            status: transition.status,
            error: errorMessage(error),
          });
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.retryEveryMs ?? DEFAULT_RETRY_EVERY_MS);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How long a render's final write may hold up its result before the workflow writes it instead. */
export const COMPLETED_WRITE_WAIT_MS = 5_000;

/**
 * The rows of one render attempt, as its activity writes them: `processing` once the render is
 * submitted, progress in LIMITS.progressSignalStep steps, `completed` with the video.
 */
export class AttemptRows {
  private lastProgress = 0;

  constructor(
    private readonly writer: RowWriter,
    private readonly jobId: string,
    private readonly attempt: number,
    private readonly readModel: NonNullable<RenderActivityInput['readModel']>,
  ) {}

  processing(): void {
    this.writer.set(this.row(READ_MODEL_SEQ.processing, { status: 'processing', progress: null }));
  }

  progress(progress: number | null): void {
    // The epsilon keeps 0.3 - 0.2 (0.0999...) counting as a full step.
    if (progress === null || progress - this.lastProgress < LIMITS.progressSignalStep - 1e-9) return;
    this.lastProgress = progress;
    const seq = progressSeq(this.readModel.seqBase, progress) - this.readModel.seqBase;
    this.writer.set(this.row(seq, { status: 'processing', progress }));
  }

  /** Resolves true once the `completed` row is in; false after `waitMs` or when it was not applied. */
  completed(videoUrl: string, waitMs = COMPLETED_WRITE_WAIT_MS): Promise<boolean> {
    this.writer.set(
      this.row(READ_MODEL_SEQ.completed, {
        status: 'completed',
        progress: 1,
        error: null,
        result: videoUrl,
        completedAt: new Date().toISOString(),
      }),
    );
    return this.writer.flush(waitMs);
  }

  private row(
    offset: number,
    change: Pick<JobTransition, 'status' | 'progress'> & Partial<JobTransition>,
  ): Omit<JobTransition, 'job'> {
    const { seqBase, workflowId, startedAt, acceptedAt, priority, error } = this.readModel;
    return {
      jobId: this.jobId,
      seq: seqBase + offset,
      workflowId,
      attempt: this.attempt,
      error,
      result: null,
      startedAt,
      completedAt: null,
      nextAttemptAt: null,
      acceptedAt,
      ...(priority ? { priority } : {}),
      ...change,
    };
  }
}
