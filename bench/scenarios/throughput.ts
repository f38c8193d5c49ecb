/** Orchestration throughput: renders that finish at once, the `jobs` table kept up to date. */
import { drive } from '../lib/drive';
import { jobMix } from '../lib/jobs';
import { modelOldPoller } from '../lib/old-model';
import type { Column, ScenarioReport, SystemResult } from '../lib/report';
import { computeRatios, skipped } from '../lib/report';
import { round } from '../lib/stats';
import { PEER_RENDER_POLL_MS } from '../systems/peers';
import { CAPS } from '../systems/temporal';
import { SYSTEM_IDS } from '../systems/types';
import type { SystemId } from '../systems/types';
import type { BenchContext } from './context';

const COLUMNS: Column[] = [
  { key: 'jobsPerSecond', label: 'jobs/s', ratio: true },
  { key: 'seconds', label: 'total s' },
  { key: 'jobs', label: 'jobs' },
];

export async function throughputScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const count = ctx.sizes.throughputJobs;
  const results = {} as Record<SystemId, SystemResult>;
  for (const id of SYSTEM_IDS) {
    const jobs = jobMix({ count, durationMs: 0, seed: 23 });
    if (id === 'old-poller-60s') {
      const model = modelOldPoller(jobs, {
        intervalS: 60,
        renderS: 0,
        detectS: PEER_RENDER_POLL_MS / 1000,
        caps: CAPS,
      });
      const seconds = model.makespanS + PEER_RENDER_POLL_MS / 1000;
      results[id] = {
        method: 'model',
        figures: { jobsPerSecond: round(count / seconds, 3), seconds: round(seconds), jobs: count },
        note: 'from its rule: at most one capacity-full batch per 60 s poll',
      };
      continue;
    }
    const factory = ctx.factories[id];
    if (!factory) {
      results[id] = skipped(ctx.unavailable[id] ?? 'not available');
      continue;
    }
    ctx.log('throughput', { system: id, jobs: count });
    const run = await drive(factory, jobs, {
      mode: 'burst',
      concurrency: 10,
      timeoutMs: 60_000 + count * 1_000,
    });
    const seconds = (run.allCompletedAt - run.t0) / 1000;
    results[id] = {
      method: 'measured',
      figures: { jobsPerSecond: round(count / seconds), seconds: round(seconds), jobs: count },
    };
  }
  return {
    id: 'throughput',
    title: 'Orchestration throughput (instant renders, database sync on)',
    params: { jobs: count, renderMs: 0, submitters: 10, manimShare: 0.3 },
    columns: COLUMNS,
    results,
    ratios: computeRatios(COLUMNS, results),
  };
}
