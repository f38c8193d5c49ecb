/**
 * The development stack kit: renderer simulators, the production worker wiring over a database and
 * a Temporal server, and a whole render queue in one process built from both. The tests, the
 * reliability suite, the benchmark, the demo and record-histories all build their stack here.
 */
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { admissionSnapshotQuery } from '../src/shared/admission-messages';
import { AdmissionQueue } from '../src/shared/admission-queue';
import type { CapacityLimiter } from '../src/capacity/capacity-limiter';
import type { LiveQueueConfig } from '../src/capacity/live-config';
import { createRenderers } from '../src/renderers/adapters';
import type { RendererAdapterOptions } from '../src/renderers/adapters';
import type { Queryable } from '../src/store/migrate';
import type { JobStore } from '../src/store/job-store';
import type { PostgresJobStore } from '../src/store/postgres-store';
import {
  ADMISSION_WORKFLOW_ID,
  DEFAULT_QUEUE_CONFIG,
  RENDERERS,
  WORKFLOW_TYPE,
  renderQueueFor,
} from '../src/shared/constants';
import { admissionStartOptions } from '../src/activities/admission-client';
import { NO_DURATIONS } from '../src/shared/admission-estimate';
import type { AdmissionCarried, AdmissionOptions } from '../src/workflows/admission';
import type { Renderer } from '../src/shared/constants';
import { createWorkerSet } from '../src/worker/create-workers';
import type { WorkerSet, WorkerSetOptions } from '../src/worker/create-workers';
import { startLocalCapacity } from '../src/worker/local-capacity';
import { startIntakeOnInsert } from '../src/intake/intake-runner';
import type { IntakeOnInsert, IntakeRunner } from '../src/intake/intake-runner';
import { pgWakeups, pgliteWakeups } from '../src/intake/wakeups';
import type { PGlite } from '@electric-sql/pglite';
import { startAllSimulators } from './simulator/start-all';
import type { AllSimulators } from './simulator/start-all';
import type { RendererSimulator } from './simulator/renderer-simulator';
import { openPreferredDb, setFleetCaps } from './db';
import { eventually } from './temporal';
import type { OpenedTestDb } from './db';

export type Simulator = RendererSimulator;

export interface StackSimulatorsOptions {
  defaultDurationMs?: number;
  progressSteps?: number;
  /** On the backends' default ports (a taken one falls back to a free port), for a worker with default config; free ports otherwise. */
  defaultPorts?: boolean;
}

/** One renderer simulator per backend, on free ports unless `defaultPorts`. */
export async function startStackSimulators(options: StackSimulatorsOptions = {}): Promise<AllSimulators> {
  const { defaultPorts, ...rest } = options;
  const freePorts = Object.fromEntries(RENDERERS.map((backend) => [backend, 0])) as Record<Renderer, number>;
  return startAllSimulators({ ...rest, ...(defaultPorts ? {} : { ports: freePorts }) });
}

/** Where the stack's workers connect: a test environment, or any Temporal server and client. */
export interface StackTemporal {
  nativeConnection: NativeConnection;
  namespace?: string;
  client: Client;
}

export interface StackWorkersOptions
  extends Pick<
    WorkerSetOptions,
    | 'roles'
    | 'renderInterceptors'
    | 'admissionOptions'
    | 'pollErrorToleranceMs'
    | 'workflowBundle'
    | 'pollIntervalMs'
    | 'admissionKeeperSeconds'
  > {
  store: JobStore;
  /** The renderer URLs the workers call (the simulators', or proxies in front of them). */
  urls: Record<Renderer, string>;
  limiter: CapacityLimiter;
  renderer?: RendererAdapterOptions;
}

export interface StackWorkers {
  workers: WorkerSet;
  /** Shuts the workers down and waits until they stopped. */
  stop(): Promise<void>;
}

/** The production worker set (createWorkerSet), polling fast and shutting down quickly, running. */
export async function startStackWorkers(
  temporal: StackTemporal,
  opts: StackWorkersOptions,
): Promise<StackWorkers> {
  const { store, urls, limiter, renderer, ...rest } = opts;
  const workers = await createWorkerSet({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace ?? 'default',
    client: temporal.client,
    store,
    renderers: createRenderers(urls, renderer ?? {}),
    limiter,
    pollIntervalMs: 100,
    shutdownGraceTime: '2s',
    // Undefined options are the worker set's defaults.
    ...rest,
  });
  const running = workers.run();
  return {
    workers,
    async stop() {
      workers.shutdown();
      await running;
    },
  };
}

const quietLogger = { info: () => undefined, warn: () => undefined };

export interface Stack {
  store: PostgresJobStore;
  /** The same database, for tests that change `job_queue_config` or read rows directly. */
  db: Queryable;
  sims: Record<Renderer, Simulator>;
  limiter: CapacityLimiter;
  /** Re-reads `job_queue_config` and sets the local limiter's caps (as the worker runtime does). */
  liveConfig: LiveQueueConfig;
  /** What `liveConfig` logged, in order (warnings for rejected rows and failed reads). */
  configLog: ConfigLogLine[];
  /** The database URL when the stack runs on PostgreSQL, for a second connection. */
  dbUrl?: string;
  workers: WorkerSet;
  /** Present when started with `intake: true`. */
  intake?: IntakeRunner;
  /** Stops the workers and everything started here. */
  close(): Promise<void>;
}

export interface ConfigLogLine {
  level: 'info' | 'warn';
  message: string;
}

/** The local capacity's config reads, with a clock and a read the test controls. */
export interface StackLiveConfigOptions {
  /** The clock peak hours are judged by; the real one by default. */
  now?: () => Date;
  intervalMs?: number;
  /**
   * Reads the row; the stack's own store (`readQueueConfig`) by default. Given the stack's store and
   * database URL, so a test can read through a connection of its own and cut it.
   */
  read?: (db: { store: PostgresJobStore; url?: string }) => Promise<Record<string, unknown>>;
}

/** A whole render queue in this process: simulators, a database, the worker wiring and (optionally) intake on insert. */
export async function startStack(
  env: TestWorkflowEnvironment,
  opts: {
    /**
     * Fleet-wide caps written to job_queue_config before the workers start (default: 10 and 4,
     * no peak); not written when `liveConfig` is given (the test sets the row itself).
     */
    caps?: { total: number; manim: number };
    roles?: WorkerSetOptions['roles'];
    simulator?: { defaultDurationMs?: number; progressSteps?: number };
    /** Caps come from `job_queue_config` (via LiveQueueConfig) instead of `caps`. */
    liveConfig?: StackLiveConfigOptions;
    /** Interceptors for the render activities, e.g. to see the task's priority as Core hands it over. */
    renderInterceptors?: WorkerSetOptions['renderInterceptors'];
    admissionOptions?: WorkerSetOptions['admissionOptions'];
    admissionKeeperSeconds?: number;
    /** Intake woken on insert, as src/worker/runtime.ts runs it (LISTEN on the stack's database). */
    intake?: boolean;
    /** A database the test prepared (closed with the stack); a fresh one by default. */
    db?: OpenedTestDb;
  } = {},
): Promise<Stack> {
  const db = opts.db ?? (await openPreferredDb());
  const simulators = await startStackSimulators(opts.simulator);
  const configLog: ConfigLogLine[] = [];
  if (!opts.liveConfig) await setFleetCaps(db.db, opts.caps ?? { total: 10, manim: 4 });
  // The process's own capacity, wired exactly as src/worker/runtime.ts wires it.
  const { liveConfig, limiter } = await startLocalCapacity({
    read: opts.liveConfig?.read ? () => opts.liveConfig!.read!(db) : () => db.store.readQueueConfig(),
    intervalMs: opts.liveConfig?.intervalMs ?? 500,
    ...(opts.liveConfig?.now ? { now: opts.liveConfig.now } : {}),
    logger: {
      info: (message) => configLog.push({ level: 'info', message }),
      warn: (message) => configLog.push({ level: 'warn', message }),
    },
  });
  const { workers, stop } = await startStackWorkers(env, {
    store: db.store,
    urls: simulators.urls,
    limiter,
    roles: opts.roles,
    renderInterceptors: opts.renderInterceptors,
    admissionOptions: opts.admissionOptions,
    admissionKeeperSeconds: opts.admissionKeeperSeconds,
  });
  let intake: IntakeOnInsert | undefined;
  if (opts.intake) {
    intake = await startIntakeOnInsert({
      store: db.store,
      client: env.client,
      logger: quietLogger,
      wakeups: db.url ? pgWakeups(db.url, quietLogger) : pgliteWakeups(db.db as unknown as PGlite),
    });
  }
  return {
    store: db.store,
    db: db.db,
    sims: simulators.simulators,
    limiter,
    liveConfig,
    configLog,
    ...(db.url ? { dbUrl: db.url } : {}),
    workers,
    ...(intake ? { intake: intake.runner } : {}),
    async close() {
      await intake?.stop();
      liveConfig.stop();
      await stop();
      await simulators.close();
      await db.close();
    },
  };
}

export interface RenderCounts {
  total: number;
  manim: number;
  general: number;
}

export interface RenderStart {
  jobId: string;
  backend: Renderer;
  attempt: number;
}

/** What the renderers saw, across all three simulators: the ground truth for capacity tests. */
export interface RenderWatch {
  /** Renders in flight right now (accepted, not finished or cancelled). */
  current(): RenderCounts;
  /** The most in flight at once since the watch started or `resetPeak()`, per count independently. */
  peak(): RenderCounts;
  resetPeak(): void;
  /** Every accepted render in acceptance order; one process, so one well-defined order across simulators. */
  readonly starts: readonly RenderStart[];
  /** Resolves once `predicate` holds, re-checked after every simulator event; rejects after `timeoutMs`. */
  until(what: string, predicate: (watch: RenderWatch) => boolean, timeoutMs?: number): Promise<void>;
  stop(): void;
}

export function watchRenders(sims: Record<Renderer, Simulator>): RenderWatch {
  const starts: RenderStart[] = [];
  const waiters = new Set<() => void>();
  const current = (): RenderCounts => {
    const counts = { total: 0, manim: 0, general: 0 };
    for (const sim of Object.values(sims)) {
      const n = sim.stats().inFlight;
      counts.total += n;
      counts[renderQueueFor(sim.backend)] += n;
    }
    return counts;
  };
  let peak = current();
  const unsubscribe = Object.values(sims).map((sim) =>
    sim.onEvent((event) => {
      if (event.type === 'started') {
        starts.push({ jobId: event.jobId, backend: sim.backend, attempt: event.attempt });
      }
      const now = current();
      peak = {
        total: Math.max(peak.total, now.total),
        manim: Math.max(peak.manim, now.manim),
        general: Math.max(peak.general, now.general),
      };
      for (const wake of [...waiters]) wake();
    }),
  );
  const watch: RenderWatch = {
    current,
    peak: () => ({ ...peak }),
    resetPeak: () => {
      peak = current();
    },
    starts,
    until: (what, predicate, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(watch)) return resolve();
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        const check = (): void => {
          if (!predicate(watch)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; in flight ${JSON.stringify(current())}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
      }),
    stop: () => {
      for (const off of unsubscribe) off();
      waiters.clear();
    },
  };
  return watch;
}

/** Resolves once admission holds no permit and no waiting job: the previous test's jobs are all gone. */
/**
 * Waits until every one of `jobIds` waits in admission's queue. A job joins it in its workflow's
 * first task, just after its submit returned: admission can only order the jobs it has heard of, so
 * a test that frees a slot before then sees the first arrival start, whatever its priority.
 */
export async function admissionWaitingFor(
  client: Client,
  jobIds: string[],
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(
    `admission to hear of all ${jobIds.length} jobs`,
    async () => {
      const snapshot = await client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery);
      const queue = AdmissionQueue.decode(snapshot.queue);
      return jobIds.every((id) => queue.waitingEntry(id) !== undefined) || undefined;
    },
    timeoutMs,
    50,
  );
}

export async function admissionIdle(client: Client, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snapshot = await client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery);
    if (snapshot.queue.holders === '' && snapshot.queue.waiting === '') return;
    if (Date.now() > deadline) {
      throw new Error(
        `admission still busy after ${timeoutMs} ms: ${JSON.stringify(snapshot.queue).slice(0, 200)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Replaces the running admission run with one continued from older code that lost the jobs'
 * requests (they came as batches it had no handler for): the holders it granted, no waiting job,
 * and no `requestBatches` mark. Nothing but its own re-registration would tell it about the
 * waiting jobs. Returns its run id.
 */
export async function replaceAdmissionWithOlderCodeRun(
  client: Client,
  caps: { total: number; manim: number },
  options?: AdmissionOptions,
): Promise<string> {
  const running = await client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery);
  const state: AdmissionCarried = {
    queue: { waiting: '', holders: running.queue.holders },
    // No peak window, as setFleetCaps writes (in peak hours the caps would be half as large again).
    config: {
      ...DEFAULT_QUEUE_CONFIG,
      maxConcurrentRenders: caps.total,
      maxManimRenders: caps.manim,
      peakHourStart: '00:00',
      peakHourEnd: '00:00',
    },
    durations: NO_DURATIONS,
    reconciledUntil: Date.now(),
    granted: 0,
  };
  const handle = await client.workflow.start(WORKFLOW_TYPE.admission, {
    ...admissionStartOptions(),
    args: [{ version: 1, state, ...(options ? { options } : {}) }],
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
  });
  return handle.firstExecutionRunId;
}
