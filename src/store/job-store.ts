/**
 * The read-model port. Adapters (direct Postgres/PGlite now, Supabase later) are thin
 * transports over the same SQL functions in `supabase/migrations/`: all rules live in SQL.
 */
import type { JobStatus, Priority, Renderer } from '../shared/constants';
import type { JobRow, JobTransition, QueueConfig, QueueStats } from '../shared/job-schema';

export interface TransitionOutcome {
  /** False when the database ignored the write because a newer one (higher seq) is stored. */
  applied: boolean;
}

export interface JobListFilter {
  status?: JobStatus;
  priority?: Priority;
  renderer?: Renderer;
  /** 1..500, default 50. */
  limit?: number;
  /**
   * ISO timestamp: only jobs created strictly before it (the next page of a newest-first list).
   * Timestamps are shown to the millisecond, so paging from a row's createdAt skips other rows
   * created within that same millisecond.
   */
  beforeCreatedAt?: string;
}

/**
 * A queued row as the frontend inserts it: a plain INSERT, checked only by the database's own
 * rules (so strings, not enums). Renderer and priority fall back to the database defaults.
 */
export interface QueuedJobInsert {
  id?: string;
  jobType: string;
  priority?: string;
  renderer?: string;
  payload?: Record<string, unknown>;
  userId?: string;
}

/** One waiting job's place, as the admission workflow's queue has it. */
export interface QueuePositionUpdate {
  jobId: string;
  position: number;
  /** ISO 8601. */
  estimatedStartAt: string;
  /** When admission accepted the job, ISO 8601. */
  acceptedAt?: string;
}

export interface PublishOutcome {
  /** Rows whose position or estimate changed. */
  written: number;
  /** Rows that held a position but are no longer waiting. */
  cleared: number;
  /** Waiting jobs without a row yet. */
  missing: number;
}

export interface JobStore {
  /** Applies one write of a job's state if its seq is newer; creates the row when missing. */
  applyTransition(transition: JobTransition): Promise<TransitionOutcome>;
  getJob(jobId: string): Promise<JobRow | null>;
  /**
   * The rows of up to 500 jobs in one round trip (a screen's worth: the admin page's waiting
   * list and renders in flight); unknown ids are left out, order is unspecified.
   */
  getJobs(jobIds: readonly string[]): Promise<JobRow[]>;
  /** The current `job_queue_config` row, unvalidated: callers decide what a bad row means. */
  readQueueConfig(): Promise<Record<keyof QueueConfig, unknown>>;
  /** Jobs newest first, optionally filtered. */
  listJobs(filter?: JobListFilter): Promise<JobRow[]>;
  /** Inserts a `queued` row the way the frontend does; returns the stored row. */
  insertQueuedJob(job: QueuedJobInsert): Promise<JobRow>;
  /**
   * `publish_queue_positions()`: the positions and estimated starts of every waiting job (the
   * whole queue, each time); writes changed rows only and clears rows no longer waiting.
   */
  publishQueuePositions(positions: QueuePositionUpdate[]): Promise<PublishOutcome>;
  /** `get_queue_stats()`, validated with QueueStatsSchema. */
  getQueueStats(): Promise<QueueStats>;
  /**
   * `claim_intake_jobs(limit)`: up to `limit` (1..1000) queued rows no workflow owns yet, in
   * dispatch order, claimed for 2 minutes so a concurrent intake run skips them.
   */
  claimIntakeJobs(limit: number): Promise<JobRow[]>;
  /** `mark_intake_started`: records the workflow that owns the row; false if one was already set. */
  markIntakeStarted(jobId: string, workflowId: string): Promise<boolean>;
  /** `mark_intake_rejected`: fails a still-unowned queued row with `reason`; false if it was not. */
  markIntakeRejected(jobId: string, reason: string): Promise<boolean>;
  /**
   * `requeue_rejected_job`: a row intake failed (an operator fixed it) goes back to `queued` for
   * intake to validate again; false if the row is not one intake failed.
   */
  requeueRejectedJob(jobId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Raised by adapters for a write the database refused on its rules (a check, a foreign key). */
export class JobStoreConstraintError extends Error {
  constructor(
    message: string,
    readonly constraint: string | undefined,
  ) {
    super(message);
    this.name = 'JobStoreConstraintError';
  }
}
