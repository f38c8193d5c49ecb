/**
 * A job workflow's side of admission: ask for a permit before each render attempt, wait for the
 * grant, give the permit back when the attempt ends.
 *
 * Requests and releases are local activities (one signal each, sent from this worker), so they
 * cost no task-queue hop; a request is a signal-with-start, so admission is started if it is not
 * running. Both are idempotent by job id and attempt, which makes every retry here harmless.
 */
import { CancellationScope, condition, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { PermitRequest } from '../shared/admission-queue';
import { admissionRestartedSignal, permitGrantedSignal } from '../shared/admission-messages';
import type { PermitRelease } from '../shared/admission-messages';
import type { PermitActivities } from '../activities/admission';

const { requestPermit, releasePermit } = proxyLocalActivities<PermitActivities>({
  startToCloseTimeout: '10s',
  // Until Temporal answers: without a permit the job cannot render, and both calls are idempotent.
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

export class Permit {
  /** The attempt a permit is being waited for (0: none). */
  private wanted = 0;
  /** The attempt whose permit is held (0: none). */
  private held = 0;

  constructor(private readonly request: Omit<PermitRequest, 'attempt' | 'holding'>) {
    setHandler(permitGrantedSignal, ({ attempt }) => this.onGrant(attempt));
    // Admission lost its state (a fresh run): tell it again what this job waits for or holds.
    setHandler(admissionRestartedSignal, async () => {
      if (this.held) await requestPermit({ ...this.request, attempt: this.held, holding: true });
      else if (this.wanted) await requestPermit({ ...this.request, attempt: this.wanted });
    });
  }

  /** Waits in the queue until the permit for `attempt` is granted. Cancellable: leaves the queue. */
  async acquire(attempt: number): Promise<void> {
    this.wanted = attempt;
    try {
      await requestPermit({ ...this.request, attempt });
      await condition(() => this.held === attempt);
    } catch (err) {
      this.wanted = 0;
      if (this.held === attempt) this.held = 0;
      await this.giveBack(attempt, 'withdrawn');
      throw err;
    }
    this.wanted = 0;
  }

  /** Gives the permit of `attempt` back; runs even when the job is being cancelled. */
  async release(attempt: number, outcome: PermitRelease['outcome']): Promise<void> {
    if (this.held === attempt) this.held = 0;
    await this.giveBack(attempt, outcome);
  }

  private onGrant(attempt: number): void {
    if (attempt === this.wanted) {
      this.held = attempt;
      return;
    }
    if (attempt === this.held) return; // a repeated grant
    // A grant for an attempt this job no longer waits for (it was cancelled, or moved on): give it back.
    void this.giveBack(attempt, 'withdrawn');
  }

  private giveBack(attempt: number, outcome: PermitRelease['outcome']): Promise<void> {
    return CancellationScope.nonCancellable(() =>
      releasePermit({ jobId: this.request.jobId, attempt, outcome }),
    );
  }
}
