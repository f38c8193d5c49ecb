/**
 * A job workflow's side of admission: ask for a permit before each render attempt, wait for the
 * grant, give the permit back when the attempt ends.
 *
 * Requests and releases are activities (admission-calls.ts says why not local ones); a request
 * is a signal-with-start, so admission is started if it is not running. Both are idempotent by
 * job id and attempt, which makes every retry here harmless.
 */
import { CancellationScope, condition, setHandler } from '@temporalio/workflow';
import { admissionCalls, callsAreActivities } from './admission-calls';
import type { PermitRequest } from '../shared/admission-queue';
import { admissionRestartedSignal, permitGrantedSignal } from '../shared/admission-messages';
import type { PermitRelease } from '../shared/admission-messages';

export class Permit {
  /** The attempt a permit is being waited for (0: none). */
  private wanted = 0;
  /** The highest attempt granted (a grant may arrive before the job asks: the submitter asked). */
  private granted = 0;
  /** Attempts up to this one are over: a grant for one of them is given back. */
  private finished = 0;
  /**
   * When the job was accepted: its workflow's start, the moment Temporal took the submission. It
   * orders the job in admission's queue, and every attempt asks with it, keeping its place.
   */
  private acceptedAt: number | undefined;
  /** The attempt whose request already went out with the job's first step. */
  private askedFor = 0;
  /** The priority that request carried. */
  private askedWith: PermitRequest['priority'] | undefined;

  constructor(
    private job: Omit<PermitRequest, 'attempt' | 'holding' | 'acceptedAt'>,
    acceptedAt?: number,
  ) {
    this.acceptedAt = acceptedAt;
    setHandler(permitGrantedSignal, ({ attempt, acceptedAt }) => this.onGrant(attempt, acceptedAt));
    // Admission lost its state (a fresh run): tell it again what this job waits for or holds.
    setHandler(admissionRestartedSignal, async () => {
      if (this.holding) await admissionCalls().requestPermit(this.request(this.granted, true));
      else if (this.wanted) await admissionCalls().requestPermit(this.request(this.wanted));
    });
  }

  /** The permit of a job, accepted when its workflow started (ordering it in admission's queue). */
  static forJob(job: Pick<PermitRequest, 'jobId' | 'renderer' | 'priority'>, acceptedAt: number): Permit {
    return new Permit({ jobId: job.jobId, renderer: job.renderer, priority: job.priority }, acceptedAt);
  }

  /** A new priority: a waiting request moves in admission's order now, later ones ask with it. */
  async reprioritize(priority: PermitRequest['priority']): Promise<void> {
    this.job = { ...this.job, priority };
    if (this.wanted) await admissionCalls().reprioritizePermit({ jobId: this.job.jobId, priority });
  }

  /** The request for `attempt`, for the job's first step to send. */
  requestFor(attempt: number): PermitRequest {
    this.askedFor = attempt;
    this.askedWith = this.job.priority;
    return this.request(attempt);
  }

  /** When admission accepted the job (ISO 8601), once the first grant has told it. */
  get accepted(): string | null {
    return this.acceptedAt === undefined ? null : new Date(this.acceptedAt).toISOString();
  }

  private get holding(): boolean {
    return this.granted > this.finished && this.wanted === 0;
  }

  private request(attempt: number, holding = false): PermitRequest {
    return {
      ...this.job,
      attempt,
      ...(this.acceptedAt === undefined ? {} : { acceptedAt: this.acceptedAt }),
      ...(holding ? { holding } : {}),
    };
  }

  /**
   * Waits in the queue until the permit for `attempt` is granted. The submitter already asked
   * for the first attempt; asking again is harmless, and skipped when the grant is already here.
   * Cancellable: the job then leaves the queue.
   */
  async acquire(attempt: number): Promise<void> {
    this.wanted = attempt;
    try {
      if (this.granted < attempt && this.askedFor !== attempt)
        await admissionCalls().requestPermit(this.request(attempt));
      else if (this.granted < attempt && this.askedWith !== this.job.priority && callsAreActivities())
        // The priority changed while the first step was asking (not waiting yet, so not sent then).
        await admissionCalls().reprioritizePermit({ jobId: this.job.jobId, priority: this.job.priority });
      await condition(() => this.granted >= attempt);
    } catch (err) {
      this.wanted = 0;
      this.finished = Math.max(this.finished, attempt);
      await this.giveBack(attempt, 'withdrawn');
      throw err;
    }
    this.wanted = 0;
  }

  /**
   * The job ends before it ever waited (cancelled during its first step): the request that step
   * sent is withdrawn. Only where the step was an activity, which completes before this runs.
   */
  async withdrawUnwaited(): Promise<void> {
    const attempt = this.askedFor;
    if (attempt === 0 || attempt <= this.finished || !callsAreActivities()) return;
    this.finished = attempt;
    await this.giveBack(attempt, 'withdrawn');
  }

  /** Gives the permit of `attempt` back; runs even when the job is being cancelled. */
  async release(attempt: number, outcome: PermitRelease['outcome']): Promise<void> {
    this.finished = Math.max(this.finished, attempt);
    await this.giveBack(attempt, outcome);
  }

  /** The render activity gave the permit of `attempt` back itself. */
  releasedElsewhere(attempt: number): void {
    this.finished = Math.max(this.finished, attempt);
  }

  private onGrant(attempt: number, acceptedAt: number): void {
    this.acceptedAt ??= acceptedAt;
    if (attempt > this.finished) {
      this.granted = Math.max(this.granted, attempt);
      return;
    }
    // A grant for an attempt that is over (the job was cancelled, or moved on): give it back.
    void this.giveBack(attempt, 'withdrawn');
  }

  private giveBack(attempt: number, outcome: PermitRelease['outcome']): Promise<void> {
    return CancellationScope.nonCancellable(() =>
      admissionCalls().releasePermit({ jobId: this.job.jobId, attempt, outcome }),
    );
  }
}
