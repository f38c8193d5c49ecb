/** Pick-up latency: submit to the renderer's POST /render, with free capacity. */
import { drive } from '../lib/drive';
import { benchJob, jobMix } from '../lib/jobs';
import type { BenchJob } from '../lib/jobs';
import { CAPS } from '../systems/temporal';
import type { Column, ScenarioReport, SystemResult } from '../lib/report';
import { computeRatios, skipped } from '../lib/report';
import { percentile, round } from '../lib/stats';
import { SYSTEM_IDS } from '../systems/types';
import type { SystemId } from '../systems/types';
import { handoverNote } from '../lib/admission-handovers';
import type { BenchContext } from './context';

const COLUMNS: Column[] = [
  { key: 'p50Ms', label: 'p50 ms', ratio: true },
  { key: 'p95Ms', label: 'p95 ms', ratio: true },
  { key: 'p99Ms', label: 'p99 ms', ratio: true },
  { key: 'jobs', label: 'jobs' },
  { key: 'apiP50Ms', label: 'API p50 ms' },
  { key: 'apiP99Ms', label: 'API p99 ms' },
];
const RENDER_MS = 200;

function figures(latencies: number[]): Record<string, number | null> {
  return {
    p50Ms: round(percentile(latencies, 50), 1),
    p95Ms: round(percentile(latencies, 95), 1),
    p99Ms: round(percentile(latencies, 99), 1),
    jobs: latencies.length,
  };
}

async function measure(
  ctx: BenchContext,
  id: SystemId,
  count: number,
  spacingMs: number,
  perCycle?: number,
  via: 'insert' | 'api' = 'insert',
): Promise<SystemResult> {
  // Every system from the same frontend-style insert; this project also through its API.
  const factory = (via === 'insert' ? ctx.insertFactories[id] : undefined) ?? ctx.factories[id];
  if (!factory) return skipped(ctx.unavailable[id] ?? 'not available');
  const jobs = jobMix({ count, durationMs: RENDER_MS, seed: 7 });
  if (perCycle) keepManimUnderCap(jobs, perCycle);
  const run = await drive(factory, jobs, {
    mode: 'spaced',
    spacingMs,
    timeoutMs: 120_000 + count * spacingMs,
  });
  const latencies = jobs.map((job) => (run.firstStart.get(job.id) ?? NaN) - run.submitAt.get(job.id)!);
  return {
    method: 'measured',
    figures: figures(latencies.filter(Number.isFinite)),
    ...(run.handovers ? { note: handoverNote(run.handovers) } : {}),
  };
}

/**
 * A poll cycle of the 60 s poller with more than 4 Manim jobs would leave one waiting for the
 * next poll: capacity would not be free. Extra Manim jobs in a cycle become Revideo jobs.
 */
function keepManimUnderCap(jobs: BenchJob[], perCycle: number): void {
  for (let start = 0; start < jobs.length; start += perCycle) {
    let manim = 0;
    for (const [i, job] of jobs.slice(start, start + perCycle).entries()) {
      if (job.renderer !== 'manim') continue;
      manim += 1;
      if (manim > CAPS.manim)
        jobs[start + i] = { ...benchJob('revideo', job.priority, job.durationMs), id: job.id };
    }
  }
}

/**
 * The old poller at its real 60 s interval runs on its own clock (minutes), so it starts first
 * and runs alongside the other systems; it is idle between polls and barely touches the CPU.
 */
export function startOldPoller60Latency(ctx: BenchContext): Promise<SystemResult> {
  const { oldLatencyPerCycle, oldLatencyCycles } = ctx.sizes;
  if (oldLatencyCycles === 0) {
    // A job arriving uniformly in a 60 s cycle waits for the next poll: uniform on [0, 60 s).
    return Promise.resolve({
      method: 'model',
      figures: { p50Ms: 30_000, p95Ms: 57_000, p99Ms: 59_400, jobs: null },
      note: 'smoke size: from the rule (next poll of a 60 s cycle, arrivals uniform), not run',
    });
  }
  const count = oldLatencyPerCycle * oldLatencyCycles;
  const spacingMs = Math.floor((60_000 * oldLatencyCycles) / count);
  return measure(ctx, 'old-poller-60s', count, spacingMs, oldLatencyPerCycle).then((result) => ({
    ...result,
    note: `${count} jobs spread evenly over ${oldLatencyCycles} poll cycles (${oldLatencyPerCycle} per cycle, at most 4 of them Manim, keeps capacity free)`,
  }));
}

/** Every system but the 60 s poller, one after the other (that one runs alongside: see above). */
export async function measureLatency(ctx: BenchContext): Promise<Partial<Record<SystemId, SystemResult>>> {
  const results: Partial<Record<SystemId, SystemResult>> = {};
  for (const id of SYSTEM_IDS) {
    if (id === 'old-poller-60s') continue;
    ctx.log('latency', { system: id });
    const result = await measure(ctx, id, ctx.sizes.latencyJobs, ctx.sizes.latencySpacingMs);
    if (ctx.insertFactories[id] && result.method === 'measured') {
      ctx.log('latency', { system: id, via: 'api' });
      const api = await measure(ctx, id, ctx.sizes.latencyJobs, ctx.sizes.latencySpacingMs, undefined, 'api');
      result.figures.apiP50Ms = api.figures.p50Ms ?? null;
      result.figures.apiP99Ms = api.figures.p99Ms ?? null;
      result.note = [
        'p50/p95/p99: a row inserted into jobs, intake woken by LISTEN/NOTIFY; API: submitJob',
        ...(result.note ? [`inserted: ${result.note}`] : []),
        ...(api.note ? [`API: ${api.note}`] : []),
      ].join('; ');
    }
    results[id] = result;
  }
  return results;
}

export function latencyReport(
  ctx: BenchContext,
  measured: Partial<Record<SystemId, SystemResult>>,
  oldPoller60: SystemResult,
): ScenarioReport {
  const results = { ...measured, 'old-poller-60s': oldPoller60 } as Record<SystemId, SystemResult>;
  return {
    id: 'latency',
    title: 'Pick-up latency (a row inserted into jobs to POST /render, free capacity)',
    params: {
      jobs: ctx.sizes.latencyJobs,
      spacingMs: ctx.sizes.latencySpacingMs,
      renderMs: RENDER_MS,
      manimShare: 0.3,
    },
    columns: COLUMNS,
    results,
    ratios: computeRatios(COLUMNS, results),
  };
}
