/** The CLI against a real dev server: bad input is refused before anything starts. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { devServerEnv } from '../helpers/temporal';
import { runCli } from '../helpers/cli';

let env: TestWorkflowEnvironment;
let address: string;

beforeAll(async () => {
  env = await devServerEnv();
  address = env.address;
});

afterAll(async () => {
  await env?.teardown();
});

async function workflowCount(): Promise<number> {
  let count = 0;
  for await (const _ of env.client.workflow.list()) count++;
  return count;
}

test.each([
  ['an unknown priority', ['--type', 'doubt', '--priority', 'urgent', '--payload', '{}'], /priority/],
  ['a payload that is not JSON', ['--type', 'doubt', '--payload', '{question:'], /payload: not valid JSON/],
  ['a payload that is an array', ['--type', 'doubt', '--payload', '[1,2]'], /payload/],
  ['a missing type', ['--payload', '{}'], /jobType/],
  ['an unknown job type without a renderer', ['--type', 'poem', '--payload', '{}'], /renderer/],
  ['a malformed job type', ['--type', 'Poem!', '--payload', '{}'], /jobType/],
  ['an id that is not a uuid', ['--type', 'doubt', '--id', '42', '--payload', '{}'], /id/],
  ['an unknown flag', ['--type', 'doubt', '--colour', 'red', '--payload', '{}'], /colour/],
])('submit with %s exits 2 naming the field and starts nothing', async (_what, args, field) => {
  const result = await runCli(['submit', ...args], { TEMPORAL_ADDRESS: address });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(field);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(await workflowCount()).toBe(0);
});

test('a valid submit prints the job id, starts its workflow, and --json gives the same as JSON', async () => {
  const text = await runCli(['submit', '--type', 'doubt', '--payload', '{"question":"What is 2+2?"}'], {
    TEMPORAL_ADDRESS: address,
  });
  expect(text.code).toBe(0);
  const jobId = text.stdout.trim();
  expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
  const description = await env.client.workflow.getHandle(`render-job-${jobId}`).describe();
  expect(description.taskQueue).toBe('render-jobs-medium');

  const json = await runCli(['submit', '--type', 'doubt', '--id', jobId, '--payload', '{}', '--json'], {
    TEMPORAL_ADDRESS: address,
  });
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ jobId, workflowId: `render-job-${jobId}`, started: false });
});

test('an unreachable Temporal server gives one line naming the address and exit 1', async () => {
  const result = await runCli(['status', crypto.randomUUID()], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(result.code).toBe(1);
  expect(result.stderr.trim()).toMatch(/^render-queue status: cannot reach Temporal at 127\.0\.0\.1:1/);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
});

test('a malformed TEMPORAL_ADDRESS stops the CLI with a message naming the variable', async () => {
  const result = await runCli(['status', crypto.randomUUID()], { TEMPORAL_ADDRESS: 'not an address' });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/TEMPORAL_ADDRESS/);
});
