/**
 * A whole render queue in the test process: renderer simulators on free ports, a database
 * (real PostgreSQL when it answers, PGlite otherwise) and the production worker wiring,
 * connected to a test Temporal server.
 */
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { admissionSnapshotQuery } from '../../src/shared/admission-messages';
import type { CapacityLimiter } from '../../src/capacity/capacity-limiter';
import type { LiveQueueConfig } from '../../src/capacity/live-config';
import { createRenderers } from '../../src/renderers/adapters';
import { startRendererSimulator } from '../../src/simulator/renderer-simulator';
import type { Queryable } from '../../src/store/migrate';
import type { PostgresJobStore } from '../../src/store/postgres-store';
import { ADMISSION_WORKFLOW_ID, renderQueueFor } from '../../src/shared/constants';
import type { Renderer } from '../../src/shared/constants';
import { createWorkerSet } from '../../src/worker/create-workers';
import { startLocalCapacity } from '../../src/worker/local-capacity';
import { IntakeRunner } from '../../src/intake/intake-runner';
import { pgWakeups, pgliteWakeups } from '../../src/intake/wakeups';
import type { IntakeWakeups } from '../../src/intake/wakeups';
import type { PGlite } from '@electric-sql/pglite';

const quietLogger = { info: () => undefined, warn: () => undefined };
import type { WorkerSet, WorkerSetOptions } from '../../src/worker/create-workers';
import { dbTargets } from './db';
import type { OpenedTestDb } from './db';

export type Simulator = Awaited<ReturnType<typeof startRendererSimulator>>;

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

export async function preferredDb() {
  const targets = dbTargets();
  return (targets.find((t) => t.name === 'postgres') ?? targets[0])!.open();
}

/**
 * Sets the fleet-wide caps in `job_queue_config`, outside peak hours whatever the clock says
 * (an empty peak window), so a test's caps do not depend on the time of day it runs.
 */
export async function setFleetCaps(db: Queryable, caps: { total: number; manim: number }): Promise<void> {
  await db.query(
    `UPDATE job_queue_config SET max_concurrent_renders = $1, max_manim_renders = $2,
       peak_hour_start = '00:00', peak_hour_end = '00:00'`,
    [caps.total, caps.manim],
  );
}

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
    /** Intake woken on insert, as src/worker/runtime.ts runs it (LISTEN on the stack's database). */
    intake?: boolean;
    /** A database the test prepared (closed with the stack); a fresh one by default. */
    db?: OpenedTestDb;
  } = {},
): Promise<Stack> {
  const db = opts.db ?? (await preferredDb());
  const sims = {} as Record<Renderer, Simulator>;
  for (const backend of ['manim', 'revideo', 'orchestrator'] as const) {
    sims[backend] = await startRendererSimulator({ backend, port: 0, ...opts.simulator });
  }
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
  const workers = await createWorkerSet({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    client: env.client,
    store: db.store,
    renderers: createRenderers({
      manim: sims.manim.url,
      revideo: sims.revideo.url,
      orchestrator: sims.orchestrator.url,
    }),
    limiter,
    pollIntervalMs: 100,
    shutdownGraceTime: '2s',
    ...(opts.roles ? { roles: opts.roles } : {}),
    ...(opts.renderInterceptors ? { renderInterceptors: opts.renderInterceptors } : {}),
    ...(opts.admissionOptions ? { admissionOptions: opts.admissionOptions } : {}),
  });
  const running = workers.run();
  let intake: { runner: IntakeRunner; wakeups: IntakeWakeups } | undefined;
  if (opts.intake) {
    const runner = new IntakeRunner({ store: db.store, client: env.client, logger: quietLogger });
    const wakeups = db.url ? pgWakeups(db.url, quietLogger) : pgliteWakeups(db.db as unknown as PGlite);
    await wakeups.start(() => runner.wake());
    intake = { runner, wakeups };
  }
  return {
    store: db.store,
    db: db.db,
    sims,
    limiter,
    liveConfig,
    configLog,
    ...(db.url ? { dbUrl: db.url } : {}),
    workers,
    ...(intake ? { intake: intake.runner } : {}),
    async close() {
      await intake?.wakeups.stop();
      await intake?.runner.stop();
      liveConfig.stop();
      workers.shutdown();
      await running;
      await Promise.all(Object.values(sims).map((sim) => sim.close()));
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
