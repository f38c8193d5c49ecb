/**
 * Builds every Temporal Worker of one worker process. Shared by `src/worker.ts` (production),
 * the demo and the tests, so tests exercise the same wiring that ships.
 */
import { JsonLogger } from '../observability/logger';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type {
  ActivityInterceptorsFactory,
  Logger,
  NativeConnection,
  WorkflowBundleOption,
} from '@temporalio/worker';
import { createAdmissionActivities, createPermitActivities } from '../activities/admission';
import { createEnterQueueActivities } from '../activities/enter-queue';
import { createIntakeActivities } from '../activities/intake';
import { runIntakeBatch } from '../intake/intake-batch';
import { createReadModelActivities } from '../activities/read-model';
import { createRenderActivities } from '../activities/render';
import type { RenderProgressUpdate } from '../activities/render';
import type { CapacityLimiter } from '../capacity/capacity-limiter';
import { RENDER_WORKER_POLLERS, renderWorkerTuner } from '../capacity/capacity-limiter';
import { ensureAdmission } from '../activities/admission-client';
import { keepAdmission } from './admission-keeper';
import {
  ADMISSION_LIMITS,
  LIMITS,
  RENDER_TASK_QUEUE,
  SYNC_TASK_QUEUE,
  WORKER_LIMITS,
  SERVICE_WORKFLOW_TASK_QUEUE,
  WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
} from '../shared/constants';
import type { RenderQueue } from '../shared/constants';
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
  roles?: { workflows?: boolean; renderQueues?: RenderQueue[]; sync?: boolean };
  /** Options the admission workflow starts with, if this process is the one that starts it (tests). */
  admissionOptions?: AdmissionOptions;
  shutdownGraceTime?: Duration;
  identity?: string;
  pollIntervalMs?: number;
  /** How long a render rides out failing status polls; the heartbeat timeout by default (tests shorten it). */
  pollErrorToleranceMs?: number;
  /** Interceptors for the render Workers' activities (metrics). */
  renderInterceptors?: ActivityInterceptorsFactory[];
  /** Where the worker set's own warnings go (JSON lines on stderr by default). */
  logger?: Logger;
  /** How often this process checks that admission runs (ADMISSION_LIMITS.keeperSeconds; tests shorten it). */
  admissionKeeperSeconds?: number;
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
    logger: new JsonLogger('WARN'),
  }).then((bundle) => ({ code: bundle.code }));
  return cachedBundle;
}

/** The last heartbeat details of a workflow's pending render activities, from the server. */
function pendingRendersOf(client: Client): (workflowId: string) => Promise<unknown[]> {
  return async (workflowId) => {
    const { raw } = await client.withAbortSignal(Context.current().cancellationSignal, () =>
      client.workflow.getHandle(workflowId).describe(),
    );
    return (raw.pendingActivities ?? [])
      .filter((activity) => activity.activityType?.name === 'render')
      .map((activity) => {
        const payload = activity.heartbeatDetails?.payloads?.[0];
        return payload ? client.options.loadedDataConverter.payloadConverter.fromPayload(payload) : undefined;
      });
  };
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
    workflows: options.roles?.workflows ?? true,
    renderQueues: options.roles?.renderQueues ?? (['manim', 'general'] as RenderQueue[]),
    sync: options.roles?.sync ?? true,
  };
  const common = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    shutdownGraceTime: options.shutdownGraceTime ?? '30s',
    ...(options.identity ? { identity: options.identity } : {}),
  };
  const workers: Worker[] = [];
  const bundle = roles.workflows ? (options.workflowBundle ?? (await workflowBundle())) : undefined;

  const readModel = createReadModelActivities({ store: options.store });
  const permits = createPermitActivities({ client: options.client });
  const enterQueueActivities = createEnterQueueActivities({ client: options.client, store: options.store });
  const admission = createAdmissionActivities({
    store: options.store,
    client: options.client,
    renderers: options.renderers,
  });
  if (roles.workflows) {
    const workflowWorker = (taskQueue: string, maxCachedWorkflows: number) =>
      Worker.create({
        ...common,
        taskQueue,
        workflowBundle: bundle,
        // Local activities only: admission's grant deliveries, and for runs that recorded them before
        // admission-calls.ts moved them to the sync queue, a job's first step and its permit calls
        // (and the policy read of workflows started before fleet-wide admission).
        activities: {
          loadRenderPolicy: readModel.loadRenderPolicy,
          ...permits,
          ...enterQueueActivities,
        },
        // This Worker polls no activity queue: render and sync activities have Workers of their own.
        enableNonLocalActivities: false,
        // Bounded, so memory is flat at any backlog (see WORKER_LIMITS).
        maxCachedWorkflows,
        // An admission run that cannot replay would hold every grant of the fleet while its task
        // is retried; failed, it is replaced by a fresh run that rebuilds its queue from the jobs
        // themselves (the keeper below, or the next request or release). Job workflows keep the
        // SDK's default: their task is retried until a fixed worker replays it.
        workflowFailureErrorTypes: { '*': [], [WORKFLOW_TYPE.admission]: ['NondeterminismError'] },
        // The SDK's defaults (one reused V8 context, one workflow thread per Worker) are what a
        // 2-core container wants.
      });
    // One per priority queue (docs/ARCHITECTURE.md, Worker processes); each is a V8 isolate of its own.
    for (const queue of Object.values(WORKFLOW_TASK_QUEUE)) {
      workers.push(await workflowWorker(queue, WORKER_LIMITS.cachedWorkflowsPerQueue));
    }
    // Admission and the intake sweep, apart, so job workflows never push them out of the cache.
    workers.push(await workflowWorker(SERVICE_WORKFLOW_TASK_QUEUE, WORKER_LIMITS.cachedServiceWorkflows));
  }
  // Render workers run renders; the sync worker runs `stopRender`, a job's cleanup call, which must
  // never wait for a render slot (the render it stops may hold the last one).
  const renderActivities = createRenderActivities({
    renderers: options.renderers,
    reportProgress: progressReporter(options.client),
    store: options.store,
    releasePermit: (release) => permits.releasePermit(release),
    pendingRenders: pendingRendersOf(options.client),
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
    ...(options.pollErrorToleranceMs ? { pollErrorToleranceMs: options.pollErrorToleranceMs } : {}),
  });
  if (roles.sync) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: SYNC_TASK_QUEUE,
        activities: {
          ...readModel,
          ...admission,
          // A job's first step and its permit calls (workflows/admission-calls.ts).
          ...permits,
          ...enterQueueActivities,
          ...createIntakeActivities({
            runBatch: (limit, onRow) =>
              runIntakeBatch({ store: options.store, client: options.client }, limit, onRow),
          }),
          stopRender: renderActivities.stopRender,
        },
        // Mostly waiting (on the database, or on a batch of permit requests to go out): many at
        // once cost little, and a burst's requests then share signals (activities/admission-client.ts).
        maxConcurrentActivityTaskExecutions: WORKER_LIMITS.syncActivities,
      }),
    );
  }
  if (roles.renderQueues.length) {
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
  if (roles.workflows) await ensureAdmission(options.client, options.admissionOptions);
  const keeperMs = (options.admissionKeeperSeconds ?? ADMISSION_LIMITS.keeperSeconds) * 1000;
  const keeper = roles.workflows
    ? keepAdmission(
        // Bounded by the interval: a check that outlives it has failed, and the next one tries again.
        () =>
          options.client.withDeadline(Date.now() + keeperMs, () =>
            ensureAdmission(options.client, options.admissionOptions),
          ),
        keeperMs,
        options.logger ?? new JsonLogger(),
      )
    : undefined;

  return {
    workers,
    run: async () => {
      try {
        await Promise.all(workers.map((worker) => worker.run()));
      } finally {
        keeper?.stop();
      }
    },
    shutdown: () => {
      keeper?.stop();
      for (const worker of workers) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
    },
  };
}
