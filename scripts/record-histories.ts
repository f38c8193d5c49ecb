/**
 * Records renderJob histories for the replay tests (test/fixtures/histories). Run it after a
 * deliberate workflow change, guarded by patched(), to add the new paths; never to paper over
 * a replay failure. `npm run record-histories`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { submitJob } from '../src/client/submit';
import { PROJECT_ROOT } from '../src/dev/tool-paths';
import { startStack } from '../test/helpers/stack';
import { eventually, timeSkippingEnv } from '../test/helpers/temporal';

const OUT = join(PROJECT_ROOT, 'test', 'fixtures', 'histories');

async function main(): Promise<void> {
  const env = await timeSkippingEnv();
  const stack = await startStack(env, { simulator: { defaultDurationMs: 300, progressSteps: 3 } });
  mkdirSync(OUT, { recursive: true });
  const save = async (name: string, handle: WorkflowHandle) => {
    const history = await handle.fetchHistory();
    // Proto3 JSON, the format the Web UI downloads and Worker.runReplayHistory reads.
    writeFileSync(join(OUT, `${name}.json`), historyToJSON(history));
    process.stdout.write(`recorded ${name} (${history.events?.length ?? 0} events)\n`);
  };
  const start = async (simulate: Record<string, unknown>, jobType = 'doubt') => {
    const { workflowId } = await submitJob(
      env.client,
      { jobType, priority: 'high', payload: { q: 'replay', simulate } },
      { searchAttributes: false },
    );
    return env.client.workflow.getHandle(workflowId);
  };
  try {
    const success = await start({}, 'concept_explainer');
    await success.result();
    await save('render-job-success', success);

    const retried = await start({ failTimes: 2 });
    await retried.result();
    await save('render-job-retried-then-completed', retried);

    const failed = await start({ failTimes: 99 });
    await failed.result().catch(() => undefined);
    await save('render-job-failed-after-retries', failed);

    const rejected = await start({ outcome: 'reject' });
    await rejected.result().catch(() => undefined);
    await save('render-job-rejected', rejected);

    stack.sims.orchestrator.hold();
    const cancelled = await start({}, 'solution_walkthrough');
    await eventually('render to start', () =>
      stack.sims.orchestrator.ledger.some((c) => c.method === 'POST'),
    );
    await cancelled.cancel();
    await cancelled.result().catch(() => undefined);
    await save('render-job-cancelled', cancelled);
    stack.sims.orchestrator.release();
  } finally {
    await stack.close();
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
