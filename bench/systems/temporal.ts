/**
 * This project, in-process, wired as production wires it: createWorkerSet with the local slot
 * guard following job_queue_config (startLocalCapacity, as the worker runtime does), admission
 * keeping the run's caps fleet-wide, read-model sync on, jobs started with submitJob (or inserted).
 */
import type { PGlite } from '@electric-sql/pglite';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { startIntakeOnInsert } from '../../src/intake/intake-runner';
import { pgWakeups, pgliteWakeups } from '../../src/intake/wakeups';
import { insertQueuedJob } from './peers';
import {
  admissionConfigChangedSignal,
  admissionSnapshotQuery,
  permitGrantedSignal,
} from '../../src/shared/admission-messages';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import {
  ADMISSION_LIMITS,
  ADMISSION_WORKFLOW_ID,
  WORKFLOW_TYPE,
  renderJobWorkflowId,
} from '../../src/shared/constants';
import { queuedWithinMs, waitUntil } from '../lib/infra';
import { startStackWorkers } from '../../dev/stack';
import { startLocalCapacity } from '../../src/worker/local-capacity';
import { forEachConcurrently } from '../../src/util/for-each-concurrently';
import type { RenderActivities } from '../../src/activities/render';
import { submitBenchJob } from '../lib/jobs';
import { compileEntry, shippedWorkerEnv, startWorkerProcess } from '../lib/proc';
import type { BenchJob } from '../lib/jobs';
import type {
  AdmissionHandover,
  DecisionStages,
  StartContext,
  SystemFactory,
  SystemId,
  SystemRun,
} from './types';

export const CAPS = { total: 10, manim: 4 };

/** The bench's own wiring logs nothing: its tables and the JSON log lines of bench/run.ts are the output. */
const silent = { info() {}, warn() {}, error() {} };

const TERMINATE_CONCURRENCY = 20;

/** How long a finished run's jobs get to close on their own (their rows are final; a last release or sync may be in flight). */
const CLOSE_ON_THEIR_OWN_MS = 15_000;

async function terminateOpenJobs(env: TestWorkflowEnvironment): Promise<void> {
  const query = `WorkflowType = '${WORKFLOW_TYPE.renderJob}' AND ExecutionStatus = 'Running'`;
  await waitUntil(
    "the run's jobs to close on their own",
    async () => (await env.client.workflow.count(query)).count === 0,
    CLOSE_ON_THEIR_OWN_MS,
    500,
  ).catch(() => undefined); // those still open are terminated below
  const ids: string[] = [];
  for await (const run of env.client.workflow.list({ query })) ids.push(run.workflowId);
  if (ids.length === 0) return;
  process.stdout.write(`terminating ${ids.length} job workflows the run left open\n`);
  await forEachConcurrently(ids, TERMINATE_CONCURRENCY, async (id) => {
    await env.client.workflow
      .getHandle(id)
      .terminate('benchmark run ended')
      .catch(() => undefined); // closed meanwhile
  });
}

interface Workers {
  stop(): Promise<void>;
  /** Throws once the workers can no longer run jobs (their process is gone). */
  assertAlive?(): void;
}

/**
 * `via: 'insert'`: jobs arrive as the frontend sends them, a row inserted into `jobs`; intake
 * wakes on the insert (LISTEN/NOTIFY) and submits, as in a worker process. `'api'`: submitJob.
 */
export function temporalSystem(
  env: TestWorkflowEnvironment,
  id: SystemId,
  pollIntervalMs: number,
  via: 'api' | 'insert' = 'api',
): SystemFactory {
  return {
    id,
    start: (ctx) =>
      startAround(env, ctx, via, async () => {
        const { liveConfig, limiter } = await startLocalCapacity({
          read: () => ctx.db.store.readQueueConfig(),
          logger: silent,
        });
        const workers = await startStackWorkers(env, {
          store: ctx.db.store,
          urls: ctx.urls,
          limiter,
          pollIntervalMs,
        });
        return {
          stop: async () => {
            await workers.stop();
            liveConfig.stop();
          },
        };
      }),
  };
}

/**
 * This project as production runs it: the shipped worker (`src/worker.ts`, compiled, with the
 * image's NODE_OPTIONS) as its own process on the run's database, hosting admission and the job
 * workflows; jobs started with submitJob. A scenario that puts thousands of workflows in flight
 * runs here, so the worker's memory and any crash of it stay out of the benchmark's process.
 * Needs PostgreSQL (the process shares the run's database). Render poll: the production 1 s.
 */
export function temporalWorkerProcessSystem(
  env: TestWorkflowEnvironment,
  id: SystemId,
  bundlePath: string,
): SystemFactory {
  return {
    id,
    start: (ctx) =>
      startAround(env, ctx, 'api', async () => {
        if (!ctx.db.url) throw new Error('a worker process needs PostgreSQL: the run database is PGlite');
        const worker = startWorkerProcess(
          await compileEntry('src/worker.ts'),
          [],
          shippedWorkerEnv({ address: env.address, databaseUrl: ctx.db.url, urls: ctx.urls, bundlePath }),
          'worker running',
        );
        try {
          await worker.ready;
        } catch (err) {
          await worker.stop();
          throw err;
        }
        return {
          stop: () => worker.stop(),
          assertAlive: () => {
            const { exitCode, signalCode } = worker.child;
            if (exitCode !== null || signalCode !== null) {
              throw new Error(
                `the worker process exited (${signalCode ?? `code ${exitCode}`}); its output: ${worker.tail()}`,
              );
            }
          },
        };
      }),
  };
}

const HISTORY_READ_CONCURRENCY = 20;
/** The render activity's type name (the method's name, as the workflow schedules it). */
const RENDER_ACTIVITY: keyof RenderActivities = 'render';

/**
 * When admission's first grant reached each job's workflow (the signal's event time): admission
 * decided the start then, and the render began at its renderer a few workflow and activity
 * tasks later; with the render activity's first scheduling and pick-up (the events' times), the
 * stages in between.
 */
async function decisionStages(
  env: TestWorkflowEnvironment,
  jobIds: readonly string[],
): Promise<DecisionStages> {
  const stages: DecisionStages = { granted: new Map(), scheduled: new Map(), pickedUp: new Map() };
  await forEachConcurrently([...jobIds], HISTORY_READ_CONCURRENCY, async (jobId) => {
    const history = await env.client.workflow.getHandle(renderJobWorkflowId(jobId)).fetchHistory();
    const events = history.events ?? [];
    const set = (stage: Map<string, number>, event: temporal.api.history.v1.IHistoryEvent | undefined) => {
      const at = optionalTsToMs(event?.eventTime);
      if (at !== undefined) stage.set(jobId, at);
    };
    set(
      stages.granted,
      events.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === permitGrantedSignal.name),
    );
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === RENDER_ACTIVITY,
    );
    set(stages.scheduled, scheduled);
    set(
      stages.pickedUp,
      scheduled &&
        events.find(
          (e) =>
            e.activityTaskStartedEventAttributes &&
            String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(scheduled.eventId),
        ),
    );
  });
  return stages;
}

const { WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND } = temporal.api.enums.v1.WorkflowTaskFailedCause;

/**
 * Admission's runs that continued as new after `sinceMs`, from their histories: whether a signal
 * raced the task that continued as new, how long the run took to close once past its limit, and
 * the longest of its workflow tasks meanwhile.
 */
async function admissionHandovers(
  env: TestWorkflowEnvironment,
  sinceMs: number,
): Promise<AdmissionHandover[]> {
  const handovers: AdmissionHandover[] = [];
  const runs = env.client.workflow.list({
    query: `WorkflowId = '${ADMISSION_WORKFLOW_ID}' AND ExecutionStatus = 'ContinuedAsNew'`,
  });
  for await (const run of runs) {
    if ((run.closeTime?.getTime() ?? 0) < sinceMs) continue;
    const events =
      (await env.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory()).events ?? [];
    const taskStarts = events.filter((e) => e.workflowTaskStartedEventAttributes);
    // A task sees the history up to its own start: the first one at the limit begins the closing
    // (the last task, if the server suggested continuing as new first).
    const closingFrom = taskStarts.findIndex((e) => Number(e.eventId) >= ADMISSION_LIMITS.historyLimit);
    const closing = taskStarts.slice(closingFrom >= 0 ? closingFrom : -1);
    const firstId = Number(closing[0]?.eventId ?? 0);
    const after = events.filter((e) => Number(e.eventId) >= firstId);
    let longestTaskMs = 0;
    for (const started of closing) {
      const ended = after.find(
        (e) =>
          (
            e.workflowTaskCompletedEventAttributes?.startedEventId ??
            e.workflowTaskFailedEventAttributes?.startedEventId
          )?.toString() === started.eventId?.toString(),
      );
      const ms = (optionalTsToMs(ended?.eventTime) ?? 0) - (optionalTsToMs(started.eventTime) ?? 0);
      longestTaskMs = Math.max(longestTaskMs, ms);
    }
    handovers.push({
      raced: after.some(
        (e) => e.workflowTaskFailedEventAttributes?.cause === WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
      ),
      closingMs:
        (optionalTsToMs(events.at(-1)?.eventTime) ?? 0) - (optionalTsToMs(closing[0]?.eventTime) ?? 0),
      longestTaskMs,
    });
  }
  return handovers;
}

async function startAround(
  env: TestWorkflowEnvironment,
  ctx: StartContext,
  via: 'api' | 'insert',
  startWorkers: () => Promise<Workers>,
): Promise<SystemRun> {
  const workers = await startWorkers();
  // One admission workflow serves every run on this server: it must have let go of the last
  // run's jobs, and read this run's caps now rather than at its next housekeeping round.
  const admission = env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID);
  // A query can time out while admission works through a burst: that is "not yet", not a failure.
  const queueNow = async () => {
    try {
      return AdmissionQueue.decode((await admission.query(admissionSnapshotQuery)).queue);
    } catch {
      return undefined;
    }
  };
  let intake: Awaited<ReturnType<typeof startIntakeOnInsert>> | undefined;
  try {
    await waitUntil(
      'admission idle',
      async () => {
        workers.assertAlive?.();
        return (await queueNow())?.holdersList().length === 0;
      },
      120_000,
      200,
    );
    await admission.signal(admissionConfigChangedSignal);
    if (via === 'insert')
      intake = await startIntakeOnInsert({
        store: ctx.db.store,
        client: env.client,
        logger: silent,
        wakeups: ctx.db.url ? pgWakeups(ctx.db.url, silent) : pgliteWakeups(ctx.db.db as unknown as PGlite),
      });
  } catch (err) {
    // The next system run registers Workers on the same queues: stop these.
    await workers.stop();
    throw err;
  }
  return {
    submit: async (job: BenchJob) => {
      if (via === 'insert') return insertQueuedJob(ctx.db.db, job);
      await submitBenchJob(env.client, job);
    },
    ready: async (jobIds) => {
      await waitUntil(
        'admission to hear of every job',
        async () => {
          workers.assertAlive?.();
          const queue = await queueNow();
          return queue !== undefined && jobIds.every((id) => queue.waitingEntry(id) ?? queue.holder(id));
        },
        queuedWithinMs(jobIds.length),
        200,
      );
    },
    ...(workers.assertAlive ? { assertAlive: workers.assertAlive } : {}),
    decisions: (jobIds) => decisionStages(env, jobIds),
    handovers: (sinceMs) => admissionHandovers(env, sinceMs),
    stop: async () => {
      try {
        await intake?.stop();
        // A run that failed part-way leaves jobs behind: they would hold and wait for permits
        // through every later scenario on this server. Admission's reconciliation then lets go
        // of them, which the next run's idle wait sees.
        await terminateOpenJobs(env);
      } finally {
        await workers.stop();
      }
    },
  };
}
