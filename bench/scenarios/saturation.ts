/**
 * Scheduling under saturation, one order across renderers, and the hand-off gap. Per system:
 * renders that fill every slot (4 Manim, 6 general) are held at the renderers; the measured jobs
 * (mixed priorities, 200 ms renders, 30% Manim) are submitted behind them, once by one submitter
 * and once by 10 concurrent submitters; when the system's queue holds them all, the held renders
 * end together (t0). From then on every freed slot has a job waiting for it.
 *
 * Efficiency = makespan / ideal makespan for caps 10/4; ordering and the hand-off gap are counted
 * from what the renderers saw (lib/ordering.ts, lib/handoff.ts).
 */
import { drive } from '../lib/drive';
import type { DriveResult } from '../lib/drive';
import { handoffGaps } from '../lib/handoff';
import type { HandoffRender } from '../lib/handoff';
import { benchJob, jobMix, poolOf } from '../lib/jobs';
import type { BenchJob } from '../lib/jobs';
import { modelOldPoller } from '../lib/old-model';
import { countOrdering } from '../lib/ordering';
import { handoverNote } from '../lib/admission-handovers';
import type { OrderedJob, OrderingExample, RenderSpan } from '../lib/ordering';
import type { Column, ScenarioReport, SystemResult } from '../lib/report';
import { computeRatios, skipped } from '../lib/report';
import { idealMakespanMs, percentile, round } from '../lib/stats';
import { PEER_RENDER_POLL_MS } from '../systems/peers';
import { CAPS } from '../systems/temporal';
import { SYSTEM_IDS } from '../systems/types';
import type { SystemId } from '../systems/types';
import type { BenchContext } from './context';

const RENDER_MS = 200;
const CONCURRENT_SUBMITTERS = 10;

const EFFICIENCY_COLUMNS: Column[] = [
  { key: 'makespanS', label: 'makespan s', ratio: true },
  { key: 'idealS', label: 'ideal s' },
  { key: 'overIdeal', label: 'makespan/ideal', ratio: true },
  { key: 'handoffP50Ms', label: 'hand-off p50 ms', ratio: true },
  { key: 'handoffP99Ms', label: 'hand-off p99 ms', ratio: true },
  { key: 'noticedP50Ms', label: 'after noticing p50 ms' },
  { key: 'noticedP99Ms', label: 'after noticing p99 ms' },
];
const ORDERING_COLUMNS: Column[] = [
  { key: 'inversions', label: 'inversions (1 submitter)', ratio: true },
  { key: 'fifoViolations', label: 'FIFO violations (1 submitter)', ratio: true },
  { key: 'inversionsConcurrent', label: `inversions (${CONCURRENT_SUBMITTERS} submitters)`, ratio: true },
  {
    key: 'fifoViolationsConcurrent',
    label: `FIFO violations (${CONCURRENT_SUBMITTERS} submitters)`,
    ratio: true,
  },
  // Where deciding and starting are apart (this project): the same count with each job's start
  // taken at admission's grant, the order admission itself chose (see decidedOrdering).
  { key: 'inversionsAtGrant', label: 'inversions at the grant (1 submitter)' },
  { key: 'fifoViolationsAtGrant', label: 'FIFO violations at the grant (1 submitter)' },
  { key: 'jobs', label: 'jobs' },
];

/** Half a render: starts closer than this are one dispatch round (see lib/ordering.ts). */
const ROUND_TOLERANCE_MS = RENDER_MS / 2;

/** Held renders that take every slot: Manim up to its cap, general jobs for the rest. */
export function fillersFor(caps: { total: number; manim: number }, durationMs: number): BenchJob[] {
  return Array.from({ length: caps.total }, (_, i) =>
    benchJob(i < caps.manim ? 'manim' : i % 2 ? 'revideo' : 'orchestrator', 'high', durationMs),
  );
}

/**
 * A slot counts as busy until the system had taken in its render's end (see RenderSpan): when it
 * marked the job's row completed (every system does, at about the time it frees the slot), else
 * the poll that saw the end.
 */
function heldUntilKnown(renders: (RenderSpan & HandoffRender & { recordedAt?: number })[]): RenderSpan[] {
  return renders.map((r) => ({ ...r, finishedAt: r.recordedAt ?? r.noticedAt ?? r.finishedAt }));
}

/**
 * The renders as the system decided them: each starts when it was let start (its grant), not when
 * it reached its renderer, so what is left is the order the scheduler chose; a slot is still busy
 * until the system took in the render's end.
 */
function decidedOrdering(
  renders: (RenderSpan & HandoffRender & { recordedAt?: number })[],
  decidedAt: ReadonlyMap<string, number>,
): RenderSpan[] {
  return heldUntilKnown(renders).map((r) => ({ ...r, startedAt: decidedAt.get(r.id) ?? r.startedAt }));
}

/**
 * Where this project's start order and hand-off go between admission's grant and the renderer:
 * FIFO violations and inversions counted with each job's start taken at each stage in turn, and
 * the after-noticing hand-off split into its stages (p50 / p99 ms of each, per paired start).
 */
function stageBreakdown(
  run: DriveResult,
  ordered: OrderedJob[],
  measured: ReadonlySet<string>,
): string | undefined {
  const stages = run.stages;
  if (!stages) return undefined;
  const at = (name: string, times: ReadonlyMap<string, number>) => {
    const counts = countOrdering(
      ordered,
      decidedOrdering(run.renders, times),
      CAPS.manim,
      ROUND_TOLERANCE_MS,
    );
    return `${name} ${counts.fifoViolations} / ${counts.inversions}`;
  };
  const renderStart = new Map(run.renders.map((r) => [r.id, r.startedAt]));
  const ordering = [
    at('grant', stages.granted),
    at('render activity scheduled', stages.scheduled),
    at('picked up by a worker', stages.pickedUp),
    at('renderer', renderStart),
  ].join(', ');
  const steps: Array<[string, number[]]> = [
    ['notice to grant', []],
    ['grant to scheduled', []],
    ['scheduled to picked up', []],
    ['picked up to renderer', []],
  ];
  for (const pair of handoffGaps(run.renders, measured).noticedPairs) {
    const id = pair.startedId;
    const times = [
      pair.noticedAt,
      stages.granted.get(id),
      stages.scheduled.get(id),
      stages.pickedUp.get(id),
      pair.startedAt,
    ];
    if (times.some((t) => t === undefined)) continue;
    steps.forEach(([, gaps], i) => gaps.push(times[i + 1]! - times[i]!));
  }
  const split = steps
    .map(([name, gaps]) => `${name} ${round(percentile(gaps, 50), 0)} / ${round(percentile(gaps, 99), 0)}`)
    .join(', ');
  return `by stage: FIFO violations / inversions with the start taken at the ${ordering}; the hand-off after noticing split, p50 / p99 ms: ${split}`;
}

function orderedJobs(jobs: BenchJob[], run: Pick<DriveResult, 'submitAt' | 'acceptedAt'>): OrderedJob[] {
  return jobs.map((job) => ({
    id: job.id,
    pool: poolOf(job),
    priority: job.priority,
    submittedAt: run.submitAt.get(job.id)!,
    acceptedAt: run.acceptedAt.get(job.id)!,
  }));
}

function efficiencyFigures(
  run: { t0: number; renders: (RenderSpan & HandoffRender)[] },
  jobs: BenchJob[],
  idealMs: number,
) {
  const measured = new Set(jobs.map((j) => j.id));
  const lastFinish = Math.max(...run.renders.filter((r) => measured.has(r.id)).map((r) => r.finishedAt));
  const makespanMs = lastFinish - run.t0;
  const gaps = handoffGaps(run.renders, measured);
  return {
    makespanS: round(makespanMs / 1000),
    idealS: round(idealMs / 1000),
    overIdeal: round(makespanMs / idealMs),
    handoffP50Ms: round(percentile(gaps.fromEnd, 50), 0),
    handoffP99Ms: round(percentile(gaps.fromEnd, 99), 0),
    noticedP50Ms: round(percentile(gaps.fromNotice, 50), 0),
    noticedP99Ms: round(percentile(gaps.fromNotice, 99), 0),
  };
}

/** The old poller at its real 60 s interval, from its claim rule in simulated time. */
function oldPoller60(jobs: BenchJob[], idealMs: number): { efficiency: SystemResult; order: SystemResult } {
  const fillers = fillersFor(CAPS, RENDER_MS);
  const model = modelOldPoller(jobs, {
    intervalS: 60,
    renderS: RENDER_MS / 1000,
    detectS: PEER_RENDER_POLL_MS / 1000,
    caps: CAPS,
  });
  // Everything was queued before t=0 in submit order; the fillers ended at t=0.
  const renders: (RenderSpan & HandoffRender)[] = [
    ...fillers.map((f) => ({
      id: f.id,
      pool: poolOf(f),
      startedAt: -RENDER_MS,
      finishedAt: 0,
      noticedAt: 0,
    })),
    ...jobs.map((job) => {
      const startedAt = model.startedAt.get(job.id)!;
      return {
        id: job.id,
        pool: poolOf(job),
        startedAt,
        finishedAt: startedAt + RENDER_MS,
        noticedAt: startedAt + RENDER_MS + PEER_RENDER_POLL_MS,
      };
    }),
  ];
  const at = new Map(jobs.map((job, i) => [job.id, i - jobs.length]));
  const ordered = orderedJobs(jobs, { submitAt: at, acceptedAt: at });
  const counts = countOrdering(ordered, heldUntilKnown(renders), CAPS.manim, ROUND_TOLERANCE_MS);
  const note =
    'from its claim rule played out in simulated time (the real run would take hours); both submit orders queue the same rows';
  return {
    efficiency: { method: 'model', figures: efficiencyFigures({ t0: 0, renders }, jobs, idealMs), note },
    order: {
      method: 'model',
      figures: {
        ...counts,
        inversionsConcurrent: counts.inversions,
        fifoViolationsConcurrent: counts.fifoViolations,
        jobs: jobs.length,
      },
      note,
    },
  };
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
      ({ efficiency: efficiency[id], order: order[id] } = oldPoller60(jobs, idealMs));
      continue;
    }
    if (!factory) {
      efficiency[id] = order[id] = skipped(ctx.unavailable[id] ?? 'not available');
      continue;
    }
    const runWith = async (submitters: number) => {
      ctx.log('saturation', { system: id, jobs: jobs.length, submitters });
      const runJobs = mix();
      const run = await drive(factory, runJobs, {
        mode: 'held',
        fillers: fillersFor(CAPS, RENDER_MS),
        submitters,
        timeoutMs: 60_000 + jobs.length * 2_000,
      });
      const examples: OrderingExample[] = [];
      const ordered = orderedJobs(runJobs, run);
      const counts = countOrdering(
        ordered,
        heldUntilKnown(run.renders),
        CAPS.manim,
        ROUND_TOLERANCE_MS,
        examples,
      );
      if (examples.length) ctx.log('ordering broken', { system: id, submitters, t0: run.t0, examples });
      const atGrant = run.decidedAt
        ? countOrdering(ordered, decidedOrdering(run.renders, run.decidedAt), CAPS.manim, ROUND_TOLERANCE_MS)
        : undefined;
      const stages = stageBreakdown(run, ordered, new Set(runJobs.map((j) => j.id)));
      if (stages) ctx.log('saturation stages', { system: id, submitters, stages });
      return { runJobs, run, counts, atGrant, stages };
    };
    const sequential = await runWith(1);
    const concurrent = await runWith(CONCURRENT_SUBMITTERS);
    const notes = [
      ...(sequential.stages ? [sequential.stages] : []),
      ...(sequential.run.handovers ? [handoverNote(sequential.run.handovers)] : []),
    ];
    efficiency[id] = {
      method: 'measured',
      figures: efficiencyFigures(sequential.run, sequential.runJobs, idealMs),
      ...(notes.length ? { note: notes.join('; ') } : {}),
    };
    order[id] = {
      method: 'measured',
      figures: {
        ...sequential.counts,
        inversionsConcurrent: concurrent.counts.inversions,
        fifoViolationsConcurrent: concurrent.counts.fifoViolations,
        inversionsAtGrant: sequential.atGrant?.inversions ?? null,
        fifoViolationsAtGrant: sequential.atGrant?.fifoViolations ?? null,
        jobs: jobs.length,
      },
      ...(concurrent.atGrant
        ? {
            note: `at the grant with ${CONCURRENT_SUBMITTERS} submitters: ${concurrent.atGrant.inversions} inversions, ${concurrent.atGrant.fifoViolations} FIFO violations (grant: the permitGranted signal's event time in each job's history)`,
          }
        : {}),
    };
  }
  const params = {
    jobs: jobs.length,
    renderMs: RENDER_MS,
    manimShare: 0.3,
    caps: CAPS,
    priorities: 'uniform high/medium/low',
    fillers: 'every slot held by a render until all jobs are queued',
    roundToleranceMs: ROUND_TOLERANCE_MS,
  };
  return [
    {
      id: 'efficiency',
      title: 'Scheduling efficiency and hand-off gap (caps 10/4, every slot busy; 1 submitter)',
      params: { ...params, idealMs },
      columns: EFFICIENCY_COLUMNS,
      results: efficiency,
      ratios: computeRatios(EFFICIENCY_COLUMNS, efficiency),
    },
    {
      id: 'priority',
      title: 'Priority inversions and FIFO violations across renderers, under saturation',
      params: { ...params, concurrentSubmitters: CONCURRENT_SUBMITTERS },
      columns: ORDERING_COLUMNS,
      results: order,
      ratios: computeRatios(ORDERING_COLUMNS, order),
    },
  ];
}

const REALISTIC_RENDER_MS = 5000;
/** Estimates are read once the first renders have ended and the system has seen it. */
const ESTIMATES_AFTER_MS = 7000;

const REALISTIC_COLUMNS: Column[] = [
  { key: 'makespanS', label: 'makespan s', ratio: true },
  { key: 'idealS', label: 'ideal s' },
  { key: 'overIdeal', label: 'makespan/ideal', ratio: true },
  { key: 'handoffP50Ms', label: 'hand-off p50 ms', ratio: true },
  { key: 'handoffP99Ms', label: 'hand-off p99 ms', ratio: true },
  { key: 'estimateErrorP50S', label: 'estimate error p50 s', ratio: true },
  { key: 'estimateErrorP90S', label: 'estimate error p90 s', ratio: true },
  { key: 'estimated', label: 'jobs with an estimate' },
];

/**
 * The same saturated run at realistic render lengths (5 s, progress every second), one
 * submitter: makespan and hand-off where rendering, not orchestration, dominates; and how far
 * the `estimated_start_at` a screen shows 7 s into the drain is from the real start.
 */
export async function realisticScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const mix = () =>
    jobMix({
      count: ctx.sizes.realisticJobs,
      durationMs: REALISTIC_RENDER_MS,
      mixedPriorities: true,
      seed: 13,
    });
  const jobs = mix();
  const idealMs = idealMakespanMs(
    {
      manim: jobs.filter((j) => poolOf(j) === 'manim').map((j) => j.durationMs),
      general: jobs.filter((j) => poolOf(j) === 'general').map((j) => j.durationMs),
    },
    CAPS,
  );
  const results = {} as Record<SystemId, SystemResult>;
  for (const id of SYSTEM_IDS) {
    const factory = ctx.factories[id];
    if (id === 'old-poller-60s') {
      results[id] = {
        method: 'model',
        figures: {
          makespanS: round(
            modelOldPoller(jobs, {
              intervalS: 60,
              renderS: REALISTIC_RENDER_MS / 1000,
              detectS: PEER_RENDER_POLL_MS / 1000,
              caps: CAPS,
            }).makespanS,
          ),
          idealS: round(idealMs / 1000),
        },
        note: 'makespan from its claim rule in simulated time; its estimates are those of old-poller-1s',
      };
      continue;
    }
    if (!factory) {
      results[id] = skipped(ctx.unavailable[id] ?? 'not available');
      continue;
    }
    ctx.log('realistic', { system: id, jobs: jobs.length });
    const runJobs = mix();
    const run = await drive(factory, runJobs, {
      mode: 'held',
      fillers: fillersFor(CAPS, REALISTIC_RENDER_MS),
      submitters: 1,
      estimatesAfterMs: ESTIMATES_AFTER_MS,
      timeoutMs: 120_000 + runJobs.length * 5_000,
    });
    const errors = [...run.estimates].flatMap(([jobId, estimate]) => {
      const started = run.firstStart.get(jobId);
      return started === undefined ? [] : [Math.abs(started - estimate) / 1000];
    });
    results[id] = {
      method: 'measured',
      figures: {
        ...efficiencyFigures(run, runJobs, idealMs),
        estimateErrorP50S: round(percentile(errors, 50), 1),
        estimateErrorP90S: round(percentile(errors, 90), 1),
        estimated: errors.length,
      },
      ...(errors.length === 0 ? { note: 'writes no estimated start' } : {}),
    };
  }
  return {
    id: 'realistic',
    title: 'Saturated at realistic render lengths (5 s renders, caps 10/4): makespan and start estimates',
    params: {
      jobs: jobs.length,
      renderMs: REALISTIC_RENDER_MS,
      manimShare: 0.3,
      caps: CAPS,
      idealMs,
      estimatesReadAfterMs: ESTIMATES_AFTER_MS,
    },
    columns: REALISTIC_COLUMNS,
    results,
    ratios: computeRatios(REALISTIC_COLUMNS, results),
  };
}
