/**
 * The admission keeper's own rules (pure timing logic, no server): it checks on every tick, a
 * failed check is logged and tried again, and a check that hangs is not joined by more.
 */
import { keepAdmission } from '../../src/worker/admission-keeper';

const EVERY_MS = 20;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done` holds (ticks may come late on a loaded machine), failing after 5 s. */
async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(5);
  }
}

function recordingLogger() {
  const warnings: { message: string; meta?: Record<string, unknown> }[] = [];
  const ignore = () => undefined;
  return {
    warnings,
    logger: {
      log: ignore,
      trace: ignore,
      debug: ignore,
      info: ignore,
      error: ignore,
      warn: (message: string, meta?: Record<string, unknown>) => warnings.push({ message, meta }),
    },
  };
}

test('checks on every tick while it runs, and not after stop', async () => {
  let checks = 0;
  const { logger } = recordingLogger();
  const keeper = keepAdmission(async () => void (checks += 1), EVERY_MS, logger);
  await until('three checks', () => checks >= 3);
  keeper.stop();
  const atStop = checks;
  await wait(EVERY_MS * 4);
  expect(checks).toBe(atStop);
});

test('a failed check is logged with its error and tried again at the next tick', async () => {
  let checks = 0;
  const { logger, warnings } = recordingLogger();
  const keeper = keepAdmission(
    async () => {
      checks += 1;
      throw new Error('Temporal unreachable');
    },
    EVERY_MS,
    logger,
  );
  await until('two failed checks logged', () => warnings.length >= 2);
  keeper.stop();
  await wait(EVERY_MS);
  expect(warnings.length).toBe(checks);
  expect(warnings[0]).toEqual({
    message: 'could not check that admission runs; trying again',
    meta: { error: 'Temporal unreachable' },
  });
});

test('a check that hangs is not joined by another; the next starts once it settles', async () => {
  let started = 0;
  let release: () => void = () => undefined;
  const { logger } = recordingLogger();
  const keeper = keepAdmission(
    () => {
      started += 1;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    EVERY_MS,
    logger,
  );
  await wait(EVERY_MS * 6);
  expect(started).toBe(1);
  release();
  await until('the next check once the hung one settled', () => started >= 2);
  keeper.stop();
});
