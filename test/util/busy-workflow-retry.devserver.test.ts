/**
 * A signal the server refuses because its workflow is closing is retried within a few hundred
 * milliseconds, not on the SDK's rate-limit backoff (1.7 s, 2.9 s, 4.9 s): the refusal admission's
 * senders met at its continue-as-new (src/util/busy-workflow-retry.ts).
 *
 * The closing is staged on the dev server without a Worker, by answering workflow tasks by hand: a
 * signal arrives while a task is out, the task answers "continue as new", the server fails it for
 * the unhandled signal, and while the next task is out every signal is refused.
 */
import { randomUUID } from 'node:crypto';
import { Connection, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Metadata, status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';
import { defaultGrpcRetryOptions } from '@temporalio/client';
import { devServerEnv } from '../../dev/temporal';
import { BUSY_WORKFLOW_RETRY, grpcRetryOptions, isBusyWorkflow } from '../../src/util/busy-workflow-retry';

const { CommandType } = temporal.api.enums.v1;
const NAMESPACE = 'default';
const WORKFLOW_TYPE = 'closingByHand';

let env: TestWorkflowEnvironment;
/** No retries: the server's refusal as it comes. */
let raw: Connection;

beforeAll(async () => {
  env = await devServerEnv();
  raw = await Connection.connect({ address: env.address, interceptors: [] });
}, 120_000);

afterAll(async () => {
  await raw?.close();
  await env?.teardown();
});

/** Every call by hand has a deadline (the server refuses a long poll without one). */
function bounded<T>(call: () => Promise<T>): Promise<T> {
  return raw.withDeadline(Date.now() + 20_000, call);
}

async function takeTask(taskQueue: string): Promise<Uint8Array> {
  for (;;) {
    const task = await bounded(() =>
      raw.workflowService.pollWorkflowTaskQueue({
        namespace: NAMESPACE,
        taskQueue: { name: taskQueue },
        identity: 'busy-workflow-retry test',
      }),
    );
    if (task.taskToken?.length) return task.taskToken;
  }
}

function continueAsNew(taskToken: Uint8Array, taskQueue: string) {
  return bounded(() =>
    raw.workflowService.respondWorkflowTaskCompleted({
      namespace: NAMESPACE,
      taskToken,
      identity: 'busy-workflow-retry test',
      commands: [
        {
          commandType: CommandType.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
          continueAsNewWorkflowExecutionCommandAttributes: {
            workflowType: { name: WORKFLOW_TYPE },
            taskQueue: { name: taskQueue },
          },
        },
      ],
    }),
  );
}

function rawSignal(workflowId: string, signalName: string) {
  return bounded(() =>
    raw.workflowService.signalWorkflowExecution({
      namespace: NAMESPACE,
      workflowExecution: { workflowId },
      signalName,
      identity: 'busy-workflow-retry test',
      requestId: randomUUID(),
    }),
  );
}

/** A workflow whose continue-as-new failed for a signal that came in meanwhile, its next task out. */
async function closingWorkflow(
  client: Client,
): Promise<{ workflowId: string; taskQueue: string; next: Uint8Array }> {
  const workflowId = `closing-${randomUUID()}`;
  const taskQueue = `closing-${randomUUID()}`;
  await client.workflow.start(WORKFLOW_TYPE, { workflowId, taskQueue });
  const first = await takeTask(taskQueue);
  await rawSignal(workflowId, 'arrivedDuringTheTask');
  // The server fails this task (a signal it has not seen is unhandled); how it answers differs
  // between versions, what follows does not.
  await continueAsNew(first, taskQueue).catch(() => undefined);
  return { workflowId, taskQueue, next: await takeTask(taskQueue) };
}

async function refusal(workflowId: string): Promise<StatusObject> {
  try {
    await rawSignal(workflowId, 'refused');
  } catch (err) {
    return err as StatusObject;
  }
  throw new Error('the signal to a closing workflow was accepted');
}

describe('a signal to a workflow that is closing', () => {
  test('the server refuses it as a busy workflow, and we retry it within 250 ms, where the SDK waits 1.7 s', async () => {
    const { workflowId, taskQueue, next } = await closingWorkflow(env.client);
    const refused = await refusal(workflowId);
    expect(refused.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(isBusyWorkflow(refused)).toBe(true);

    const ours = grpcRetryOptions();
    const sdk = defaultGrpcRetryOptions();
    expect(ours.retryableDecider(1, refused)).toBe(true);
    for (let attempt = 1; attempt <= 10; attempt++) {
      expect(ours.delayFunction(attempt, refused)).toBeLessThanOrEqual(BUSY_WORKFLOW_RETRY.maxMs * 1.2);
    }
    expect(sdk.delayFunction(1, refused)).toBeGreaterThanOrEqual(1_000);
    // Every other refusal keeps the SDK's policy.
    const rateLimited: StatusObject = {
      code: refused.code,
      details: refused.details,
      metadata: new Metadata(),
    };
    expect(isBusyWorkflow(rateLimited)).toBe(false);
    expect(ours.delayFunction(1, rateLimited)).toBeGreaterThanOrEqual(1_000);
    expect(ours.retryableDecider(BUSY_WORKFLOW_RETRY.maxAttempts, refused)).toBe(false);

    await continueAsNew(next, taskQueue);
  });

  test('sent through our client, it is retried until the run has continued as new, and lands in the new run', async () => {
    const { workflowId, taskQueue, next } = await closingWorkflow(env.client);
    // env.client's connection carries the plugin (dev/temporal.ts), as every connection we make.
    const sent = env.client.workflow.getHandle(workflowId).signal('sentWhileClosing');
    // Refused at least once while the task is out.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(isBusyWorkflow(await refusal(workflowId))).toBe(true);
    await continueAsNew(next, taskQueue);
    await sent;

    const newRun = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const signals = (newRun.events ?? []).flatMap(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? [],
    );
    expect(signals).toEqual(['sentWhileClosing']);
  });
});
