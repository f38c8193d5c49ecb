/**
 * The old poller's rule played out in simulated time, for the runs that would take hours at its
 * real 60 s interval: every `intervalS` it claims queued jobs by priority, then age, up to the
 * free capacity (Manim rows past the Manim cap skipped), and a render frees its slot when it ends.
 */
import type { BenchJob } from './jobs';
import { poolOf } from './jobs';

const RANK = { high: 0, medium: 1, low: 2 } as const;

export interface OldModelResult {
  startOrder: string[];
  /** Simulated start time of each job, ms from t=0. */
  startedAt: Map<string, number>;
  makespanS: number;
}

/** Jobs all queued at t=0 in array order; renders last `renderS` plus `detectS` (the status poll). */
export function modelOldPoller(
  jobs: readonly BenchJob[],
  opts: { intervalS: number; renderS: number; detectS: number; caps: { total: number; manim: number } },
): OldModelResult {
  const queue = jobs
    .map((job, index) => ({ job, index }))
    .sort((a, b) => RANK[a.job.priority] - RANK[b.job.priority] || a.index - b.index);
  const running: { endsAt: number; manim: boolean }[] = [];
  const startOrder: string[] = [];
  const startedAt = new Map<string, number>();
  let t = 0;
  let makespan = 0;
  while (queue.length) {
    for (let i = running.length - 1; i >= 0; i -= 1) if (running[i]!.endsAt <= t) running.splice(i, 1);
    let free = opts.caps.total - running.length;
    let manimFree = opts.caps.manim - running.filter((r) => r.manim).length;
    for (let i = 0; i < queue.length && free > 0; ) {
      const { job } = queue[i]!;
      const manim = poolOf(job) === 'manim';
      if (manim && manimFree <= 0) {
        i += 1;
        continue;
      }
      queue.splice(i, 1);
      free -= 1;
      if (manim) manimFree -= 1;
      const endsAt = t + opts.renderS + opts.detectS;
      running.push({ endsAt, manim });
      makespan = Math.max(makespan, t + opts.renderS);
      startOrder.push(job.id);
      startedAt.set(job.id, t * 1000);
    }
    t += opts.intervalS;
  }
  return { startOrder, startedAt, makespanS: makespan };
}
