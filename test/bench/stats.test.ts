/**
 * The benchmark's table arithmetic (bench/lib/stats.ts) on hand-worked cases. Every expected number
 * is worked out in the comment next to it, from the definition the code states.
 */
import { idealMakespanMs, percentile, round } from '../../bench/lib/stats';

/** `count` copies of `ms`. */
const times = (count: number, ms: number): number[] => Array.from({ length: count }, () => ms);
/** 1, 2, ..., n. */
const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('percentile (nearest rank: the value at rank max(1, ceil(p/100 * n)) of the sorted values)', () => {
  test('no values: null, whatever p', () => {
    expect(percentile([], 0)).toBeNull();
    expect(percentile([], 50)).toBeNull();
    expect(percentile([], 100)).toBeNull();
  });

  test('one value is every percentile', () => {
    // n = 1: ceil(0) = 0 -> max(1, 0) = 1; ceil(0.5) = 1; ceil(1) = 1. Rank 1 every time.
    expect(percentile([7], 0)).toBe(7);
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([7], 100)).toBe(7);
  });

  test('the textbook nearest-rank example, given unsorted', () => {
    // Sorted: [15, 20, 35, 40, 50], n = 5.
    const values = [50, 15, 40, 20, 35];
    // p5:   ceil(0.05 * 5) = ceil(0.25) = 1 -> 15
    expect(percentile(values, 5)).toBe(15);
    // p30:  ceil(1.5) = 2 -> 20
    expect(percentile(values, 30)).toBe(20);
    // p40:  ceil(2.0) = 2 -> 20 (an exact rank is not rounded up)
    expect(percentile(values, 40)).toBe(20);
    // p50:  ceil(2.5) = 3 -> 35
    expect(percentile(values, 50)).toBe(35);
    // p80:  ceil(4.0) = 4 -> 40; p81: ceil(4.05) = 5 -> 50
    expect(percentile(values, 80)).toBe(40);
    expect(percentile(values, 81)).toBe(50);
    // p100: ceil(5) = 5 -> 50
    expect(percentile(values, 100)).toBe(50);
  });

  test('p0 is the smallest value; p outside 0..100 is clamped to the ends', () => {
    const values = [50, 15, 40, 20, 35];
    // p0: ceil(0) = 0 -> max(1, 0) = rank 1 -> 15
    expect(percentile(values, 0)).toBe(15);
    // p-10: ceil(-0.5) = -0 -> max(1, -0) = 1 -> 15
    expect(percentile(values, -10)).toBe(15);
    // p150: ceil(7.5) = 8 -> min(8, 5) = 5 -> 50
    expect(percentile(values, 150)).toBe(50);
  });

  test('an even count: the median is the lower middle value, not the mean of the two', () => {
    // [1, 2, 3, 4]: p50 -> ceil(2) = 2 -> 2 (interpolation would give 2.5)
    expect(percentile([4, 3, 2, 1], 50)).toBe(2);
    // p51 -> ceil(2.04) = 3 -> 3
    expect(percentile([4, 3, 2, 1], 51)).toBe(3);
  });

  test('the percentiles the bench reports (p50, p90, p95, p99)', () => {
    // 1..10: p50 ceil(5) = 5; p90 ceil(9) = 9; p95 ceil(9.5) = 10; p99 ceil(9.9) = 10
    expect(percentile(oneTo(10), 50)).toBe(5);
    expect(percentile(oneTo(10), 90)).toBe(9);
    expect(percentile(oneTo(10), 95)).toBe(10);
    expect(percentile(oneTo(10), 99)).toBe(10);
    // 1..100: p99 ceil(99) = 99 (not the maximum)
    expect(percentile(oneTo(100), 99)).toBe(99);
    // 1..20: p95 ceil(19) = 19
    expect(percentile(oneTo(20), 95)).toBe(19);
  });

  test('ties: repeated values count once per occurrence', () => {
    // Sorted [1, 2, 3, 3, 3]: p40 ceil(2) = 2 -> 2; p41 ceil(2.05) = 3 -> 3; p100 -> 3
    const values = [3, 1, 3, 2, 3];
    expect(percentile(values, 40)).toBe(2);
    expect(percentile(values, 41)).toBe(3);
    expect(percentile(values, 100)).toBe(3);
    expect(percentile([5, 5, 5], 50)).toBe(5);
  });

  test('sorts numerically (not as strings) and handles negatives', () => {
    // Numeric order [2, 9, 10, 100]; string order would be [10, 100, 2, 9].
    // p25: ceil(1) = 1 -> 2; p75: ceil(3) = 3 -> 10
    expect(percentile([10, 9, 100, 2], 25)).toBe(2);
    expect(percentile([10, 9, 100, 2], 75)).toBe(10);
    // [-10, -5, 0]: p50 ceil(1.5) = 2 -> -5
    expect(percentile([0, -10, -5], 50)).toBe(-5);
  });

  test('leaves its input as it was', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  // (p / 100) * n in binary floating point made 0.07 * 100 = 7.000000000000001, rank 8.
  test('p7 of 1..100 is 7 (the rank is not pushed up by floating point)', () => {
    expect(percentile(oneTo(100), 7)).toBe(7);
  });
});

describe('idealMakespanMs', () => {
  const CAPS = { total: 10, manim: 4 };

  test('no jobs: 0', () => {
    expect(idealMakespanMs({ manim: [], general: [] }, CAPS)).toBe(0);
  });

  test('one job: its own duration', () => {
    expect(idealMakespanMs({ manim: [], general: [750] }, CAPS)).toBe(750);
    // manim waves ceil(1/4) = 1, total waves ceil(1/10) = 1 -> 750 * 1
    expect(idealMakespanMs({ manim: [750], general: [] }, CAPS)).toBe(750);
  });

  describe('equal durations (exact: d * max(manim waves, total waves))', () => {
    test('Manim-bound', () => {
      // 12 Manim + 8 general of 200 ms, caps 10 / 4:
      // manim waves ceil(12/4) = 3, total waves ceil(20/10) = 2 -> 200 * 3 = 600
      expect(idealMakespanMs({ manim: times(12, 200), general: times(8, 200) }, CAPS)).toBe(600);
    });

    test('total-bound', () => {
      // 2 Manim + 19 general: manim waves ceil(2/4) = 1, total waves ceil(21/10) = 3 -> 600
      expect(idealMakespanMs({ manim: times(2, 200), general: times(19, 200) }, CAPS)).toBe(600);
    });

    test('a full wave exactly, and one job over it', () => {
      // 4 Manim + 6 general: ceil(4/4) = 1, ceil(10/10) = 1 -> 200
      expect(idealMakespanMs({ manim: times(4, 200), general: times(6, 200) }, CAPS)).toBe(200);
      // 5 Manim + 5 general: ceil(5/4) = 2 (the fifth Manim job waits), ceil(10/10) = 1 -> 400
      expect(idealMakespanMs({ manim: times(5, 200), general: times(5, 200) }, CAPS)).toBe(400);
      // 4 Manim + 7 general: ceil(4/4) = 1, ceil(11/10) = 2 -> 400
      expect(idealMakespanMs({ manim: times(4, 200), general: times(7, 200) }, CAPS)).toBe(400);
    });

    test('a Manim cap above the total is the total', () => {
      // caps 2 / 5, 3 Manim of 100: ceil(3 / min(5, 2)) = 2, ceil(3/2) = 2 -> 200 (the total waves
      // bound this case on their own: Manim jobs are among all jobs)
      expect(idealMakespanMs({ manim: times(3, 100), general: [] }, { total: 2, manim: 5 })).toBe(200);
    });

    test('zero-length renders: 0', () => {
      expect(idealMakespanMs({ manim: times(9, 0), general: times(30, 0) }, CAPS)).toBe(0);
    });
  });

  describe('unequal durations (lower bound: max(Manim work / Manim cap, all work / total, longest job))', () => {
    test('bound by all the work', () => {
      // caps 2 / 1; Manim [300, 100], general [200, 400, 600]:
      // Manim 400 / 1 = 400; all 1600 / 2 = 800; longest 600 -> 800
      expect(idealMakespanMs({ manim: [300, 100], general: [200, 400, 600] }, { total: 2, manim: 1 })).toBe(
        800,
      );
    });

    test('bound by the Manim work', () => {
      // caps 10 / 1; Manim [500, 500, 400], general [100]:
      // Manim 1400 / 1 = 1400; all 1500 / 10 = 150; longest 500 -> 1400
      expect(idealMakespanMs({ manim: [500, 500, 400], general: [100] }, { total: 10, manim: 1 })).toBe(1400);
    });

    test('bound by the longest job', () => {
      // caps 10 / 4; general [1000, 10, 10]: Manim 0 / 4 = 0; all 1020 / 10 = 102; longest 1000 -> 1000
      expect(idealMakespanMs({ manim: [], general: [1000, 10, 10] }, CAPS)).toBe(1000);
    });

    test('a fractional bound is returned as is', () => {
      // caps 2 / 2; general [100, 100, 101]: all 301 / 2 = 150.5; longest 101 -> 150.5
      expect(idealMakespanMs({ manim: [], general: [100, 100, 101] }, { total: 2, manim: 2 })).toBe(150.5);
    });

    test('the two branches meet badly: one millisecond more lowers the ideal by a quarter', () => {
      // caps 2 / 2. [1000, 1000, 1000] is the equal case: ceil(3/2) = 2 waves -> 2000.
      // [1000, 1000, 1001] is the unequal case: max(3001 / 2, 1001) = 1500.5, which ignores that
      // the third job cannot start before one of the first two ends (true optimum 2000 or 2001).
      const caps = { total: 2, manim: 2 };
      expect(idealMakespanMs({ manim: [], general: [1000, 1000, 1000] }, caps)).toBe(2000);
      expect(idealMakespanMs({ manim: [], general: [1000, 1000, 1001] }, caps)).toBe(1500.5);
    });
  });

  // Both branches once divided 0 by 0 here (NaN).
  test('a Manim cap of 0 with no Manim jobs leaves the general jobs their slots', () => {
    expect(idealMakespanMs({ manim: [], general: [200, 200] }, { total: 2, manim: 0 })).toBe(200);
  });
});

describe('round', () => {
  test('to 2 digits by default, or as asked', () => {
    // 1.23456 * 100 = 123.456 -> 123 -> 1.23
    expect(round(1.23456)).toBe(1.23);
    // * 1000 = 1234.56 -> 1235 -> 1.235
    expect(round(1.23456, 3)).toBe(1.235);
    // 12.25 * 10 = 122.5 (exact in binary) -> 123 -> 12.3
    expect(round(12.25, 1)).toBe(12.3);
    expect(round(1234.5, 0)).toBe(1235);
    // digits -2: f = 0.01, 1234 * 0.01 = 12.34 -> 12 -> 12 / 0.01 = 1200
    expect(round(1234, -2)).toBe(1200);
    expect(round(0)).toBe(0);
    expect(round(5)).toBe(5);
  });

  test('halves round up (towards +infinity, as Math.round), negatives included', () => {
    // -1.5 -> Math.round -> -1 (not -2)
    expect(round(-1.5, 0)).toBe(-1);
    // -2.5 -> -2; -2.51 -> -3
    expect(round(-2.5, 0)).toBe(-2);
    expect(round(-2.51, 0)).toBe(-3);
    // -1.234 * 100 = -123.4 -> -123 -> -1.23
    expect(round(-1.234)).toBe(-1.23);
  });

  test('no number: null', () => {
    expect(round(null)).toBeNull();
    expect(round(undefined)).toBeNull();
    expect(round(Number.NaN)).toBeNull();
    expect(round(Number.POSITIVE_INFINITY)).toBeNull();
    expect(round(Number.NEGATIVE_INFINITY)).toBeNull();
  });
});
