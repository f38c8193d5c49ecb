/**
 * The in-process stack of the reliability tests: the shipped worker wiring (createWorkerSet) over
 * a store the test chooses (direct Postgres, PGlite, the Supabase adapter, a cut-able connection)
 * and renderer simulators, optionally behind fault proxies.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CapacityLimiter, localRenderCaps } from '../../../src/capacity/capacity-limiter';
import { createRenderers } from '../../../src/renderers/adapters';
import { DEFAULT_QUEUE_CONFIG, RENDERERS } from '../../../src/shared/constants';
import type { Renderer } from '../../../src/shared/constants';
import { startRendererSimulator } from '../../../src/simulator/renderer-simulator';
import type { RendererSimulator } from '../../../src/simulator/renderer-simulator';
import type { JobStore } from '../../../src/store/job-store';
import type { Queryable } from '../../../src/store/migrate';
import { createWorkerSet } from '../../../src/worker/create-workers';
import type { WorkerSet, WorkerSetOptions } from '../../../src/worker/create-workers';
import { dbTargets } from '../../helpers/db';
import { startFaultProxy } from './fault-proxy';
import type { FaultProxy } from './fault-proxy';

export interface ReliabilityStack {
  store: JobStore;
  /** Direct database handle, when the store has one (for arranging rows and reading audits). */
  db: Queryable | undefined;
  dbUrl: string | undefined;
  sims: Record<Renderer, RendererSimulator>;
  /** Present with `faults: true`: the workers reach each simulator through its proxy. */
  proxies: Record<Renderer, FaultProxy> | undefined;
  workers: WorkerSet;
  close(): Promise<void>;
}

export interface OpenedStore {
  store: JobStore;
  db?: Queryable;
  url?: string;
  close(): Promise<void>;
}

export interface ReliabilityStackOptions {
  /** The store the workers write; a fresh database (Postgres when it answers) by default. */
  opened?: OpenedStore;
  faults?: boolean;
  requestTimeoutMs?: number;
  pollErrorToleranceMs?: number;
  simulator?: { defaultDurationMs?: number; progressSteps?: number };
  caps?: { total: number; manim: number };
  /** Options admission starts with (the time-skipping server wants TIME_SKIPPING_ADMISSION). */
  admissionOptions?: WorkerSetOptions['admissionOptions'];
}

export async function openPreferredDb(): Promise<OpenedStore> {
  const targets = dbTargets();
  const target = targets.find((t) => t.name === 'postgres') ?? targets[0]!;
  return target.open();
}

export async function startReliabilityStack(
  env: TestWorkflowEnvironment,
  opts: ReliabilityStackOptions = {},
): Promise<ReliabilityStack> {
  const opened = opts.opened ?? (await openPreferredDb());
  const sims = {} as Record<Renderer, RendererSimulator>;
  const proxies = {} as Record<Renderer, FaultProxy>;
  for (const backend of RENDERERS) {
    sims[backend] = await startRendererSimulator({ backend, port: 0, ...opts.simulator });
    if (opts.faults) proxies[backend] = await startFaultProxy(sims[backend].url);
  }
  const urlOf = (backend: Renderer) => (opts.faults ? proxies[backend].url : sims[backend].url);
  const workers = await createWorkerSet({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    client: env.client,
    store: opened.store,
    renderers: createRenderers(
      { manim: urlOf('manim'), revideo: urlOf('revideo'), orchestrator: urlOf('orchestrator') },
      opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {},
    ),
    limiter: new CapacityLimiter({ caps: opts.caps ?? localRenderCaps(DEFAULT_QUEUE_CONFIG) }),
    ...(opts.admissionOptions ? { admissionOptions: opts.admissionOptions } : {}),
    pollIntervalMs: 100,
    ...(opts.pollErrorToleranceMs ? { pollErrorToleranceMs: opts.pollErrorToleranceMs } : {}),
    shutdownGraceTime: '2s',
  });
  const running = workers.run();
  return {
    store: opened.store,
    db: opened.db,
    dbUrl: opened.url,
    sims,
    proxies: opts.faults ? proxies : undefined,
    workers,
    async close() {
      workers.shutdown();
      await running;
      for (const backend of RENDERERS) {
        await proxies[backend]?.close();
        await sims[backend].close();
      }
      await opened.close();
    },
  };
}
