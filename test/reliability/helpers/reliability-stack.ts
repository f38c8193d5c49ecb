/**
 * The in-process stack of the reliability tests: the shipped worker wiring (createWorkerSet) over
 * a store the test chooses (direct Postgres, PGlite, the Supabase adapter, a cut-able connection)
 * and renderer simulators, optionally behind fault proxies.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CapacityLimiter, localRenderCaps } from '../../../src/capacity/capacity-limiter';
import { DEFAULT_QUEUE_CONFIG, RENDERERS } from '../../../src/shared/constants';
import type { Renderer } from '../../../src/shared/constants';
import type { RendererSimulator } from '../../../dev/simulator/renderer-simulator';
import type { JobStore } from '../../../src/store/job-store';
import type { Queryable } from '../../../src/store/migrate';
import type { WorkerSet, WorkerSetOptions } from '../../../src/worker/create-workers';
import { openPreferredDb } from '../../../dev/db';
import { startStackSimulators, startStackWorkers } from '../../../dev/stack';
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

export async function startReliabilityStack(
  env: TestWorkflowEnvironment,
  opts: ReliabilityStackOptions = {},
): Promise<ReliabilityStack> {
  const opened = opts.opened ?? (await openPreferredDb());
  const simulators = await startStackSimulators(opts.simulator);
  const sims = simulators.simulators;
  const proxies = {} as Record<Renderer, FaultProxy>;
  if (opts.faults) {
    for (const backend of RENDERERS) proxies[backend] = await startFaultProxy(sims[backend].url);
  }
  const urls = opts.faults
    ? (Object.fromEntries(RENDERERS.map((r) => [r, proxies[r].url])) as Record<Renderer, string>)
    : simulators.urls;
  const { workers, stop } = await startStackWorkers(env, {
    store: opened.store,
    urls,
    renderer: opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {},
    limiter: new CapacityLimiter({ caps: opts.caps ?? localRenderCaps(DEFAULT_QUEUE_CONFIG) }),
    admissionOptions: opts.admissionOptions,
    pollErrorToleranceMs: opts.pollErrorToleranceMs,
  });
  return {
    store: opened.store,
    db: opened.db,
    dbUrl: opened.url,
    sims,
    proxies: opts.faults ? proxies : undefined,
    workers,
    async close() {
      await stop();
      for (const backend of RENDERERS) await proxies[backend]?.close();
      await simulators.close();
      await opened.close();
    },
  };
}
