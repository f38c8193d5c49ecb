/**
 * A whole render queue in the test process: renderer simulators on free ports, a database
 * (real PostgreSQL when it answers, PGlite otherwise) and the production worker wiring,
 * connected to a test Temporal server.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CapacityLimiter } from '../../src/capacity/capacity-limiter';
import { createRenderers } from '../../src/renderers/adapters';
import { startRendererSimulator } from '../../src/simulator/renderer-simulator';
import type { Queryable } from '../../src/store/migrate';
import type { PostgresJobStore } from '../../src/store/postgres-store';
import type { Renderer } from '../../src/shared/constants';
import { createWorkerSet } from '../../src/worker/create-workers';
import type { WorkerSet, WorkerSetOptions } from '../../src/worker/create-workers';
import { dbTargets } from './db';

export type Simulator = Awaited<ReturnType<typeof startRendererSimulator>>;

export interface Stack {
  store: PostgresJobStore;
  /** The same database, for tests that change `job_queue_config` or read rows directly. */
  db: Queryable;
  sims: Record<Renderer, Simulator>;
  limiter: CapacityLimiter;
  workers: WorkerSet;
  /** Stops the workers and everything started here. */
  close(): Promise<void>;
}

export async function preferredDb() {
  const targets = dbTargets();
  return (targets.find((t) => t.name === 'postgres') ?? targets[0])!.open();
}

export async function startStack(
  env: TestWorkflowEnvironment,
  opts: {
    caps?: { total: number; manim: number };
    roles?: WorkerSetOptions['roles'];
    simulator?: { defaultDurationMs?: number; progressSteps?: number };
  } = {},
): Promise<Stack> {
  const db = await preferredDb();
  const sims = {} as Record<Renderer, Simulator>;
  for (const backend of ['manim', 'revideo', 'orchestrator'] as const) {
    sims[backend] = await startRendererSimulator({ backend, port: 0, ...opts.simulator });
  }
  const limiter = new CapacityLimiter({ caps: opts.caps ?? { total: 10, manim: 4 } });
  const workers = await createWorkerSet({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    client: env.client,
    store: db.store,
    renderers: createRenderers({ manim: sims.manim.url, revideo: sims.revideo.url, orchestrator: sims.orchestrator.url }),
    limiter,
    pollIntervalMs: 100,
    shutdownGraceTime: '2s',
    ...(opts.roles ? { roles: opts.roles } : {}),
  });
  const running = workers.run();
  return {
    store: db.store,
    db: db.db,
    sims,
    limiter,
    workers,
    async close() {
      workers.shutdown();
      await running;
      await Promise.all(Object.values(sims).map((sim) => sim.close()));
      await db.close();
    },
  };
}
