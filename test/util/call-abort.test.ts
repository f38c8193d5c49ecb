/**
 * Client calls under one activity-like signal, against a real Temporal server: each call is
 * cancelled when the signal aborts or its scope ends, and none leaves a listener on it (Node's
 * leak warning, and finished calls kept alive, otherwise).
 */
import { getEventListeners } from 'node:events';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { withAbortableCalls } from '../../src/util/call-abort';
import type { AbortableCall } from '../../src/util/call-abort';
import { devServerEnv } from '../../dev/temporal';

let env: TestWorkflowEnvironment;
let client: Client;

beforeAll(async () => {
  env = await devServerEnv();
  client = new Client({ connection: env.connection });
});

afterAll(async () => {
  await env?.teardown();
});

const describeMissing = (id: string): Promise<string> =>
  client.workflow
    .getHandle(`call-abort-${id}`)
    .describe()
    .then(
      () => 'found',
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return 'not found';
        throw err;
      },
    );

/** A long poll the server holds for about a minute: only a cancel ends it early. */
const longPoll = () =>
  client.withDeadline(Date.now() + 90_000, () =>
    client.workflowService.pollWorkflowTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: 'call-abort-nobody-polls' },
    }),
  );

test('thirty-two calls, sixteen at a time, under one signal leave it one listener while they run and none after', async () => {
  const signal = new AbortController().signal;
  await withAbortableCalls(client, signal, async (call) => {
    for (let round = 0; round < 2; round += 1) {
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, i) => call(() => describeMissing(`${round}-${i}`))),
      );
      expect(outcomes).toEqual(Array(16).fill('not found'));
      expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    }
  });
  expect(getEventListeners(signal, 'abort')).toHaveLength(0);
});

test('a call still in flight when its scope ends is cancelled, and the scope makes no new call', async () => {
  let straggler: Promise<unknown> | undefined;
  let late: AbortableCall | undefined;
  await expect(
    withAbortableCalls(client, new AbortController().signal, async (call) => {
      straggler = call(longPoll);
      late = call;
      throw new Error('the batch failed');
    }),
  ).rejects.toThrow('the batch failed');
  await expect(straggler).rejects.toThrow(/cancel/i);
  await expect(late!(() => describeMissing('late'))).rejects.toThrow(/after its scope ended/);
});

test('calls in flight are cancelled when the signal aborts, and a later one is refused without being made', async () => {
  const controller = new AbortController();
  let called = false;
  await withAbortableCalls(client, controller.signal, async (call) => {
    const polls = Promise.allSettled([call(longPoll), call(longPoll)]);
    setTimeout(() => controller.abort(new Error('activity cancelled')), 200);
    for (const outcome of await polls) {
      expect(outcome.status).toBe('rejected');
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/cancel/i);
    }
    await expect(
      call(() => {
        called = true;
        return describeMissing('after');
      }),
    ).rejects.toThrow('activity cancelled');
  });
  expect(called).toBe(false);
  expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
});
