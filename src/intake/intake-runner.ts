/**
 * Intake on wake-up, in the worker process: every wake-up drains what is waiting, batch after
 * batch; wake-ups during a drain fold into one more pass. Every worker runs one: claims skip rows
 * another worker holds, so they share the work without coordinating.
 */
import { INTAKE_BATCH_SIZE, runIntakeBatch } from './intake-batch';
import type { IntakeDeps } from './intake-batch';
import type { IntakeWakeups, WakeupLogger } from './wakeups';
import { errorMessage } from '../shared/error-message';

export interface IntakeRunnerOptions extends IntakeDeps {
  logger: WakeupLogger;
  batchSize?: number;
}

export class IntakeRunner {
  private draining: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: IntakeRunnerOptions) {}

  /** Something was inserted: drain now, or once more after the drain in progress. */
  wake(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Resolves when no drain runs (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async drain(): Promise<void> {
    const size = this.options.batchSize ?? INTAKE_BATCH_SIZE;
    do {
      this.again = false;
      try {
        for (;;) {
          const batch = await runIntakeBatch(this.options, size, (event) => {
            if (event.outcome === 'rejected') {
              this.options.logger.warn('intake rejected job', { jobId: event.jobId, reason: event.reason });
            }
          });
          if (batch.claimed < size || this.stopped) break;
        }
      } catch (err) {
        // Claimed rows come back after 2 minutes; the safety sweep or the next insert retries.
        this.options.logger.warn('intake on insert failed; the rows are taken up again later', {
          error: errorMessage(err),
        });
      }
    } while (this.again && !this.stopped);
  }
}

export interface IntakeOnInsert {
  runner: IntakeRunner;
  /** Where the wake-ups come from, for logs. */
  source: string;
  /** Stops listening, then waits for the drain in progress. */
  stop(): Promise<void>;
}

/** An intake runner woken by `wakeups`: how the worker runtime and the dev stack run intake on insert. */
export async function startIntakeOnInsert(
  options: IntakeRunnerOptions & { wakeups: IntakeWakeups },
): Promise<IntakeOnInsert> {
  const { wakeups, ...runnerOptions } = options;
  const runner = new IntakeRunner(runnerOptions);
  const stop = async (): Promise<void> => {
    await wakeups.stop();
    await runner.stop();
  };
  try {
    await wakeups.start(() => runner.wake());
  } catch (err) {
    await stop();
    throw err;
  }
  return { runner, source: wakeups.source, stop };
}
