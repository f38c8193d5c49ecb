/**
 * A job whose workflow closed (terminated from the Web UI) and was then re-run keeps the permit or
 * place its new run has, whatever arrives late about the old run:
 *
 * - a report that a grant found no job, sent after the re-run asked (and was granted again), is
 *   stale: it names an earlier delivery than the job's last, and reclaiming on it would leave the
 *   re-run rendering without a permit while the slot went to the next job (one over the cap);
 * - a reconciliation round that found the old run closed, while the re-run asked meanwhile, leaves
 *   the job alone, whether the old run held the permit or waited (forgotten, the re-run would
 *   render without a permit, or wait for a grant that never comes).
 *
 * Caps of one render, a second job beside it: any change to who holds and who waits is the failure.
 * Deliveries are the real activity signalling real workflow ids, except where a test stages the
 * order of a delivery's steps (it says so).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { createPermitActivities } from '../../src/activities/admission';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import type { PermitRequest } from '../../src/shared/admission-queue';
import {
  admissionConfigChangedSignal,
  admissionSnapshotQuery,
  grantsUndeliveredSignal,
  permitGrantedSignal,
  permitRequestsSignal,
} from '../../src/shared/admission-messages';
import type { GrantToDeliver } from '../../src/shared/admission-messages';
import { SYNC_TASK_QUEUE, WORKFLOW_TYPE, renderJobWorkflowId } from '../../src/shared/constants';
import type { renderAdmission } from '../../src/workflows/admission';
import { workflowBundle } from '../../src/worker/create-workers';
import { devServerEnv, eventually } from '../../dev/temporal';
import {
  emptyAdmissionInput,
  flatCaps,
  serviceStandIns,
  startJobStandIn,
  terminateStandIns,
} from '../helpers/admission-setup';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await devServerEnv();
});

afterAll(async () => {
  await env?.teardown();
});

const CAPS = flatCaps(1);

const request = (jobId: string): PermitRequest => ({
  jobId,
  renderer: 'revideo',
  priority: 'medium',
  attempt: 1,
});

async function queueOf(handle: WorkflowHandle): Promise<{ holders: string[]; waiting: string[] }> {
  const { queue } = await handle.query(admissionSnapshotQuery);
  const decoded = AdmissionQueue.decode(queue);
  return {
    holders: decoded.holdersList().map((h) => h.jobId),
    waiting: [...decoded.waitingInOrder()].map((e) => e.jobId),
  };
}

/** Whether admission has handled `isEvent`'s event: a workflow task completed after it. */
function handledAfter(
  events: temporal.api.history.v1.IHistoryEvent[],
  isEvent: (e: temporal.api.history.v1.IHistoryEvent) => boolean,
): boolean {
  const at = events.findIndex(isEvent);
  return at >= 0 && events.slice(at + 1).some((e) => e.workflowTaskCompletedEventAttributes);
}

interface Harness {
  handle: WorkflowHandle<typeof renderAdmission>;
  workflowId: string;
}

async function withAdmission(
  activities: {
    deliverGrantsReportingUndelivered: (grants: GrantToDeliver[]) => Promise<void>;
    reconcileAdmission?: () => Promise<{ closed: string[]; checkedAt: number; visibility: boolean }>;
  },
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  const taskQueue = `superseded-grant-${randomUUID()}`;
  const workflowId = `admission-${randomUUID()}`;
  const serviceActivities = serviceStandIns(
    CAPS,
    activities.reconcileAdmission ? { reconcileAdmission: activities.reconcileAdmission } : {},
  );
  const bundle = await workflowBundle();
  const admissionWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: { deliverGrantsReportingUndelivered: activities.deliverGrantsReportingUndelivered },
  });
  const serviceWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: SYNC_TASK_QUEUE,
    activities: serviceActivities,
  });
  await admissionWorker.runUntil(
    serviceWorker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof renderAdmission>(WORKFLOW_TYPE.admission, {
        workflowId,
        taskQueue,
        args: [emptyAdmissionInput(CAPS, { housekeepingSeconds: 600, publishMinIntervalMs: 60_000 })],
      });
      try {
        await body({ handle, workflowId });
        const history = await handle.fetchHistory();
        await Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowId);
      } finally {
        await handle.terminate('test over').catch(() => undefined);
      }
    }),
  );
}

test("a late report that the old run's grant went nowhere leaves the re-run its permit", async () => {
  const rerun = randomUUID();
  const next = randomUUID();
  const real = createPermitActivities({ client: env.client });
  const deliveries: GrantToDeliver[][] = [];
  let admission: WorkflowHandle | undefined;
  const deliverGrantsReportingUndelivered = async (grants: GrantToDeliver[]) => {
    deliveries.push(grants);
    const first = grants.find((g) => g.jobId === rerun);
    if (deliveries.length > 1 || !first) return real.deliverGrantsReportingUndelivered(grants);
    // Staged: the delivery's steps with the re-run's start and request between them. Its signal
    // finds no workflow (the old run had closed), the re-run starts and asks, then the report goes.
    const error: unknown = await env.client.workflow
      .getHandle(renderJobWorkflowId(rerun))
      .signal(permitGrantedSignal, { attempt: first.attempt, acceptedAt: first.acceptedAt })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WorkflowNotFoundError);
    await startJobStandIn(env.client, rerun);
    await admission!.signal(permitRequestsSignal, [request(rerun)]);
    await admission!.signal(grantsUndeliveredSignal, [
      { jobId: rerun, attempt: first.attempt, delivery: first.delivery, error: String(error) },
    ]);
  };
  await startJobStandIn(env.client, next);
  try {
    await withAdmission({ deliverGrantsReportingUndelivered }, async ({ handle }) => {
      admission = handle;
      await handle.signal(permitRequestsSignal, [request(rerun), request(next)]);
      await eventually('the stale report to be handled', async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        return handledAfter(
          events,
          (e) => e.workflowExecutionSignaledEventAttributes?.signalName === grantsUndeliveredSignal.name,
        );
      });
      await eventually('the repeated grant to reach the re-run', () => deliveries.length === 2);
      expect(deliveries[1]!.map((g) => g.jobId)).toEqual([rerun]);
      expect(deliveries[1]![0]!.delivery).toBeGreaterThan(deliveries[0]![0]!.delivery!);
      await eventually('the re-run to get its grant', async () => {
        const events =
          (await env.client.workflow.getHandle(renderJobWorkflowId(rerun)).fetchHistory()).events ?? [];
        return events.some(
          (e) => e.workflowExecutionSignaledEventAttributes?.signalName === permitGrantedSignal.name,
        );
      });
      await sleep(500);
      expect(await queueOf(handle)).toEqual({ holders: [rerun], waiting: [next] });

      // A report that matches the grant in force still reclaims it: the re-run is terminated too,
      // its repeated request goes out again, finds nothing, and the real delivery reports it.
      await terminateStandIns(env.client, [rerun]);
      await handle.signal(permitRequestsSignal, [request(rerun)]);
      await eventually('the waiting job to take the reclaimed slot', async () => {
        const { holders } = await queueOf(handle);
        return holders.length === 1 && holders[0] === next;
      });
    });
  } finally {
    await terminateStandIns(env.client, [rerun, next]);
  }
}, 60_000);

const ROUND_CASES = [
  { closedRun: 'held the permit', otherFirst: false },
  { closedRun: 'was waiting', otherFirst: true },
] as const;

test.each(ROUND_CASES)(
  'a reconciliation round that found the old run closed (it $closedRun) keeps what the re-run has',
  async ({ otherFirst }) => {
    const rerun = randomUUID();
    const other = randomUUID();
    const real = createPermitActivities({ client: env.client });
    let deliveries = 0;
    let armed = false;
    let rounds = 0;
    let admission: WorkflowHandle | undefined;
    const deliverGrantsReportingUndelivered = async (grants: GrantToDeliver[]) => {
      await real.deliverGrantsReportingUndelivered(grants);
      deliveries += 1;
    };
    // Staged: the round found the old run closed; the re-run (started since) asks before the round ends.
    const reconcileAdmission = async () => {
      rounds += 1;
      if (!armed) return { closed: [], checkedAt: Date.now(), visibility: true };
      armed = false;
      await admission!.signal(permitRequestsSignal, [{ ...request(rerun), acceptedAt: Date.now() }]);
      await sleep(1_000);
      return { closed: [rerun], checkedAt: Date.now(), visibility: true };
    };
    await Promise.all([rerun, other].map((id) => startJobStandIn(env.client, id)));
    try {
      await withAdmission({ deliverGrantsReportingUndelivered, reconcileAdmission }, async ({ handle }) => {
        admission = handle;
        await eventually('the first round to end', () => rounds === 1);
        const [first, second] = otherFirst ? [other, rerun] : [rerun, other];
        await handle.signal(permitRequestsSignal, [request(first), request(second)]);
        await eventually('the first job to be granted', () => deliveries === 1);
        const before = await queueOf(handle);
        expect(before).toEqual({ holders: [first], waiting: [second] });
        armed = true;
        await handle.signal(admissionConfigChangedSignal);
        await eventually('the second round to be handled', async () => {
          const events = (await handle.fetchHistory()).events ?? [];
          const second = events
            .filter(
              (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reconcileAdmission',
            )
            .map((e) => Number(e.eventId))[1];
          return (
            second !== undefined &&
            handledAfter(
              events,
              (e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === second,
            )
          );
        });
        await sleep(500);
        expect(await queueOf(handle)).toEqual(before);
      });
    } finally {
      await terminateStandIns(env.client, [rerun, other]);
    }
  },
  60_000,
);
