/**
 * How a job workflow reaches admission: its first step (enterQueue) and its permit requests,
 * releases and priority changes.
 *
 * They are regular activities on the sync queue, not local activities. A local activity holds its
 * workflow task open until it returns, and Core's cache, when full, evicts the least recently
 * used run without checking for local activities in flight: a run waiting on one is exactly that
 * run. Under a burst (10,000 jobs submitted at once, or every waiting job re-registering with a
 * fresh admission run) thousands of local activities were cancelled that way, Core reported
 * "only an eviction ... SDK bug" for each, and the worker process aborted. A regular activity
 * leaves its workflow task complete, so an evicted run is only replayed when its result comes.
 * The price is one task-queue hop and one more workflow task per call.
 *
 * Runs that recorded local activities before this patch replay through them; both sets are idempotent.
 */
import { ActivityCancellationType, patched, proxyActivities } from '@temporalio/workflow';
import type { LocalActivityOptions } from '@temporalio/workflow';
import { ADMISSION_CALLS_AS_ACTIVITIES_PATCH, SYNC_TASK_QUEUE } from '../shared/constants';
import type { EnterQueueActivities } from '../activities/enter-queue';
import type { PermitActivities } from '../activities/admission';
import { idempotentLocalActivities } from './idempotent-local-activities';

type AdmissionCalls = Pick<EnterQueueActivities, 'enterQueue'> &
  Pick<PermitActivities, 'requestPermit' | 'releasePermit' | 'reprioritizePermit'>;

// Until Temporal answers: without the request the job never starts, and every call is idempotent.
const RETRY = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' } as const;

const asActivities = proxyActivities<AdmissionCalls>({
  taskQueue: SYNC_TASK_QUEUE,
  // A request may wait for the batch ahead of it to go out, then for its own (each bounded by
  // ADMISSION_REQUEST_TIMEOUT_MS): room for both, so a slow admission does not turn into retries.
  startToCloseTimeout: '30s',
  retry: RETRY,
  // A cancelled job waits for a call in flight to land, so the release it sends next arrives
  // after the request, never before it (and the request is never left behind in the queue).
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
const asLocalActivities = idempotentLocalActivities<AdmissionCalls>({
  startToCloseTimeout: '10s',
  retry: RETRY,
} satisfies LocalActivityOptions);

/**
 * Whether this run reaches admission through activities at this point (decided per call, so a
 * replay takes the path the run took). With local activities the first step held the workflow
 * task, so nothing (a priority change, a cancellation) could come between it and the wait.
 */
export function callsAreActivities(): boolean {
  return patched(ADMISSION_CALLS_AS_ACTIVITIES_PATCH);
}

/** The calls to use at this point of the run. */
export function admissionCalls(): AdmissionCalls {
  return callsAreActivities() ? asActivities : asLocalActivities;
}
