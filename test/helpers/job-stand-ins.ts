/**
 * Job workflows that run and take signals, for admission's tests: no worker polls their queue, so
 * they never end until terminated, and a grant signalled to one is delivered (or, terminated, is not).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WORKFLOW_TYPE, renderJobWorkflowId } from '../../src/shared/constants';

export async function startJobStandIn(client: Client, jobId: string): Promise<void> {
  await client.workflow.start(WORKFLOW_TYPE.renderJob, {
    workflowId: renderJobWorkflowId(jobId),
    taskQueue: `nobody-polls-${randomUUID()}`,
  });
}

/** Ends the stand-ins still running (a test's clean-up: one already gone is no error). */
export async function terminateStandIns(client: Client, jobIds: string[]): Promise<void> {
  await Promise.all(
    jobIds.map((id) =>
      client.workflow
        .getHandle(renderJobWorkflowId(id))
        .terminate('test over')
        .catch(() => undefined),
    ),
  );
}
