/**
 * Peak hours and the render caps they imply. Pure (Intl only, no Node built-ins) so config
 * validation, the worker and tests all compute exactly the same answer.
 */
import type { QueueConfig } from '../shared/job-schema';

export interface PeakWindow {
  /** Local wall-clock start, `HH:MM` or `HH:MM:SS`, inclusive. */
  start: string;
  /** Local wall-clock end, exclusive. An end before the start crosses midnight. */
  end: string;
  /** IANA time zone name, e.g. `Asia/Kolkata`. */
  timeZone: string;
}

export interface EffectiveCaps {
  total: number;
  manim: number;
  peak: boolean;
}

export type CapsConfig = Pick<
  QueueConfig,
  | 'maxConcurrentRenders'
  | 'maxManimRenders'
  | 'peakHourStart'
  | 'peakHourEnd'
  | 'peakWorkerMultiplier'
  | 'timeZone'
>;

const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

// Building a DateTimeFormat is far costlier than using one; the set of zones in use is tiny.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-GB', {
        timeZone,
        hourCycle: 'h23',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch {
      throw new RangeError(
        `timeZone: unknown time zone (got ${JSON.stringify(timeZone)}); expected an IANA name such as Asia/Kolkata`,
      );
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws a RangeError naming the field when `timeZone` is not a zone this runtime knows. */
export function assertValidTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

function parseTimeOfDay(field: string, value: string): number {
  const match = TIME_OF_DAY.exec(value);
  if (!match) throw new RangeError(`${field}: expected HH:MM (got ${JSON.stringify(value)})`);
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3] ?? 0);
}

/**
 * Seconds since local midnight on the wall clock of `timeZone`. On DST days this is what a
 * clock on the wall shows: the skipped hour never appears and the repeated hour appears twice.
 */
export function localSecondOfDay(now: Date, timeZone: string): number {
  const parts = formatterFor(timeZone).formatToParts(now);
  const get = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((part) => part.type === type)?.value ?? 0);
  return get('hour') * 3600 + get('minute') * 60 + get('second');
}

/**
 * True when the local wall-clock time in `window.timeZone` lies in [start, end). An end earlier
 * than the start is a window across midnight (22:00-06:00). start == end is an empty window:
 * never peak — the way to switch peak hours off without a separate flag.
 */
export function isPeakHour(now: Date, window: PeakWindow): boolean {
  const start = parseTimeOfDay('peakHourStart', window.start);
  const end = parseTimeOfDay('peakHourEnd', window.end);
  const local = localSecondOfDay(now, window.timeZone);
  if (start === end) return false;
  return start < end ? local >= start && local < end : local >= start || local < end;
}

/** The caps in force at `now`: peak hours raise the total cap; the Manim cap is never raised. */
export function effectiveCaps(config: CapsConfig, now: Date): EffectiveCaps {
  const peak = isPeakHour(now, {
    start: config.peakHourStart,
    end: config.peakHourEnd,
    timeZone: config.timeZone,
  });
  const total = peak
    ? Math.floor(config.maxConcurrentRenders * config.peakWorkerMultiplier)
    : config.maxConcurrentRenders;
  return { total, manim: Math.min(config.maxManimRenders, total), peak };
}
