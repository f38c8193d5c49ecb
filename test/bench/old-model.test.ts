/**
 * The old poller's claim rule in simulated time (bench/lib/old-model.ts) on hand-worked cases.
 * The rule, as the model states it: a poll at t = 0, intervalS, 2 * intervalS, ...; at each poll,
 * first every render with endsAt <= t frees its slot (endsAt = start + renderS + detectS), then
 * queued jobs are claimed by priority (high, medium, low), then age (array order), up to the free
 * slots, a Manim job past the Manim cap being skipped (not blocking the jobs behind it).
 * startedAt is in ms; makespanS is the latest start + renderS (the render's end, not its detection).
 */
import type { BenchJob } from '../../bench/lib/jobs';
import { modelOldPoller } from '../../bench/lib/old-model';
import type { Priority, Renderer } from '../../src/shared/constants';

/** A bench job with a readable id (benchJob() would give it a random UUID). */
function job(id: string, renderer: Renderer, priority: Priority = 'medium'): BenchJob {
  return {
    id,
    jobType: renderer === 'manim' ? 'doubt' : 'concept_explainer',
    renderer,
    priority,
    durationMs: 1000,
    payload: { simulate: { durationMs: 1000, steps: 5 } },
  };
}

/** The start times by id, in ms, as a plain object. */
const starts = (startedAt: Map<string, number>): Record<string, number> => Object.fromEntries(startedAt);

describe('modelOldPoller', () => {
  test('no jobs: nothing starts, makespan 0', () => {
    const result = modelOldPoller([], {
      intervalS: 60,
      renderS: 5,
      detectS: 0.1,
      caps: { total: 10, manim: 4 },
    });
    expect(result.startOrder).toEqual([]);
    expect(result.startedAt.size).toBe(0);
    expect(result.makespanS).toBe(0);
  });

  test('one job: claimed at the first poll (t = 0), makespan = its render', () => {
    const result = modelOldPoller([job('a', 'revideo')], {
      intervalS: 60,
      renderS: 5,
      detectS: 0.1,
      caps: { total: 10, manim: 4 },
    });
    expect(result.startOrder).toEqual(['a']);
    expect(starts(result.startedAt)).toEqual({ a: 0 });
    // 0 + renderS = 5 (the 0.1 s detect delay is not part of the makespan)
    expect(result.makespanS).toBe(5);
  });

  test('priority first, then age (array order) among equal priorities', () => {
    // Sorted: c (high, #2), e (high, #4), b (medium, #1), d (medium, #3), a (low, #0).
    // Caps 10 / 4 hold all five: every one starts at t = 0, in that order.
    const jobs = [
      job('a', 'revideo', 'low'),
      job('b', 'orchestrator', 'medium'),
      job('c', 'revideo', 'high'),
      job('d', 'revideo', 'medium'),
      job('e', 'orchestrator', 'high'),
    ];
    const result = modelOldPoller(jobs, {
      intervalS: 60,
      renderS: 2,
      detectS: 0,
      caps: { total: 10, manim: 4 },
    });
    expect(result.startOrder).toEqual(['c', 'e', 'b', 'd', 'a']);
    expect(starts(result.startedAt)).toEqual({ a: 0, b: 0, c: 0, d: 0, e: 0 });
    expect(result.makespanS).toBe(2);
  });

  test('waves: a slot is free only at the first poll after render + detect', () => {
    // Caps 2 / 1, interval 10 s, render 15 s, detect 1 s: a render started at t holds its slot
    // until t + 16.
    // t=0:  g1, g2 start (end 16).        t=10: 16 > 10, both busy, nothing starts.
    // t=20: 16 <= 20, both free: g3, g4 start (end 36).   t=30: busy.
    // t=40: g5 starts. Makespan = 40 + 15 = 55.
    const jobs = ['g1', 'g2', 'g3', 'g4', 'g5'].map((id) => job(id, 'revideo'));
    const result = modelOldPoller(jobs, {
      intervalS: 10,
      renderS: 15,
      detectS: 1,
      caps: { total: 2, manim: 1 },
    });
    expect(result.startOrder).toEqual(['g1', 'g2', 'g3', 'g4', 'g5']);
    expect(starts(result.startedAt)).toEqual({ g1: 0, g2: 0, g3: 20_000, g4: 20_000, g5: 40_000 });
    expect(result.makespanS).toBe(55);
  });

  test('a render whose detected end falls exactly on a poll frees its slot at that poll', () => {
    // Cap 1, interval 10: render 8 + detect 2 = 10 <= 10, so b starts at t = 10; makespan 10 + 8 = 18.
    const jobs = [job('a', 'revideo'), job('b', 'revideo')];
    const onTheTick = modelOldPoller(jobs, {
      intervalS: 10,
      renderS: 8,
      detectS: 2,
      caps: { total: 1, manim: 1 },
    });
    expect(starts(onTheTick.startedAt)).toEqual({ a: 0, b: 10_000 });
    expect(onTheTick.makespanS).toBe(18);
    // Detect 2.5: 10.5 > 10, so the slot is still held at t = 10 and b waits for t = 20; makespan 28.
    const justAfter = modelOldPoller(jobs, {
      intervalS: 10,
      renderS: 8,
      detectS: 2.5,
      caps: { total: 1, manim: 1 },
    });
    expect(starts(justAfter.startedAt)).toEqual({ a: 0, b: 20_000 });
    expect(justAfter.makespanS).toBe(28);
  });

  test('a Manim job past the Manim cap is skipped, and lower jobs behind it are claimed', () => {
    // Caps 3 / 1, interval 60, render 30, detect 0: every render ends before the next poll.
    // Sorted: m1 (high), m2 (high), g1 (medium), m3 (medium), g2 (low), g3 (low).
    // t=0:   m1 (Manim free 1 -> 0, free 3 -> 2); m2 skipped (Manim full); g1 (free 1);
    //        m3 skipped; g2 (free 0) -> stop. Left: m2, m3, g3.
    // t=60:  all ended (30 <= 60). m2 (Manim 1 -> 0, free 2); m3 skipped; g3 (free 1). Left: m3.
    // t=120: m3. Makespan = 120 + 30 = 150.
    const jobs = [
      job('m1', 'manim', 'high'),
      job('m2', 'manim', 'high'),
      job('g1', 'revideo', 'medium'),
      job('m3', 'manim', 'medium'),
      job('g2', 'orchestrator', 'low'),
      job('g3', 'revideo', 'low'),
    ];
    const result = modelOldPoller(jobs, {
      intervalS: 60,
      renderS: 30,
      detectS: 0,
      caps: { total: 3, manim: 1 },
    });
    // The low g2 starts before the high m2: the cap, not the order, holds m2 back.
    expect(result.startOrder).toEqual(['m1', 'g1', 'g2', 'm2', 'g3', 'm3']);
    expect(starts(result.startedAt)).toEqual({
      m1: 0,
      g1: 0,
      g2: 0,
      m2: 60_000,
      g3: 60_000,
      m3: 120_000,
    });
    expect(result.makespanS).toBe(150);
  });

  test('the Manim cap counts running Manim renders across polls, whatever the free total', () => {
    // Caps 4 / 2, interval 10, render 25, detect 0 (a render holds its slot until start + 25).
    // t=0:  m1, m2 (Manim full), m3 skipped, g1 -> 3 of 4 slots used, m3 left.
    // t=10, t=20: m1, m2 still running (25 > 20): one slot free but no Manim slot, m3 waits.
    // t=30: all ended: m3 starts. Makespan = 30 + 25 = 55.
    const jobs = [job('m1', 'manim'), job('m2', 'manim'), job('m3', 'manim'), job('g1', 'orchestrator')];
    const result = modelOldPoller(jobs, {
      intervalS: 10,
      renderS: 25,
      detectS: 0,
      caps: { total: 4, manim: 2 },
    });
    expect(result.startOrder).toEqual(['m1', 'm2', 'g1', 'm3']);
    expect(starts(result.startedAt)).toEqual({ m1: 0, m2: 0, g1: 0, m3: 30_000 });
    expect(result.makespanS).toBe(55);
  });

  test('instant renders (the throughput case): one capacity-full batch per poll', () => {
    // Caps 2 / 1, interval 60, render 0, detect 0.1: a slot frees 0.1 s after its start, long
    // before the next poll. t=0: j1, j2; t=60: j3, j4; t=120: j5. Makespan = 120 + 0 = 120.
    const jobs = ['j1', 'j2', 'j3', 'j4', 'j5'].map((id) => job(id, 'revideo'));
    const result = modelOldPoller(jobs, {
      intervalS: 60,
      renderS: 0,
      detectS: 0.1,
      caps: { total: 2, manim: 1 },
    });
    expect(starts(result.startedAt)).toEqual({ j1: 0, j2: 0, j3: 60_000, j4: 60_000, j5: 120_000 });
    expect(result.makespanS).toBe(120);
  });

  test('a Manim cap above the total: the total limits', () => {
    // Caps 2 / 5, interval 60, render 1: t=0 m1, m2 (free 0); t=60 m3. Makespan 61.
    const jobs = [job('m1', 'manim'), job('m2', 'manim'), job('m3', 'manim')];
    const result = modelOldPoller(jobs, {
      intervalS: 60,
      renderS: 1,
      detectS: 0,
      caps: { total: 2, manim: 5 },
    });
    expect(starts(result.startedAt)).toEqual({ m1: 0, m2: 0, m3: 60_000 });
    expect(result.makespanS).toBe(61);
  });

  test('leaves its input as it was', () => {
    const jobs = [job('a', 'revideo', 'low'), job('b', 'revideo', 'high')];
    modelOldPoller(jobs, { intervalS: 60, renderS: 1, detectS: 0, caps: { total: 1, manim: 1 } });
    expect(jobs.map((j) => j.id)).toEqual(['a', 'b']);
  });
});
