/**
 * Keeps the job's row in the read model up to date without ever holding up the render.
 *
 * Every state change is published with a new sequence number; one sync activity runs at a
 * time and always sends the newest state, so during a database outage the writes coalesce
 * into one retrying activity instead of piling up. The database ignores any write older than
 * the stored one, so order of arrival never matters.
 */
import { ActivityFailure, CancellationScope, condition, log, proxyActivities } from '@temporalio/workflow';
import { LIMITS, SYNC_TASK_QUEUE } from '../shared/constants';
import { READ_MODEL_REJECTED } from '../shared/errors';
import type { JobTransition } from '../shared/job-schema';
import type { ReadModelActivities } from '../activities/read-model';

const { syncJob } = proxyActivities<ReadModelActivities>({
  taskQueue: SYNC_TASK_QUEUE,
  startToCloseTimeout: '30s',
  // Retry until the database is back, for hours: an outage delays the read model, never the render.
  scheduleToCloseTimeout: LIMITS.syncScheduleToCloseHours * 3_600_000,
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: [READ_MODEL_REJECTED],
  },
});

export class ReadModelSync {
  private desired: JobTransition | undefined;
  private syncedSeq = 0;
  private running = false;
  /** The row exists once any write has landed; until then each write carries what creating it needs. */
  private rowExists = false;

  constructor(private readonly jobFields: NonNullable<JobTransition['job']>) {}

  /** Whether a write has landed, so the row exists. */
  get rowKnown(): boolean {
    return this.rowExists;
  }

  /** Another writer (the first step, the render activity) landed this seq: nothing to send for it. */
  landed(seq: number): void {
    this.rowExists = true;
    this.syncedSeq = Math.max(this.syncedSeq, seq);
  }

  publish(transition: Omit<JobTransition, 'job'>): void {
    this.desired = { ...transition };
    if (!this.running) void this.drain();
  }

  /** Resolves when the newest published state has been written (or given up on). */
  async flushed(): Promise<void> {
    await condition(
      () => !this.running && (this.desired === undefined || this.desired.seq <= this.syncedSeq),
    );
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.desired && this.desired.seq > this.syncedSeq) {
        const transition: JobTransition = this.rowExists
          ? this.desired
          : { ...this.desired, job: this.jobFields };
        try {
          // Writes of the read model outlive a cancelled job: `cancelled` itself must land.
          await CancellationScope.nonCancellable(() => syncJob(transition));
          this.rowExists = true;
        } catch (err) {
          // Only a write the database refused on its rules, or hours of outage, lands here.
          log.error('read model sync gave up', {
            jobId: transition.jobId,
            seq: transition.seq,
            status: transition.status,
            error: err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err),
          });
        }
        this.syncedSeq = Math.max(this.syncedSeq, transition.seq);
      }
    } finally {
      this.running = false;
    }
  }
}
