import { LiveQueueConfig, validateQueueConfig } from '../../src/capacity/live-config';
import type { EffectiveCaps } from '../../src/capacity/peak-hours';
import { DEFAULT_QUEUE_CONFIG } from '../../src/shared/constants';
import type { QueueConfig } from '../../src/shared/job-schema';

interface Logged {
  level: 'info' | 'warn';
  message: string;
  meta?: Record<string, unknown>;
}

function harness(opts: { at: string; row?: Record<string, unknown> }) {
  const logs: Logged[] = [];
  const changes: { caps: EffectiveCaps; config: QueueConfig }[] = [];
  const state = {
    now: new Date(opts.at),
    row: (opts.row ?? { ...DEFAULT_QUEUE_CONFIG }) as Record<string, unknown>,
    failure: undefined as Error | undefined,
    reads: 0,
  };
  const live = new LiveQueueConfig({
    read: async () => {
      state.reads += 1;
      if (state.failure) throw state.failure;
      return { ...state.row };
    },
    now: () => state.now,
    logger: {
      info: (message, meta) => logs.push({ level: 'info', message, ...(meta ? { meta } : {}) }),
      warn: (message, meta) => logs.push({ level: 'warn', message, ...(meta ? { meta } : {}) }),
    },
    onChange: (caps, config) => changes.push({ caps, config }),
  });
  const warnings = (): string[] => logs.filter((l) => l.level === 'warn').map((l) => l.message);
  const infos = (): Logged[] => logs.filter((l) => l.level === 'info');
  return { live, logs, changes, state, warnings, infos };
}

const OFF_PEAK = '2024-06-15T03:00:00Z'; // UTC, the default zone

describe('LiveQueueConfig', () => {
  test('before the first good read the defaults are in force', () => {
    const { live } = harness({ at: OFF_PEAK });
    expect(live.current()).toEqual(DEFAULT_QUEUE_CONFIG);
    expect(live.caps()).toEqual({ total: 10, manim: 4, peak: false });
  });

  test('a valid change is applied and logged once with old and new values, not on every refresh', async () => {
    const h = harness({ at: OFF_PEAK });
    await h.live.refresh();
    expect(h.infos()).toEqual([]); // same as the defaults: nothing changed
    h.state.row = { ...DEFAULT_QUEUE_CONFIG, maxConcurrentRenders: 12, maxManimRenders: 5 };
    await h.live.refresh();
    await h.live.refresh();
    await h.live.refresh();
    expect(h.live.caps()).toEqual({ total: 12, manim: 5, peak: false });
    expect(h.infos()).toEqual([
      {
        level: 'info',
        message: 'job_queue_config applied',
        meta: {
          changes: { maxConcurrentRenders: { from: 10, to: 12 }, maxManimRenders: { from: 4, to: 5 } },
          caps: { from: { total: 10, manim: 4, peak: false }, to: { total: 12, manim: 5, peak: false } },
        },
      },
    ]);
    expect(h.changes).toHaveLength(1);
    expect(h.changes[0]!.caps).toEqual({ total: 12, manim: 5, peak: false });
  });

  test('a change that leaves the caps alone (retry interval) is still applied and reported', async () => {
    const h = harness({ at: OFF_PEAK });
    h.state.row = { ...DEFAULT_QUEUE_CONFIG, retryIntervalMinutes: 2 };
    await h.live.refresh();
    expect(h.live.current().retryIntervalMinutes).toBe(2);
    expect(h.changes).toHaveLength(1);
  });

  test.each([
    [
      'negative cap',
      { maxConcurrentRenders: -2 },
      'job_queue_config rejected: maxConcurrentRenders: Too small: expected number to be >=1 (got -2); keeping last good config',
    ],
    [
      'multiplier below 1',
      { peakWorkerMultiplier: 0.5 },
      'job_queue_config rejected: peakWorkerMultiplier: Too small: expected number to be >=1 (got 0.5); keeping last good config',
    ],
    [
      'malformed time',
      { peakHourStart: '25:00' },
      'job_queue_config rejected: peakHourStart: expected HH:MM (got "25:00"); keeping last good config',
    ],
    [
      'unknown time zone',
      { timeZone: 'Mars/Olympus' },
      'job_queue_config rejected: timeZone: unknown time zone (got "Mars/Olympus"); expected an IANA name such as Asia/Kolkata; keeping last good config',
    ],
  ])(
    'an invalid row (%s) is rejected with one warn line and the last good config stays',
    async (_, bad, line) => {
      const h = harness({ at: OFF_PEAK, row: { ...DEFAULT_QUEUE_CONFIG, maxConcurrentRenders: 8 } });
      await h.live.refresh();
      const good = h.live.current();
      h.state.row = { ...good, ...bad };
      await h.live.refresh();
      await h.live.refresh(); // the same bad row again: no second warning
      expect(h.warnings()).toEqual([line]);
      expect(h.live.current()).toEqual(good);
      expect(h.live.caps()).toEqual({ total: 8, manim: 4, peak: false });
      expect(h.changes).toHaveLength(1); // only the good 8
    },
  );

  test('a read that throws keeps the last good config and warns once per outage', async () => {
    const h = harness({ at: OFF_PEAK, row: { ...DEFAULT_QUEUE_CONFIG, maxConcurrentRenders: 7 } });
    await h.live.refresh();
    h.state.failure = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    await h.live.refresh();
    await h.live.refresh();
    expect(h.warnings()).toEqual([
      'job_queue_config read failed: connect ECONNREFUSED 127.0.0.1:5432; keeping last good config until it can be read',
    ]);
    expect(h.live.current().maxConcurrentRenders).toBe(7);
    h.state.failure = undefined;
    await h.live.refresh();
    h.state.failure = new Error('timeout');
    await h.live.refresh();
    expect(h.warnings()).toHaveLength(2); // a new outage warns again
  });

  test('a read that never answers counts as failed after readTimeoutMs', async () => {
    const warnings: string[] = [];
    const live = new LiveQueueConfig({
      read: () => new Promise(() => undefined),
      readTimeoutMs: 20,
      logger: { info: () => undefined, warn: (message) => warnings.push(message) },
    });
    await live.refresh();
    expect(warnings).toEqual([
      'job_queue_config read failed: no answer within 20 ms; keeping last good config until it can be read',
    ]);
  });

  test('the clock crossing 06:00 raises total from 10 to 15, manim stays 4, reported once', async () => {
    const h = harness({ at: '2024-06-15T05:59:00Z' });
    await h.live.refresh();
    expect(h.live.caps()).toEqual({ total: 10, manim: 4, peak: false });
    h.state.now = new Date('2024-06-15T06:00:00Z');
    expect(h.live.caps()).toEqual({ total: 15, manim: 4, peak: true });
    await h.live.refresh();
    h.live.reevaluate();
    expect(h.changes).toEqual([{ caps: { total: 15, manim: 4, peak: true }, config: DEFAULT_QUEUE_CONFIG }]);
    expect(h.infos()).toEqual([
      {
        level: 'info',
        message: 'render caps changed with peak hours',
        meta: {
          caps: { from: { total: 10, manim: 4, peak: false }, to: { total: 15, manim: 4, peak: true } },
        },
      },
    ]);
  });

  test('peak hours are re-evaluated even while the database is down', async () => {
    const h = harness({ at: '2024-06-15T20:59:00Z' });
    await h.live.refresh();
    expect(h.live.caps()).toEqual({ total: 15, manim: 4, peak: true });
    h.state.failure = new Error('down');
    h.state.now = new Date('2024-06-15T21:00:00Z');
    await h.live.refresh();
    expect(h.changes.map((c) => c.caps)).toEqual([{ total: 10, manim: 4, peak: false }]);
  });

  test('start() reads at once, then on its interval; stop() ends the loop', async () => {
    const h = harness({ at: OFF_PEAK });
    const live = new LiveQueueConfig({
      read: async () => ({ ...h.state.row }),
      intervalMs: 20,
      now: () => h.state.now,
      logger: { info: () => undefined, warn: () => undefined },
      onChange: (caps) => h.changes.push({ caps, config: live.current() }),
    });
    await live.start();
    h.state.row = { ...DEFAULT_QUEUE_CONFIG, maxConcurrentRenders: 6 };
    await new Promise((resolve) => setTimeout(resolve, 100));
    live.stop();
    expect(live.caps().total).toBe(6);
    h.state.row = { ...DEFAULT_QUEUE_CONFIG, maxConcurrentRenders: 9 };
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(live.caps().total).toBe(6);
  });

  test('with listenForSighup, SIGHUP triggers a refresh; stop() removes the handler', async () => {
    const baseline = process.listenerCount('SIGHUP');
    let reads = 0;
    const live = new LiveQueueConfig({
      read: async () => {
        reads += 1;
        return { ...DEFAULT_QUEUE_CONFIG };
      },
      intervalMs: 60_000,
      listenForSighup: true,
      logger: { info: () => undefined, warn: () => undefined },
    });
    await live.start();
    expect(process.listenerCount('SIGHUP')).toBe(baseline + 1);
    process.emit('SIGHUP', 'SIGHUP');
    await live.refresh();
    expect(reads).toBeGreaterThanOrEqual(2);
    live.stop();
    expect(process.listenerCount('SIGHUP')).toBe(baseline);
  });

  test('without listenForSighup no signal handler is installed', async () => {
    const baseline = process.listenerCount('SIGHUP');
    const live = new LiveQueueConfig({
      read: async () => ({ ...DEFAULT_QUEUE_CONFIG }),
      logger: { info: () => undefined, warn: () => undefined },
    });
    await live.start();
    expect(process.listenerCount('SIGHUP')).toBe(baseline);
    live.stop();
  });
});

describe('validateQueueConfig', () => {
  test('names every bad field, and rejects unknown columns', () => {
    const result = validateQueueConfig({ ...DEFAULT_QUEUE_CONFIG, maxAttempts: 0, extra: 1 });
    expect(result).toEqual({
      ok: false,
      reason: expect.stringContaining('maxAttempts: Too small: expected number to be >=1 (got 0)'),
    });
    expect(result.ok ? '' : result.reason).toContain('(row): Unrecognized key: "extra"');
  });

  test('accepts Asia/Kolkata and HH:MM:SS', () => {
    expect(
      validateQueueConfig({ ...DEFAULT_QUEUE_CONFIG, timeZone: 'Asia/Kolkata', peakHourEnd: '21:30:00' }),
    ).toEqual({
      ok: true,
      config: { ...DEFAULT_QUEUE_CONFIG, timeZone: 'Asia/Kolkata', peakHourEnd: '21:30:00' },
    });
  });
});
