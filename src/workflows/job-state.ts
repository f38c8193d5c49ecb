/**
 * A render job's state as its workflow keeps it: every change goes through one method here,
 * which numbers it, keeps the RenderStatus search attribute current and hands it to
 * ReadModelSync. renderJob reads as the story of the job; the bookkeeping lives here.
 */
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { RenderJobInput } from '../shared/job-schema';
import type { JobState } from '../shared/messages';
import { ReadModelSync } from './read-model-sync';

/** Sequence numbers of one run live in their own block so a re-run (retry command) outranks it. */
export const SEQ_PER_GENERATION = 1_000_000;

/** Workflow time as ISO 8601 (the sandbox's Date is the workflow clock). */
export const workflowNow = (): string => new Date().toISOString();

export class JobStateKeeper {
  readonly state: JobState;
  private seq: number;
  private shownStatus: JobState['status'] = 'queued';
  private readonly sync: ReadModelSync;

  constructor(
    input: RenderJobInput,
    /** Whether the job started with our search attributes (a namespace without them must still run jobs). */
    private readonly upsertsStatus: boolean,
  ) {
    this.seq = (input.generation ?? 0) * SEQ_PER_GENERATION;
    this.state = {
      jobId: input.jobId,
      status: 'queued',
      attempt: 0,
      progress: null,
      error: null,
      result: null,
      attempts: [],
      startedAt: null,
      completedAt: null,
      nextAttemptAt: null,
      acceptedAt: null,
      priority: input.priority,
    };
    this.sync = new ReadModelSync({
      jobType: input.jobType,
      priority: input.priority,
      renderer: input.renderer,
      payload: input.payload,
      ...(input.userId ? { userId: input.userId } : {}),
      submittedAt: workflowInfo().startTime.toISOString(),
    });
  }

  /** Writes the current state (numbered) to the read model, without waiting for it. */
  publish(): void {
    const { state } = this;
    if (this.upsertsStatus && state.status !== this.shownStatus) {
      this.shownStatus = state.status;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.renderStatus, value: state.status }]);
    }
    this.sync.publish({
      jobId: state.jobId,
      seq: ++this.seq,
      status: state.status,
      workflowId: workflowInfo().workflowId,
      attempt: state.attempt,
      progress: state.progress,
      error: state.error,
      result: state.result,
      startedAt: state.startedAt,
      completedAt: state.completedAt,
      nextAttemptAt: state.nextAttemptAt,
      acceptedAt: state.acceptedAt,
      ...(state.priority ? { priority: state.priority } : {}),
    });
  }

  /** Resolves once the newest state has reached the read model (or was given up on). */
  flushed(): Promise<void> {
    return this.sync.flushed();
  }

  /** The permit for `attempt` was granted: the render starts now. */
  startAttempt(attempt: number, acceptedAt: string | null): void {
    const at = workflowNow();
    Object.assign(this.state, { status: 'processing', attempt, progress: null, nextAttemptAt: null });
    this.state.acceptedAt ??= acceptedAt;
    this.state.attempts.push({ attempt, startedAt: at });
    this.state.startedAt ??= at;
    this.publish();
  }

  /** Progress of the running attempt; late reports of an older attempt are ignored. */
  progress(attempt: number, progress: number): void {
    if (this.state.status !== 'processing' || attempt !== this.state.attempt) return;
    if (progress <= (this.state.progress ?? 0) && this.state.progress !== null) return;
    this.state.progress = progress;
    this.publish();
  }

  /** An attempt failed and another follows after the retry interval; the error stays shown. */
  retrying(error: string, nextAttemptAt: string): void {
    Object.assign(this.state, { status: 'retrying', error, nextAttemptAt, progress: null });
    this.publish();
  }

  completed(videoUrl: string): void {
    Object.assign(this.state, {
      status: 'completed',
      progress: 1,
      result: videoUrl,
      error: null,
      nextAttemptAt: null,
      completedAt: workflowNow(),
    });
    this.publish();
  }

  failed(error: string): void {
    Object.assign(this.state, { status: 'failed', error, nextAttemptAt: null, completedAt: workflowNow() });
    this.publish();
  }

  /** An operator moved the job: the row and the Priority search attribute follow. */
  reprioritized(priority: NonNullable<JobState['priority']>): void {
    this.state.priority = priority;
    if (this.upsertsStatus) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.priority, value: priority }]);
    this.publish();
  }

  cancelled(): void {
    Object.assign(this.state, { status: 'cancelled', nextAttemptAt: null, completedAt: workflowNow() });
    this.publish();
  }
}
