/**
 * Scheduling efficiency and priority correctness, from one saturated run per system: every job
 * (mixed priorities, 200 ms renders, 30% Manim) is queued while dispatch is held, then released.
 * Efficiency = makespan / ideal makespan for caps 10/4; ordering counted from render start order.
 */
import { drive } from '../lib/drive';
import { jobMix, poolOf } from '../lib/jobs';
import type { BenchJob } from '../lib/jobs';
import { modelOldPoller } from '../lib/old-model';
import { countOrdering } from '../lib/ordering';
import type { Column, ScenarioReport, SystemResult } from '../lib/report';
import { computeRatios, skipped } from '../lib/report';
import { idealMakespanMs, round } from '../lib/stats';
import { PEER_RENDER_POLL_MS } from '../systems/peers';
import { CAPS } from '../systems/temporal';
import { SYSTEM_IDS } from '../systems/types';
import type { SystemId } from '../systems/types';
import type { BenchContext } from './context';

const RENDER_MS = 200;

const EFFICIENCY_COLUMNS: Column[] = [
  { key: 'makespanS', label: 'makespan s', ratio: true },
  { key: 'idealS', label: 'ideal s' },
  { key: 'overIdeal', label: 'makespan/ideal', ratio: true },
];
const ORDERING_COLUMNS: Column[] = [
  { key: 'inversions', label: 'priority inversions', ratio: true },
  { key: 'fifoViolations', label: 'FIFO violations', ratio: true },
  { key: 'jobs', label: 'jobs' },
];

/** Half a render: starts closer than this are one dispatch round (see lib/ordering.ts). */
const ROUND_TOLERANCE_MS = RENDER_MS / 2;

function ordering(jobs: BenchJob[], startedAt: ReadonlyMap<string, number>) {
  return countOrdering(
    jobs.map((job, submitIndex) => ({ id: job.id, pool: poolOf(job), priority: job.priority, submitIndex })),
    startedAt,
    ROUND_TOLERANCE_MS,
  );
}

export async function saturationScenarios(ctx: BenchContext): Promise<[ScenarioReport, ScenarioReport]> {
  // The same mix for every system, with new ids each time (a job id is used once in Temporal).
  const mix = () =>
    jobMix({ count: ctx.sizes.efficiencyJobs, durationMs: RENDER_MS, mixedPriorities: true, seed: 11 });
  const jobs = mix();
  const idealMs = idealMakespanMs(
    {
      manim: jobs.filter((j) => poolOf(j) === 'manim').map((j) => j.durationMs),
      general: jobs.filter((j) => poolOf(j) === 'general').map((j) => j.durationMs),
    },
    CAPS,
  );
  const efficiency = {} as Record<SystemId, SystemResult>;
  const order = {} as Record<SystemId, SystemResult>;
  for (const id of SYSTEM_IDS) {
    const factory = ctx.factories[id];
    if (id === 'old-poller-60s') {
      const model = modelOldPoller(jobs, {
        intervalS: 60,
        renderS: RENDER_MS / 1000,
        detectS: PEER_RENDER_POLL_MS / 1000,
        caps: CAPS,
      });
      const note =
        'from its claim rule played out in simulated time (the real run would take hours); ordering follows the same query as old-poller-1s';
      efficiency[id] = {
        method: 'model',
        figures: {
          makespanS: round(model.makespanS),
          idealS: round(idealMs / 1000),
          overIdeal: round((model.makespanS * 1000) / idealMs),
        },
        note,
      };
      order[id] = {
        method: 'model',
        figures: { ...ordering(jobs, model.startedAt), jobs: jobs.length },
        note,
      };
      continue;
    }
    if (!factory) {
      efficiency[id] = order[id] = skipped(ctx.unavailable[id] ?? 'not available');
      continue;
    }
    ctx.log('saturation', { system: id, jobs: jobs.length });
    const runJobs = mix();
    const run = await drive(factory, runJobs, { mode: 'paused', timeoutMs: 60_000 + jobs.length * 2_000 });
    const lastFinish = Math.max(...runJobs.map((j) => run.finishedAt.get(j.id) ?? NaN));
    const makespanMs = lastFinish - run.t0;
    efficiency[id] = {
      method: 'measured',
      figures: {
        makespanS: round(makespanMs / 1000),
        idealS: round(idealMs / 1000),
        overIdeal: round(makespanMs / idealMs),
      },
    };
    order[id] = {
      method: 'measured',
      figures: { ...ordering(runJobs, run.firstStart), jobs: runJobs.length },
    };
  }
  const params = {
    jobs: jobs.length,
    renderMs: RENDER_MS,
    manimShare: 0.3,
    caps: CAPS,
    priorities: 'uniform high/medium/low',
    roundToleranceMs: ROUND_TOLERANCE_MS,
  };
  return [
    {
      id: 'efficiency',
      title: 'Scheduling efficiency (makespan / ideal, caps 10/4)',
      params: { ...params, idealMs },
      columns: EFFICIENCY_COLUMNS,
      results: efficiency,
      ratios: computeRatios(EFFICIENCY_COLUMNS, efficiency),
    },
    {
      id: 'priority',
      title: 'Priority inversions and FIFO violations under saturation',
      params,
      columns: ORDERING_COLUMNS,
      results: order,
      ratios: computeRatios(ORDERING_COLUMNS, order),
    },
  ];
}
