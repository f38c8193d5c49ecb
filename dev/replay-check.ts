/**
 * Replays the histories a run left on the server against today's workflow code, so a
 * nondeterminism that only shows under load (a workflow task that went differently the second
 * time) is caught by the run that caused it, with the workflow and the error named, instead of
 * surfacing as a stuck workflow.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { HistoryAndWorkflowId } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { errorMessage } from '../src/shared/error-message';

export interface ReplayFailure {
  workflowId: string;
  runId: string;
  error: string;
  /** Where the history that failed was written, for `Worker.runReplayHistory` and a fixture. */
  historyFile?: string;
}

export interface ReplayCheck {
  replayed: number;
  failures: ReplayFailure[];
}

/**
 * Every run matching `query` (a visibility query), replayed with the workflows at `workflowsPath`
 * (or a prebuilt bundle's code); at most `limit` runs, newest first.
 */
export async function replayHistories(
  client: Client,
  options: {
    query: string;
    workflowsPath?: string;
    bundleCode?: string;
    limit?: number;
    /** Failing histories are written here as `<runId>.json`. */
    saveFailuresTo?: string;
  },
): Promise<ReplayCheck> {
  const limit = options.limit ?? 1000;
  const histories = client.workflow.list({ query: options.query, pageSize: 100 }).intoHistories();
  // Only the one being replayed is kept: the iterator is pulled one history at a time.
  let current: HistoryAndWorkflowId | undefined;
  async function* bounded() {
    let count = 0;
    for await (const history of histories) {
      if (count++ >= limit) return;
      current = history;
      yield history;
    }
  }
  const failures: ReplayFailure[] = [];
  let replayed = 0;
  const source = options.bundleCode
    ? { workflowBundle: { code: options.bundleCode } }
    : { workflowsPath: options.workflowsPath ?? require.resolve('../src/workflows') };
  for await (const result of Worker.runReplayHistories(source, bounded())) {
    replayed += 1;
    if (!result.error) continue;
    const failure: ReplayFailure = {
      workflowId: result.workflowId,
      runId: result.runId,
      error: errorMessage(result.error),
    };
    if (options.saveFailuresTo && current) {
      mkdirSync(options.saveFailuresTo, { recursive: true });
      failure.historyFile = join(options.saveFailuresTo, `${result.runId}.json`);
      writeFileSync(
        failure.historyFile,
        historyToJSON(current.history as Parameters<typeof historyToJSON>[0]),
      );
    }
    failures.push(failure);
  }
  return { replayed, failures };
}
