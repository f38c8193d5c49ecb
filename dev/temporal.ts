/** Temporal servers for tests: the pinned binaries from .tools/, the SDK's download otherwise. */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import {
  TEMPORAL_CLI_PATH,
  TEMPORAL_TEST_SERVER_PATH,
  devServerExtraArgs,
  pinnedExecutable,
} from './server/tool-paths';
import { SEARCH_ATTRIBUTE_KEYS } from '../src/shared/search-attributes';
import { retryStopsAtClose } from '../src/util/retry-stops-at-close';

let runtimeInstalled = false;

/** Keeps SDK logs to warnings so test output shows what matters. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by another helper in this process.
  }
}

/**
 * Admission on the time-skipping server: the server skips time only while no activity runs, so
 * admission's periodic housekeeping (every 15 s, each with activities) would turn a skipped
 * 5-minute interval into 20 rounds of real work. Tests there keep housekeeping out of the way and
 * publish positions without the 1-second coalescing wait.
 */
export const TIME_SKIPPING_ADMISSION = { housekeepingSeconds: 86_400, publishMinIntervalMs: 0 } as const;

export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const executable = pinnedExecutable(TEMPORAL_TEST_SERVER_PATH);
  return TestWorkflowEnvironment.createTimeSkipping({
    ...(executable ? { server: { executable } } : {}),
    plugins: [retryStopsAtClose()],
  });
}

/** The dev server with priority on and one partition per task queue, as every server we ship. */
export async function devServerEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const executable = pinnedExecutable(TEMPORAL_CLI_PATH);
  return TestWorkflowEnvironment.createLocal({
    plugins: [retryStopsAtClose()],
    server: {
      ...(executable ? { executable } : {}),
      extraArgs: devServerExtraArgs(),
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
    },
  });
}

/** Polls until `check` returns a value, or fails with `what` after `timeoutMs` of real time. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
