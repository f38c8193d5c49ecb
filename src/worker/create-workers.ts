/**
 * Builds every Temporal Worker of one worker process. Shared by `src/worker.ts` (production),
 * the demo and the tests, so tests exercise the same wiring that ships.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { ActivityInterceptorsFactory, NativeConnection, WorkflowBundleOption } from '@temporalio/worker';
import { createAdmissionActivities, createPermitActivities } from '../activities/admission';
import { createIntakeActivities } from '../activities/intake';
import { createReadModelActivities } from '../activities/read-model';
import { createRenderActivities } from '../activities/render';
import type { RenderProgressUpdate } from '../activities/render';
import type { CapacityLimiter } from '../capacity/capacity-limiter';
import { RENDER_WORKER_POLLERS, renderWorkerTuner } from '../capacity/capacity-limiter';
import { ensureAdmission } from '../client/admission';
import {
  ADMISSION_TASK_QUEUE,
  LIMITS,
  PRIORITIES,
  RENDER_TASK_QUEUE,
  SYNC_TASK_QUEUE,
  WORKFLOW_TASK_QUEUE,
} from '../shared/constants';
import type { Priority, RenderQueue } from '../shared/constants';
import { renderProgressSignal } from '../shared/messages';
import type { JobStore } from '../store/job-store';
import type { createRenderers } from '../renderers/adapters';
import type { AdmissionOptions } from '../workflows/admission';

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Used by render activities to report attempt starts and progress to their workflow. */
  client: Client;
  store: JobStore;
  renderers: ReturnType<typeof createRenderers>;
  limiter: CapacityLimiter;
  workflowBundle?: WorkflowBundleOption;
  /** Which parts this process runs; all by default. */
  roles?: { workflows?: Priority[]; renderQueues?: RenderQueue[]; sync?: boolean; admission?: boolean };
  /** Options the admission workflow starts with, if this process is the one that starts it (tests). */
  admissionOptions?: AdmissionOptions;
  shutdownGraceTime?: Duration;
  identity?: string;
  pollIntervalMs?: number;
  /** How long a render rides out failing status polls; the heartbeat timeout by default (tests shorten it). */
  pollErrorToleranceMs?: number;
  /** Interceptors for the render Workers' activities (metrics). */
  renderInterceptors?: ActivityInterceptorsFactory[];
}

export interface WorkerSet {
  workers: Worker[];
  run(): Promise<void>;
  shutdown(): void;
}

let cachedBundle: Promise<WorkflowBundleOption> | undefined;

/** Bundles the workflow code once per process (production images load a prebuilt bundle instead). */
export function workflowBundle(): Promise<WorkflowBundleOption> {
  cachedBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  }).then((bundle) => ({ code: bundle.code }));
  return cachedBundle;
}

export function progressReporter(client: Client): (update: RenderProgressUpdate) => Promise<void> {
  return async ({ workflowId, ...progress }) => {
    // Ends with the render activity (cancelled, or its worker shutting down).
    await client.withAbortSignal(Context.current().cancellationSignal, () =>
      client.workflow.getHandle(workflowId).signal(renderProgressSignal, progress),
    );
  };
}

export async function createWorkerSet(options: WorkerSetOptions): Promise<WorkerSet> {
  const roles = {
    workflows: options.roles?.workflows ?? [...PRIORITIES],
    renderQueues: options.roles?.renderQueues ?? (['manim', 'general'] as RenderQueue[]),
    sync: options.roles?.sync ?? true,
    admission: options.roles?.admission ?? true,
  };
  const common = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    shutdownGraceTime: options.shutdownGraceTime ?? '30s',
    ...(options.identity ? { identity: options.identity } : {}),
  };
  const workers: Worker[] = [];
  const runsWorkflows = roles.workflows.length > 0 || roles.admission;
  const bundle = runsWorkflows ? (options.workflowBundle ?? (await workflowBundle())) : undefined;

  const readModel = createReadModelActivities({ store: options.store });
  const admission = createAdmissionActivities({
    store: options.store,
    client: options.client,
    renderers: options.renderers,
  });
  for (const priority of roles.workflows) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: WORKFLOW_TASK_QUEUE[priority],
        workflowBundle: bundle,
        // Local activities of a job's first workflow task: the render policy, then the permit request.
        activities: {
          loadRenderPolicy: readModel.loadRenderPolicy,
          ...createPermitActivities({ client: options.client }),
        },
        enableNonLocalActivities: false,
      }),
    );
  }
  if (roles.admission) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: ADMISSION_TASK_QUEUE,
        workflowBundle: bundle,
        // Its own queue and Worker: admission's workflow tasks never wait behind job workflow tasks.
        enableNonLocalActivities: false,
      }),
    );
  }
  if (roles.sync) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: SYNC_TASK_QUEUE,
        activities: {
          ...readModel,
          ...admission,
          ...createIntakeActivities({ store: options.store, client: options.client }),
        },
        maxConcurrentActivityTaskExecutions: 20,
      }),
    );
  }
  if (roles.renderQueues.length) {
    const renderActivities = createRenderActivities({
      renderers: options.renderers,
      reportProgress: progressReporter(options.client),
      ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
      ...(options.pollErrorToleranceMs ? { pollErrorToleranceMs: options.pollErrorToleranceMs } : {}),
    });
    for (const queue of roles.renderQueues) {
      workers.push(
        await Worker.create({
          ...common,
          taskQueue: RENDER_TASK_QUEUE[queue],
          activities: renderActivities,
          tuner: renderWorkerTuner(options.limiter, queue),
          ...(options.renderInterceptors ? { interceptors: { activity: options.renderInterceptors } } : {}),
          // Few pollers: each idle poller holds a reserved render slot while it waits.
          activityTaskPollerBehavior: { type: 'simple-maximum', maximum: RENDER_WORKER_POLLERS },
          // Heartbeats carry cancellations back: a cancelled job or a timed-out attempt reaches the
          // render within a second, instead of 0.8 x the heartbeat timeout (Core's default).
          maxHeartbeatThrottleInterval: LIMITS.renderHeartbeatEveryMs,
        }),
      );
    }
  }

  // Exactly one admission workflow per namespace; any worker may be the one that starts it.
  if (roles.admission) await ensureAdmission(options.client, options.admissionOptions);

  return {
    workers,
    run: async () => {
      await Promise.all(workers.map((worker) => worker.run()));
    },
    shutdown: () => {
      for (const worker of workers) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
    },
  };
}
