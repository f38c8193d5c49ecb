import {
  assertValidTimeZone,
  effectiveCaps,
  isPeakHour,
  localSecondOfDay,
} from '../../src/capacity/peak-hours';
import { DEFAULT_QUEUE_CONFIG } from '../../src/shared/constants';

const day = { start: '06:00', end: '21:00' };
const at = (iso: string): Date => new Date(iso);

describe('isPeakHour', () => {
  const utc = { ...day, timeZone: 'UTC' };

  test.each([
    ['05:59:59', false],
    ['06:00:00', true],
    ['12:00:00', true],
    ['20:59:59', true],
    ['21:00:00', false],
    ['00:00:00', false],
  ])('06:00-21:00 UTC at %s is peak=%s (start inclusive, end exclusive)', (time, expected) => {
    expect(isPeakHour(at(`2024-06-15T${time}Z`), utc)).toBe(expected);
  });

  test.each([
    ['21:59', false],
    ['22:00', true],
    ['23:59', true],
    ['00:00', true],
    ['05:59', true],
    ['06:00', false],
    ['12:00', false],
  ])('a 22:00-06:00 window crosses midnight: at %s peak=%s', (time, expected) => {
    expect(isPeakHour(at(`2024-06-15T${time}:00Z`), { start: '22:00', end: '06:00', timeZone: 'UTC' })).toBe(
      expected,
    );
  });

  test('start == end is an empty window: never peak', () => {
    for (let hour = 0; hour < 24; hour += 1) {
      const iso = `2024-06-15T${String(hour).padStart(2, '0')}:00:00Z`;
      expect(isPeakHour(at(iso), { start: '06:00', end: '06:00', timeZone: 'UTC' })).toBe(false);
    }
  });

  test('Asia/Kolkata (+05:30): 06:00 IST is 00:30 UTC, 21:00 IST is 15:30 UTC', () => {
    const ist = { ...day, timeZone: 'Asia/Kolkata' };
    expect(isPeakHour(at('2024-06-15T00:29:59Z'), ist)).toBe(false);
    expect(isPeakHour(at('2024-06-15T00:30:00Z'), ist)).toBe(true);
    expect(isPeakHour(at('2024-06-15T15:29:59Z'), ist)).toBe(true);
    expect(isPeakHour(at('2024-06-15T15:30:00Z'), ist)).toBe(false);
  });

  test('America/New_York uses the local offset: 06:00 EST is 11:00 UTC in January, EDT 10:00 UTC in July', () => {
    const ny = { ...day, timeZone: 'America/New_York' };
    expect(isPeakHour(at('2024-01-15T10:59:00Z'), ny)).toBe(false);
    expect(isPeakHour(at('2024-01-15T11:00:00Z'), ny)).toBe(true);
    expect(isPeakHour(at('2024-07-15T09:59:00Z'), ny)).toBe(false);
    expect(isPeakHour(at('2024-07-15T10:00:00Z'), ny)).toBe(true);
  });

  test('spring-forward day in New York (2024-03-10): peak starts at 06:00 EDT = 10:00 UTC', () => {
    const ny = { ...day, timeZone: 'America/New_York' };
    expect(isPeakHour(at('2024-03-10T09:59:59Z'), ny)).toBe(false);
    expect(isPeakHour(at('2024-03-10T10:00:00Z'), ny)).toBe(true);
    // A window starting in the skipped hour (02:30 never happens) begins when the clock jumps to 03:00.
    const skipped = { start: '02:30', end: '04:00', timeZone: 'America/New_York' };
    expect(isPeakHour(at('2024-03-10T06:59:59Z'), skipped)).toBe(false); // 01:59:59 EST
    expect(isPeakHour(at('2024-03-10T07:00:00Z'), skipped)).toBe(true); // 03:00:00 EDT
  });

  test('fall-back day in New York (2024-11-03): peak starts at 06:00 EST = 11:00 UTC; the repeated hour is peak twice', () => {
    const ny = { ...day, timeZone: 'America/New_York' };
    expect(isPeakHour(at('2024-11-03T10:59:59Z'), ny)).toBe(false);
    expect(isPeakHour(at('2024-11-03T11:00:00Z'), ny)).toBe(true);
    const repeated = { start: '01:00', end: '02:00', timeZone: 'America/New_York' };
    expect(isPeakHour(at('2024-11-03T05:30:00Z'), repeated)).toBe(true); // 01:30 EDT
    expect(isPeakHour(at('2024-11-03T06:30:00Z'), repeated)).toBe(true); // 01:30 EST
    expect(isPeakHour(at('2024-11-03T07:00:00Z'), repeated)).toBe(false); // 02:00 EST
  });

  test('Europe/London DST days: 06:00 BST = 05:00 UTC on 2024-03-31, 06:00 GMT = 06:00 UTC on 2024-10-27', () => {
    const london = { ...day, timeZone: 'Europe/London' };
    expect(isPeakHour(at('2024-03-31T04:59:59Z'), london)).toBe(false);
    expect(isPeakHour(at('2024-03-31T05:00:00Z'), london)).toBe(true);
    expect(isPeakHour(at('2024-10-27T05:59:59Z'), london)).toBe(false);
    expect(isPeakHour(at('2024-10-27T06:00:00Z'), london)).toBe(true);
    expect(isPeakHour(at('2024-10-27T20:59:59Z'), london)).toBe(true);
    expect(isPeakHour(at('2024-10-27T21:00:00Z'), london)).toBe(false);
  });

  test('an unknown time zone throws an error naming the field and value', () => {
    expect(() => isPeakHour(at('2024-06-15T12:00:00Z'), { ...day, timeZone: 'Mars/Olympus' })).toThrow(
      'timeZone: unknown time zone (got "Mars/Olympus")',
    );
    expect(() => assertValidTimeZone('Not A Zone')).toThrow(RangeError);
    expect(() => assertValidTimeZone('Asia/Kolkata')).not.toThrow();
  });

  test('a malformed time throws an error naming the field', () => {
    expect(() =>
      isPeakHour(at('2024-06-15T12:00:00Z'), { start: '25:00', end: '21:00', timeZone: 'UTC' }),
    ).toThrow('peakHourStart: expected HH:MM (got "25:00")');
  });

  test('localSecondOfDay reads the wall clock in the zone, midnight as 0 not 24', () => {
    expect(localSecondOfDay(at('2024-06-15T18:30:00Z'), 'Asia/Kolkata')).toBe(0);
    expect(localSecondOfDay(at('2024-06-15T18:29:59Z'), 'Asia/Kolkata')).toBe(86_399);
  });
});

describe('effectiveCaps', () => {
  const config = { ...DEFAULT_QUEUE_CONFIG };

  test('off peak: total is maxConcurrentRenders and manim is maxManimRenders', () => {
    expect(effectiveCaps(config, at('2024-06-15T05:59:00Z'))).toEqual({ total: 10, manim: 4, peak: false });
  });

  test('in peak: total is floor(max x multiplier) and the manim cap is not raised', () => {
    expect(effectiveCaps(config, at('2024-06-15T06:00:00Z'))).toEqual({ total: 15, manim: 4, peak: true });
    expect(effectiveCaps({ ...config, maxConcurrentRenders: 7 }, at('2024-06-15T12:00:00Z')).total).toBe(10); // floor(10.5)
  });

  test('manim never exceeds the total cap', () => {
    expect(
      effectiveCaps({ ...config, maxConcurrentRenders: 2, maxManimRenders: 4 }, at('2024-06-15T03:00:00Z')),
    ).toEqual({ total: 2, manim: 2, peak: false });
  });
});
