/**
 * A job's state as its workflow keeps it: every change goes through one method here, which
 * numbers it, keeps the RenderStatus search attribute current and hands it to ReadModelSync.
 * renderJob reads as the story of the job; the bookkeeping lives here.
 *
 * Not every row is written from here: the first step (enterQueue) writes `queued`, and the render
 * activity writes its attempt's `processing`, progress and `completed`, each in its own seq range
 * (read-model-seq.ts), so a job's happy path costs the workflow no sync activity at all. The
 * workflow writes what only it knows (retrying, failed, cancelled, a new priority) and anything
 * those writers could not land.
 */
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { JobRowFields, JobTransition, RenderJobInput } from '../shared/job-schema';
import { freshJobState } from '../shared/messages';
import type { JobState } from '../shared/messages';
import type { RenderActivityInput } from '../renderers/contract';
import { READ_MODEL_SEQ, attemptSeqBase, generationSeqBase } from '../shared/read-model-seq';
import { ReadModelSync } from './read-model-sync';

/** Workflow time as ISO 8601 (the sandbox's Date is the workflow clock). */
export const workflowNow = (): string => new Date().toISOString();

/** The row fields a job's creating write carries: what it was submitted with (both job workflows). */
export function jobFieldsOf(input: RenderJobInput): JobRowFields {
  return {
    jobType: input.jobType,
    priority: input.priority,
    renderer: input.renderer,
    payload: input.payload,
    ...(input.userId ? { userId: input.userId } : {}),
    submittedAt: workflowInfo().startTime.toISOString(),
  };
}

/** A state's row as both job workflows write it (the legacy one stops here). */
export function stateRow(state: JobState, seq: number): Omit<JobTransition, 'job'> {
  return {
    jobId: state.jobId,
    seq,
    status: state.status,
    workflowId: workflowInfo().workflowId,
    attempt: state.attempt,
    progress: state.progress,
    error: state.error,
    result: state.result,
    startedAt: state.startedAt,
    completedAt: state.completedAt,
  };
}

export class JobStateKeeper {
  readonly state: JobState;
  private readonly generation: number;
  private seq: number;
  private shownStatus: JobState['status'] = 'queued';
  private readonly jobFields: JobRowFields;
  private readonly sync: ReadModelSync;

  constructor(
    input: RenderJobInput,
    /** Whether the job started with our search attributes (a namespace without them must still run jobs). */
    private readonly upsertsStatus: boolean,
  ) {
    this.generation = input.generation ?? 0;
    this.seq = generationSeqBase(this.generation);
    this.state = {
      ...freshJobState(input.jobId),
      acceptedAt: null,
      priority: input.priority,
    };
    this.jobFields = jobFieldsOf(input);
    this.sync = new ReadModelSync(this.jobFields);
  }

  /** The `queued` row as the job's first step writes it, with what creating the row takes. */
  queuedRow(): JobTransition {
    this.seq = generationSeqBase(this.generation) + READ_MODEL_SEQ.queued;
    return { ...this.row(this.seq), job: this.jobFields };
  }

  /** The first step wrote the `queued` row, or could not: then the workflow's sync does. */
  queuedRecorded(recorded: boolean): void {
    if (recorded) this.sync.landed(this.seq);
    else this.sync.publish(this.row(this.seq));
  }

  /** Writes the current state (numbered) to the read model, without waiting for it. */
  publish(): void {
    this.showStatus();
    this.sync.publish(this.row(this.nextSeq()));
  }

  /** The workflow's next seq: above every write of the current attempt's activity. */
  private nextSeq(): number {
    const { attempt } = this.state;
    const floor =
      attempt === 0
        ? generationSeqBase(this.generation) + READ_MODEL_SEQ.queued + 1
        : attemptSeqBase(this.generation, attempt) + READ_MODEL_SEQ.workflowFrom;
    this.seq = Math.max(this.seq + 1, floor);
    return this.seq;
  }

  private showStatus(): void {
    if (this.upsertsStatus && this.state.status !== this.shownStatus) {
      this.shownStatus = this.state.status;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.renderStatus, value: this.state.status }]);
    }
  }

  private row(seq: number): Omit<JobTransition, 'job'> {
    const { state } = this;
    return {
      ...stateRow(state, seq),
      nextAttemptAt: state.nextAttemptAt,
      acceptedAt: state.acceptedAt,
      ...(state.priority ? { priority: state.priority } : {}),
    };
  }

  /** Resolves once the newest state has reached the read model (or was given up on). */
  flushed(): Promise<void> {
    return this.sync.flushed();
  }

  /**
   * The permit for `attempt` was granted: the render starts now. Its rows are the render
   * activity's to write; this says what they carry.
   */
  startAttempt(attempt: number, acceptedAt: string | null): NonNullable<RenderActivityInput['readModel']> {
    const at = workflowNow();
    Object.assign(this.state, { status: 'processing', attempt, progress: null, nextAttemptAt: null });
    this.state.acceptedAt ??= acceptedAt;
    this.state.attempts.push({ attempt, startedAt: at });
    this.state.startedAt ??= at;
    this.showStatus();
    return {
      seqBase: attemptSeqBase(this.generation, attempt),
      workflowId: workflowInfo().workflowId,
      startedAt: this.state.startedAt,
      acceptedAt: this.state.acceptedAt,
      error: this.state.error,
      ...(this.state.priority ? { priority: this.state.priority } : {}),
      ...(this.sync.rowKnown ? {} : { job: this.jobFields }),
    };
  }

  /** An attempt failed and another follows after the retry interval; the error stays shown. */
  retrying(error: string, nextAttemptAt: string): void {
    Object.assign(this.state, { status: 'retrying', error, nextAttemptAt, progress: null });
    this.publish();
  }

  /** The render is done; `recorded`: its activity wrote the `completed` row already. */
  completed(videoUrl: string, recorded: boolean): void {
    Object.assign(this.state, {
      status: 'completed',
      progress: 1,
      result: videoUrl,
      error: null,
      nextAttemptAt: null,
      completedAt: workflowNow(),
    });
    if (!recorded) return this.publish();
    this.showStatus();
    this.sync.landed(attemptSeqBase(this.generation, this.state.attempt) + READ_MODEL_SEQ.completed);
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
