/**
 * A grant that finds no running job comes back to admission as a signal from the delivery, and
 * admission reclaims its permit there: an event of its history, handled on replay where it was
 * handled live. The delivery's local activity result carries nothing admission acts on, because
 * Core may hand a local activity's result over in another activation on replay than it did live.
 *
 * Two deliveries overlap here on purpose (a holder's repeated request is granted again while a
 * dispatch pass grants a new job), the slower one finishing last, and each finds its job gone, so
 * each report frees a slot for a waiting job; in the second case the slow one also outlasts the
 * workflow task's heartbeat (8 of 10 s), so Core completes admission's task while it runs.
 * The deliveries are the real activity, signalling real workflow ids.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createPermitActivities } from '../../src/activities/admission';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import type { PermitRequest } from '../../src/shared/admission-queue';
import {
  admissionSnapshotQuery,
  grantsUndeliveredSignal,
  permitRequestsSignal,
} from '../../src/shared/admission-messages';
import type { PermitGrant } from '../../src/shared/admission-messages';
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

const CAPS = flatCaps(2);

const CASES = [
  { name: 'in one workflow task', slowMs: 1500, newRequestsAfterMs: undefined },
  { name: 'across workflow task heartbeats', slowMs: 9000, newRequestsAfterMs: 1000 },
] as const;

test.each(CASES)(
  'grants that find no job are reclaimed from a signal, and the history replays ($name)',
  async ({ slowMs, newRequestsAfterMs }) => {
    const taskQueue = `grant-replay-${randomUUID()}`;
    const workflowId = `admission-${randomUUID()}`;
    const holder: string = randomUUID();
    const goneFast: string = randomUUID();
    const waiting1: string = randomUUID();
    const waiting2: string = randomUUID();
    const real = createPermitActivities({ client: env.client });
    const deliveries: string[][] = [];
    let slowDone = false;
    const deliverGrantsReportingUndelivered = async (grants: Array<{ jobId: string } & PermitGrant>) => {
      deliveries.push(grants.map((g) => g.jobId));
      // The holder's second delivery is the slow one (once, should it be retried); by then its
      // job has gone.
      if (!slowDone && deliveries.length > 1 && grants.some((g) => g.jobId === holder)) {
        await sleep(slowMs);
        slowDone = true;
        await env.client.workflow
          .getHandle(renderJobWorkflowId(holder))
          .terminate('gone')
          .catch(() => undefined);
      }
      return real.deliverGrantsReportingUndelivered(grants);
    };
    const serviceActivities = serviceStandIns(CAPS, {
      publishQueuePositions: async ({ delayMs }: { delayMs: number }) => {
        await sleep(Math.min(delayMs, 200));
        const { version } = await env.client.workflow.getHandle(workflowId).query(admissionSnapshotQuery);
        return { version, written: 0, missing: 0 };
      },
    });
    const bundle = await workflowBundle();
    const admissionWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: { deliverGrantsReportingUndelivered },
    });
    const serviceWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: SYNC_TASK_QUEUE,
      activities: serviceActivities,
    });
    await Promise.all([holder, waiting1, waiting2].map((id) => startJobStandIn(env.client, id)));
    const request = (jobId: string): PermitRequest => ({
      jobId,
      renderer: 'revideo',
      priority: 'medium',
      attempt: 1,
    });
    await admissionWorker.runUntil(
      serviceWorker.runUntil(async () => {
        const handle = await env.client.workflow.start<typeof renderAdmission>(WORKFLOW_TYPE.admission, {
          workflowId,
          taskQueue,
          args: [emptyAdmissionInput(CAPS, { housekeepingSeconds: 60 })],
        });
        await handle.signal(permitRequestsSignal, [request(holder)]);
        await eventually('the holder to be granted', () => deliveries.length === 1);
        // The holder's repeated request (delivered again, slowly, to a job that has gone) and
        // three new jobs: the first is granted at once and has no workflow, then the others
        // take the two slots as they are reclaimed.
        const newRequests = [request(goneFast), request(waiting1), request(waiting2)];
        if (newRequestsAfterMs === undefined) {
          await handle.signal(permitRequestsSignal, [request(holder), ...newRequests]);
        } else {
          await handle.signal(permitRequestsSignal, [request(holder)]);
          await sleep(newRequestsAfterMs);
          await handle.signal(permitRequestsSignal, newRequests);
        }
        // Only the two reports free the slots the waiting jobs take.
        await eventually('both waiting jobs to hold the permits', async () => {
          const { queue } = await handle.query(admissionSnapshotQuery);
          const ids = AdmissionQueue.decode(queue)
            .holdersList()
            .map((h) => h.jobId);
          return ids.length === 2 && ids.includes(waiting1) && ids.includes(waiting2);
        });
        // The deliveries overlapped: the repeated grant was still in flight when goneFast's went.
        expect(deliveries.slice(0, 3)).toEqual([[holder], [holder], [goneFast]]);
        await sleep(500);
        const history = await handle.fetchHistory();
        await handle.terminate('test over');
        const reclaimSignals = (history.events ?? []).filter(
          (e) => e.workflowExecutionSignaledEventAttributes?.signalName === grantsUndeliveredSignal.name,
        );
        expect(reclaimSignals).toHaveLength(2);
        await Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowId);
      }),
    );
    await terminateStandIns(env.client, [waiting1, waiting2]);
  },
  90_000,
);
