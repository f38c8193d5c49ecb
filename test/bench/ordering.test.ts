/**
 * The benchmark's ordering and hand-off arithmetic on hand-worked cases: caps 10 total / 4 Manim
 * as in the scenarios, a round tolerance of 100 ms.
 */
import { handoffGaps } from '../../bench/lib/handoff';
import type { HandoffRender } from '../../bench/lib/handoff';
import { countOrdering } from '../../bench/lib/ordering';
import type { OrderedJob, OrderingExample, RenderSpan } from '../../bench/lib/ordering';

const MANIM_CAP = 4;
const TOLERANCE = 100;

/** Accepted at `accepted` (its submit took 1 ms). */
function job(
  id: string,
  pool: OrderedJob['pool'],
  priority: OrderedJob['priority'],
  accepted: number,
): OrderedJob {
  return { id, pool, priority, submittedAt: accepted - 1, acceptedAt: accepted };
}

function span(
  id: string,
  pool: RenderSpan['pool'],
  startedAt: number,
  finishedAt = startedAt + 200,
): RenderSpan {
  return { id, pool, startedAt, finishedAt };
}

/** Four Manim renders in flight from -1000 until `until`: the Manim cap is full meanwhile. */
function manimFull(until: number): RenderSpan[] {
  return [0, 1, 2, 3].map((i) => span(`m-busy-${i}`, 'manim', -1000, until));
}

describe('countOrdering', () => {
  test('a low Manim job starting while a high general job waits is an inversion across renderers', () => {
    const jobs = [job('high-general', 'general', 'high', -50), job('low-manim', 'manim', 'low', -40)];
    const renders = [span('low-manim', 'manim', 0), span('high-general', 'general', 500)];
    const examples: OrderingExample[] = [];
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE, examples)).toEqual({
      inversions: 1,
      fifoViolations: 0,
    });
    expect(examples).toEqual([
      expect.objectContaining({
        kind: 'inversion',
        started: expect.objectContaining({ id: 'low-manim', at: 0 }),
        waiting: expect.objectContaining({ id: 'high-general', at: 500 }),
      }),
    ]);
  });

  test('a general job may pass a higher Manim job while the Manim cap is full', () => {
    const jobs = [job('high-manim', 'manim', 'high', -50), job('low-general', 'general', 'low', -40)];
    // At 0 four other Manim renders hold the cap (until 400); the high Manim job starts at 450.
    const renders = [...manimFull(400), span('low-general', 'general', 0), span('high-manim', 'manim', 450)];
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE)).toEqual({ inversions: 0, fifoViolations: 0 });
  });

  test('...but not once a Manim slot is free', () => {
    const jobs = [job('high-manim', 'manim', 'high', -50), job('low-general', 'general', 'low', -40)];
    // Three Manim renders in flight at 0: one Manim slot was free for the high job.
    const renders = [
      ...manimFull(400).slice(1),
      span('low-general', 'general', 0),
      span('high-manim', 'manim', 450),
    ];
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE)).toEqual({ inversions: 1, fifoViolations: 0 });
  });

  test('a Manim render starting in the same round counts against the Manim cap', () => {
    const jobs = [
      job('high-manim', 'manim', 'high', -50),
      job('medium-manim', 'manim', 'medium', -45),
      job('low-general', 'general', 'low', -40),
    ];
    // Three busy + medium-manim starting 30 ms after the general start = 4: the cap is full.
    const renders = [
      ...manimFull(400).slice(1),
      span('low-general', 'general', 0),
      span('medium-manim', 'manim', 30),
      span('high-manim', 'manim', 450),
    ];
    // medium-manim went ahead of high-manim with a Manim slot free (its own): one inversion, its.
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE)).toEqual({ inversions: 1, fifoViolations: 0 });
  });

  test('same priority: a later job starting first is a FIFO violation; within a round it is not', () => {
    const jobs = [job('first', 'general', 'medium', -50), job('second', 'general', 'medium', -40)];
    expect(
      countOrdering(
        jobs,
        [span('second', 'general', 0), span('first', 'general', 250)],
        MANIM_CAP,
        TOLERANCE,
      ),
    ).toEqual({ inversions: 0, fifoViolations: 1 });
    expect(
      countOrdering(jobs, [span('second', 'general', 0), span('first', 'general', 90)], MANIM_CAP, TOLERANCE),
    ).toEqual({ inversions: 0, fifoViolations: 0 });
  });

  test('FIFO across renderers: an earlier general job passed by a later Manim job of its priority', () => {
    const jobs = [job('general-first', 'general', 'low', -50), job('manim-second', 'manim', 'low', -40)];
    const renders = [span('manim-second', 'manim', 0), span('general-first', 'general', 300)];
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE)).toEqual({ inversions: 0, fifoViolations: 1 });
  });

  test('overlapping submits have no order to keep (10 concurrent submitters)', () => {
    // b's submit began (-60) before a's returned (-50): either may be first.
    const jobs = [
      { id: 'a', pool: 'general' as const, priority: 'medium' as const, submittedAt: -70, acceptedAt: -50 },
      { id: 'b', pool: 'general' as const, priority: 'medium' as const, submittedAt: -60, acceptedAt: -40 },
    ];
    const renders = [span('b', 'general', 0), span('a', 'general', 300)];
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE)).toEqual({ inversions: 0, fifoViolations: 0 });
  });

  test('a job accepted after a start was not waiting at it', () => {
    const jobs = [job('low-early', 'general', 'low', -50), job('high-late', 'general', 'high', 10)];
    const renders = [span('low-early', 'general', 0), span('high-late', 'general', 300)];
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE)).toEqual({ inversions: 0, fifoViolations: 0 });
  });

  test('one start passing both a higher job and an earlier peer counts once in each column', () => {
    const jobs = [
      job('high', 'general', 'high', -60),
      job('medium-first', 'general', 'medium', -50),
      job('medium-second', 'general', 'medium', -40),
    ];
    const renders = [
      span('medium-second', 'general', 0),
      span('high', 'general', 300),
      span('medium-first', 'general', 600),
    ];
    // medium-second passed both (1 + 1); high then started ahead of medium-first rightly.
    expect(countOrdering(jobs, renders, MANIM_CAP, TOLERANCE)).toEqual({ inversions: 1, fifoViolations: 1 });
  });
});

describe('handoffGaps', () => {
  const render = (
    id: string,
    pool: HandoffRender['pool'],
    startedAt: number,
    finishedAt: number,
    noticedAt?: number,
  ): HandoffRender => ({
    id,
    pool,
    startedAt,
    finishedAt,
    ...(noticedAt === undefined ? {} : { noticedAt }),
  });

  test('each end pairs with the first start after it; gaps from the end and from the poll that saw it', () => {
    const renders = [
      render('filler-1', 'general', -500, 0, 40),
      render('filler-2', 'general', -500, 10, 120),
      render('a', 'general', 70, 300, 350),
      render('b', 'general', 150, 400, 420),
      render('c', 'general', 380, 600, 610),
    ];
    const gaps = handoffGaps(renders, new Set(['a', 'b', 'c']));
    // End 0 → start 70; end 10 → start 150; end 300 → start 380; then no general job waits.
    expect(gaps.fromEnd).toEqual([70, 140, 80]);
    expect(gaps.fromNotice).toEqual([30, 30, 30]);
    expect(gaps.noticedPairs.map((p) => [p.noticedAt, p.startedId])).toEqual([
      [40, 'a'],
      [120, 'b'],
      [350, 'c'],
    ]);
  });

  test('an end while only Manim jobs wait is not a gap', () => {
    const renders = [
      render('filler', 'general', -500, 0, 50),
      render('g', 'general', 60, 200, 220),
      render('m', 'manim', 900, 1100, 1150),
    ];
    // The filler's end is followed by g; g's end (200) leaves only m waiting: not counted.
    expect(handoffGaps(renders, new Set(['g', 'm'])).fromEnd).toEqual([60]);
  });

  test('no ends, no gaps', () => {
    expect(handoffGaps([], new Set())).toEqual({ fromEnd: [], fromNotice: [], noticedPairs: [] });
  });
});
