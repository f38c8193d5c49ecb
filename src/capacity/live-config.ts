/**
 * `job_queue_config` at run time: re-read every few seconds (and on SIGHUP), validated, and
 * turned into the render caps in force now. A bad row or a database outage never changes the
 * caps: the last good config stays in force and the operator gets one clear log line.
 */
import { DEFAULT_QUEUE_CONFIG, LIMITS } from '../shared/constants';
import { QueueConfigSchema, type QueueConfig } from '../shared/job-schema';
import { assertValidTimeZone, effectiveCaps, type EffectiveCaps } from './peak-hours';
import { withTimeout } from '../util/with-timeout';
import { errorMessage } from '../shared/error-message';

export interface ConfigLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface LiveQueueConfigOptions {
  /** Reads the current row, unvalidated (JobStore.readQueueConfig). */
  read: () => Promise<Record<string, unknown>>;
  /** Re-read period; also how often peak hours are re-evaluated. */
  intervalMs?: number;
  /** A read slower than this counts as failed, so a hung database cannot stall the refresh loop. */
  readTimeoutMs?: number;
  now?: () => Date;
  logger: ConfigLogger;
  /** Called once per change of the config or of the caps in force (including peak hours starting or ending). */
  onChange?: (caps: EffectiveCaps, config: QueueConfig) => void;
  /** Re-read on SIGHUP. Off by default so tests and libraries install no process handlers. */
  listenForSighup?: boolean;
}

export type ConfigValidation = { ok: true; config: QueueConfig } | { ok: false; reason: string };

const CONFIG_FIELDS = Object.keys(QueueConfigSchema.shape) as (keyof QueueConfig)[];

function shown(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Schema plus a time-zone check; the reason names each bad field and the value it had. */
export function validateQueueConfig(row: unknown): ConfigValidation {
  const parsed = QueueConfigSchema.safeParse(row);
  if (!parsed.success) {
    const reason = parsed.error.issues
      .map((issue) => {
        if (issue.path.length === 0) return `(row): ${issue.message}`;
        const field = issue.path.join('.');
        const value = (row as Record<string, unknown> | null | undefined)?.[String(issue.path[0])];
        return `${field}: ${issue.message} (got ${shown(value)})`;
      })
      .join('; ');
    return { ok: false, reason };
  }
  try {
    assertValidTimeZone(parsed.data.timeZone);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  return { ok: true, config: parsed.data };
}

function changedFields(from: QueueConfig, to: QueueConfig): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of CONFIG_FIELDS) {
    if (from[field] !== to[field]) changes[field] = { from: from[field], to: to[field] };
  }
  return changes;
}

const sameCaps = (a: EffectiveCaps, b: EffectiveCaps): boolean =>
  a.total === b.total && a.manim === b.manim && a.peak === b.peak;

function errorText(err: unknown): string {
  const text = errorMessage(err);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

export class LiveQueueConfig {
  private config: QueueConfig = { ...DEFAULT_QUEUE_CONFIG };
  private reported: EffectiveCaps;
  private readonly intervalMs: number;
  private readonly readTimeoutMs: number;
  private readonly now: () => Date;
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight: Promise<void> | undefined;
  private readFailing = false;
  private lastRejection: string | undefined;
  private readonly onSighup = (): void => {
    this.opts.logger.info('SIGHUP: re-reading job_queue_config');
    void this.refresh();
  };

  constructor(private readonly opts: LiveQueueConfigOptions) {
    this.intervalMs = opts.intervalMs ?? LIMITS.configRefreshSeconds * 1000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 10_000;
    for (const [field, value] of [
      ['intervalMs', this.intervalMs],
      ['readTimeoutMs', this.readTimeoutMs],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new RangeError(`${field}: expected a positive number of milliseconds (got ${String(value)})`);
      }
    }
    this.now = opts.now ?? (() => new Date());
    this.reported = effectiveCaps(this.config, this.now());
  }

  /** Reads once (never rejects), then keeps re-reading in the background until stop(). */
  async start(): Promise<void> {
    if (this.timer) return;
    // unref: the refresh loop alone must not keep the process alive.
    this.timer = setInterval(() => {
      this.reevaluate();
      void this.refresh();
    }, this.intervalMs);
    this.timer.unref();
    if (this.opts.listenForSighup) process.on('SIGHUP', this.onSighup);
    await this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    process.off('SIGHUP', this.onSighup);
  }

  /** Reads and applies the row. Never rejects; concurrent calls share one read. */
  refresh(): Promise<void> {
    this.inFlight ??= this.readAndApply().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** The last good config (the defaults until the first good read). */
  current(): QueueConfig {
    return { ...this.config };
  }

  /** The caps in force at the injected clock's now. */
  caps(): EffectiveCaps {
    return effectiveCaps(this.config, this.now());
  }

  /** Re-checks peak hours against the clock: the caps change at 06:00 even when the row did not. */
  reevaluate(): void {
    this.apply(this.config);
  }

  private async readAndApply(): Promise<void> {
    let row: Record<string, unknown>;
    try {
      row = await this.readWithTimeout();
    } catch (err) {
      if (!this.readFailing) {
        this.readFailing = true;
        this.opts.logger.warn(
          `job_queue_config read failed: ${errorText(err)}; keeping last good config until it can be read`,
        );
      }
      this.reevaluate();
      return;
    }
    if (this.readFailing) {
      this.readFailing = false;
      this.opts.logger.info('job_queue_config readable again');
    }
    const result = validateQueueConfig(row);
    if (!result.ok) {
      // Once per distinct problem: the same bad row is re-read every interval.
      if (result.reason !== this.lastRejection) {
        this.lastRejection = result.reason;
        this.opts.logger.warn(`job_queue_config rejected: ${result.reason}; keeping last good config`);
      }
      this.reevaluate();
      return;
    }
    this.lastRejection = undefined;
    this.apply(result.config);
  }

  private async readWithTimeout(): Promise<Record<string, unknown>> {
    return await withTimeout(
      this.opts.read(),
      this.readTimeoutMs,
      `no answer within ${this.readTimeoutMs} ms`,
    );
  }

  private apply(next: QueueConfig): void {
    const changes = changedFields(this.config, next);
    const configChanged = Object.keys(changes).length > 0;
    const caps = effectiveCaps(next, this.now());
    const capsChanged = !sameCaps(this.reported, caps);
    this.config = next;
    if (!configChanged && !capsChanged) return;
    const previous = this.reported;
    this.reported = caps;
    this.opts.logger.info(
      configChanged ? 'job_queue_config applied' : 'render caps changed with peak hours',
      {
        ...(configChanged ? { changes } : {}),
        caps: { from: previous, to: caps },
      },
    );
    try {
      this.opts.onChange?.(caps, { ...next });
    } catch (err) {
      this.opts.logger.warn(`job_queue_config onChange handler failed: ${errorText(err)}`);
    }
  }
}
