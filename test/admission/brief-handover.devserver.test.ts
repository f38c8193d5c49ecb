/**
 * Admission's continue-as-new holds up no grant. When a run's history reaches its limit, its other
 * loops wind down first; the publisher may be inside a publish (of up to a second in production).
 * A slot freed meanwhile is granted at once, by the run that is closing, rather than by the next
 * run once the publish returns (patch `admission-brief-handover`).
 *
 * Staged on the dev server: caps of one render, job A holding, job B waiting, the publish held
 * open by the test, the run's history pushed past its limit; then A releases.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createPermitActivities } from '../../src/activities/admission';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import {
  admissionSnapshotQuery,
  permitGrantedSignal,
  permitReleaseSignal,
  permitRequestsSignal,
  reprioritizeSignal,
} from '../../src/shared/admission-messages';
import {
  SERVICE_WORKFLOW_TASK_QUEUE,
  SYNC_TASK_QUEUE,
  WORKFLOW_TYPE,
  renderJobWorkflowId,
} from '../../src/shared/constants';
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
/** Reached a few signals after the two requests. */
const HISTORY_LIMIT = 60;

test('a slot freed while admission hands over to its next run is granted by the closing run, not after the handover', async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  await Promise.all([a, b].map((id) => startJobStandIn(env.client, id)));
  let openPublish!: () => void;
  const publishHeld = new Promise<void>((resolve) => (openPublish = resolve));
  let publishes = 0;
  // Where a continue-as-new takes admission's next run.
  const taskQueue = SERVICE_WORKFLOW_TASK_QUEUE;
  const workflowId = `admission-${randomUUID()}`;
  const bundle = await workflowBundle();
  const admissionWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: {
      deliverGrantsReportingUndelivered: createPermitActivities({ client: env.client })
        .deliverGrantsReportingUndelivered,
    },
  });
  const serviceWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: SYNC_TASK_QUEUE,
    // The publisher stays inside its first publish until the test lets it return.
    activities: serviceStandIns(CAPS, {
      publishQueuePositions: async () => {
        publishes += 1;
        await publishHeld;
        return { version: 0, written: 0, missing: 0 };
      },
    }),
  });
  try {
    await admissionWorker.runUntil(
      serviceWorker.runUntil(async () => {
        try {
          const started = await env.client.workflow.start<typeof renderAdmission>(WORKFLOW_TYPE.admission, {
            workflowId,
            taskQueue,
            args: [
              emptyAdmissionInput(CAPS, {
                historyLimit: HISTORY_LIMIT,
                housekeepingSeconds: 600,
                publishMinIntervalMs: 0,
              }),
            ],
          });
          const run = env.client.workflow.getHandle(workflowId, started.firstExecutionRunId);
          const queueOfRun = async () => {
            const decoded = AdmissionQueue.decode((await run.query(admissionSnapshotQuery)).queue);
            return {
              holders: decoded.holdersList().map((h) => h.jobId),
              waiting: [...decoded.waitingInOrder()].map((e) => e.jobId),
            };
          };
          const request = (jobId: string) => ({
            jobId,
            renderer: 'revideo' as const,
            priority: 'medium' as const,
            attempt: 1,
          });
          await run.signal(permitRequestsSignal, [request(a), request(b)]);
          await eventually('A holds, B waits', async () => {
            const queue = await queueOfRun();
            return queue.holders.join() === a && queue.waiting.join() === b;
          });
          await eventually('the publish is out', () => publishes === 1);

          // Signals that change nothing, until the run is due to continue as new.
          while (Number((await run.describe()).historyLength) < HISTORY_LIMIT) {
            await run.signal(reprioritizeSignal, { jobId: randomUUID(), priority: 'high' });
          }
          // A workflow task that began past the limit has run: the run is closing.
          await eventually('the run is closing', async () =>
            ((await run.fetchHistory()).events ?? []).some(
              (e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) > HISTORY_LIMIT + 1,
            ),
          );

          await run.signal(permitReleaseSignal, { jobId: a, attempt: 1, outcome: 'completed' });
          // Granted by the run that is closing, while its publish is still out.
          await eventually(
            'B granted by the closing run',
            async () => {
              const queue = await queueOfRun();
              return queue.holders.join() === b && queue.waiting.length === 0;
            },
            10_000,
          );
          const bHistory = await env.client.workflow.getHandle(renderJobWorkflowId(b)).fetchHistory();
          expect(
            (bHistory.events ?? []).some(
              (e) => e.workflowExecutionSignaledEventAttributes?.signalName === permitGrantedSignal.name,
            ),
          ).toBe(true);
          expect((await run.describe()).status.name).toBe('RUNNING');

          // The publish returns: the run continues as new, B's permit carried over.
          openPublish();
          await eventually('the next run', async () => {
            const latest = await env.client.workflow.getHandle(workflowId).describe();
            return latest.runId !== started.firstExecutionRunId;
          });
          const next = AdmissionQueue.decode(
            (await env.client.workflow.getHandle(workflowId).query(admissionSnapshotQuery)).queue,
          );
          expect(next.holdersList().map((h) => h.jobId)).toEqual([b]);
          expect(next.waitingCount).toBe(0);
          await Worker.runReplayHistory({ workflowBundle: bundle }, await run.fetchHistory(), workflowId);
          await env.client.workflow.getHandle(workflowId).terminate('test over');
        } finally {
          // A worker shuts down only once its activities return.
          openPublish();
        }
      }),
    );
  } finally {
    openPublish();
    await terminateStandIns(env.client, [a, b]);
  }
});
