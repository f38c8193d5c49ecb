/** Percentiles and the ideal makespan: the arithmetic behind the tables. */

/** Nearest-rank percentile (p in 0..100) of unsorted values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  // (p * n) / 100, not (p / 100) * n: 0.07 * 100 is 7.000000000000001 in binary, which ceil makes 8.
  const rank = Math.max(1, Math.ceil((p * sorted.length) / 100));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface PoolWork {
  /** Render durations of the jobs that may only run in the Manim pool (ms). */
  manim: readonly number[];
  /** Render durations of every other job (ms). */
  general: readonly number[];
}

/**
 * The shortest possible makespan for these jobs with `total` slots of which at most `manimCap`
 * run Manim, everything available at t=0, no overhead. For equal durations d (the benchmark's
 * case) it is exact: Manim jobs need ceil(m / manimCap) waves, and all jobs need
 * ceil(n / total) waves, so the answer is d * max(both); with unequal durations it is the larger
 * of the two work bounds (a lower bound, which is what an "ideal" should be).
 */
export function idealMakespanMs(work: PoolWork, caps: { total: number; manim: number }): number {
  const all = [...work.manim, ...work.general];
  if (all.length === 0) return 0;
  const equal = all.every((d) => d === all[0]);
  if (equal) {
    const d = all[0]!;
    // No Manim jobs: no Manim waves, whatever the Manim cap (0 / 0 would make it NaN).
    const manimWaves =
      work.manim.length === 0 ? 0 : Math.ceil(work.manim.length / Math.min(caps.manim, caps.total));
    const totalWaves = Math.ceil(all.length / caps.total);
    return d * Math.max(manimWaves, totalWaves);
  }
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  return Math.max(
    work.manim.length === 0 ? 0 : sum(work.manim) / Math.min(caps.manim, caps.total),
    sum(all) / caps.total,
    Math.max(...all),
  );
}

export function round(value: number | null | undefined, digits = 2): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
