/** Where the project's own set-up (scripts/setup.mjs) puts the pinned Temporal binaries. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PROJECT_ROOT = join(__dirname, '..', '..');
const TOOLS_BIN = join(PROJECT_ROOT, '.tools', 'bin');

export const TEMPORAL_CLI_PATH = join(TOOLS_BIN, 'temporal');
export const TEMPORAL_TEST_SERVER_PATH = join(TOOLS_BIN, 'temporal-test-server');
export const DATA_DIR = join(PROJECT_ROOT, '.data');

/**
 * The pinned binary when set-up installed it; otherwise undefined, and callers let the SDK
 * download its default (only possible where that host is reachable).
 */
export function pinnedExecutable(path: string): { type: 'existing-path'; path: string } | undefined {
  return existsSync(path) ? { type: 'existing-path', path } : undefined;
}

/**
 * Dev-server flags every server we start uses: native task-queue priority on, and one
 * partition per task queue so the server hands out tasks in strict priority and FIFO order.
 */
export const DEV_SERVER_DYNAMIC_CONFIG = [
  'matching.useNewMatcher=true',
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
  'frontend.enableUpdateWorkflowExecution=true',
];

export function devServerExtraArgs(): string[] {
  return DEV_SERVER_DYNAMIC_CONFIG.flatMap((value) => ['--dynamic-config-value', value]);
}

export { searchAttributeFlags } from '../../src/shared/search-attributes';
