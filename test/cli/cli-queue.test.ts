/**
 * The queue commands against a real dev server and real PostgreSQL: list by search attributes,
 * stats, capacity, watch, retry, status and cancel, in text and --json.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { submitJob } from '../../src/jobs/submit';
import { runCli } from '../helpers/cli';
import { startStack } from '../../dev/stack';
import type { Stack } from '../../dev/stack';
import { devServerEnv, eventually } from '../../dev/temporal';

let env: TestWorkflowEnvironment;
let stack: Stack;
let cliEnv: Record<string, string>;
const ids = { done: [] as string[], failedManim: '', failedRevideo: '' };

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, { simulator: { defaultDurationMs: 200 } });
  cliEnv = { TEMPORAL_ADDRESS: env.address, DATABASE_URL: stack.dbUrl ?? '' };
  const submit = async (jobType: string, priority: string, simulate: Record<string, unknown> = {}) =>
    (await submitJob(env.client, { jobType, priority, payload: { q: 'cli', simulate } })).jobId;
  ids.done.push(await submit('doubt', 'high'), await submit('concept_explainer', 'low'));
  ids.failedManim = await submit('doubt', 'medium', { outcome: 'reject' });
  ids.failedRevideo = await submit('concept_explainer', 'medium', { outcome: 'reject' });
  for (const id of [...ids.done, ids.failedManim, ids.failedRevideo]) {
    await env.client.workflow
      .getHandle(`render-job-${id}`)
      .result()
      .catch(() => undefined);
  }
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

const json = (stdout: string) => JSON.parse(stdout);

const temporalOnly = () => ({ TEMPORAL_ADDRESS: env.address, DATABASE_URL: '', SUPABASE_URL: '' });

test('search attributes find exactly the failed Manim job (Web UI query, and list without a database)', async () => {
  const query = `WorkflowType = 'renderJob' AND RenderStatus = 'failed' AND Renderer = 'manim'`;
  const found = await eventually('visibility to catch up', async () => {
    const ids: string[] = [];
    for await (const info of env.client.workflow.list({ query })) ids.push(info.workflowId);
    return ids.length === 1 ? ids : undefined;
  });
  expect(found).toEqual([`render-job-${ids.failedManim}`]);

  const result = await runCli(
    ['list', '--status', 'failed', '--renderer', 'manim', '--json'],
    temporalOnly(),
  );
  expect(result.code).toBe(0);
  expect(json(result.stdout)).toMatchObject({
    source: 'temporal',
    jobs: [
      { jobId: ids.failedManim, status: 'failed', renderer: 'manim', priority: 'medium', jobType: 'doubt' },
    ],
  });
});

test.each([
  ['the read model', () => cliEnv],
  ['Temporal visibility', temporalOnly],
])('list from %s is newest first and paginates with --limit and --before', async (source, envFor) => {
  if (source === 'the read model' && !stack.dbUrl) return; // an in-memory PGlite can't be shared
  const newestFirst = [ids.failedRevideo, ids.failedManim, ...ids.done.slice().reverse()];
  const all = json((await runCli(['list', '--json'], envFor())).stdout).jobs;
  expect(all.map((j: { jobId: string }) => j.jobId)).toEqual(newestFirst);
  const first = json((await runCli(['list', '--limit', '2', '--json'], envFor())).stdout);
  expect(first.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(newestFirst.slice(0, 2));
  const second = json(
    (await runCli(['list', '--limit', '2', '--before', first.next, '--json'], envFor())).stdout,
  );
  expect(second.jobs.map((j: { jobId: string }) => j.jobId)).toEqual(newestFirst.slice(2));
});

test('list with an unknown status exits 2 naming the flag', async () => {
  const result = await runCli(['list', '--status', 'done'], cliEnv);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(
    /--status: expected one of queued, processing, retrying, completed, failed, cancelled/,
  );
});

test('stats --json reports the counts the database holds', async () => {
  if (!stack.dbUrl) return; // stats reads a shared database; PGlite in memory can't be shared
  const result = await runCli(['stats', '--json'], cliEnv);
  expect(result.code).toBe(0);
  const stats = json(result.stdout);
  expect(stats.byStatus).toMatchObject({ completed: 2, failed: 2, queued: 0, processing: 0 });
  expect(stats.caps).toMatchObject({ totalRenders: expect.any(Number), manimRenders: 4 });
});

test('capacity prints the caps in force and renders in flight, and --json has the same facts', async () => {
  if (!stack.dbUrl) return;
  const text = await runCli(['capacity'], cliEnv);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/caps in force\s+(10|15) renders, 4 manim/);
  const data = json((await runCli(['capacity', '--json'], cliEnv)).stdout);
  expect(data.caps).toMatchObject({ manim: 4 });
  expect(data.inFlight).toMatchObject({ manim: 0, revideo: 0, orchestrator: 0, total: 0 });
  expect(text.stdout.split('\n').every((line) => line.length <= 80)).toBe(true);
});

test('watch --once shows the queue in at most 80 columns', async () => {
  if (!stack.dbUrl) return;
  const result = await runCli(['watch', '--once'], cliEnv);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/queued 0\s+rendering 0\/\d+\s+done 2\s+failed 2/);
  expect(result.stdout.split('\n').every((line) => line.length <= 80)).toBe(true);
});

test('stats without a database configured exits 2 naming DATABASE_URL', async () => {
  const result = await runCli(['stats'], {
    TEMPORAL_ADDRESS: env.address,
    DATABASE_URL: '',
    SUPABASE_URL: '',
  });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/DATABASE_URL or SUPABASE_URL must be set/);
});

test('retry starts a failed job again as a new run; a completed job is refused', async () => {
  const retried = await runCli(['retry', ids.failedRevideo, '--json'], cliEnv);
  expect(retried.code).toBe(0);
  expect(json(retried.stdout)).toMatchObject({ outcome: 'restarted', generation: 1, started: true });
  // The simulator rejects it again, so the new run fails too, with a second POST on record.
  await env.client.workflow
    .getHandle(`render-job-${ids.failedRevideo}`)
    .result()
    .catch(() => undefined);
  const posts = stack.sims.revideo.ledger.filter((c) => c.method === 'POST' && c.jobId === ids.failedRevideo);
  expect(posts).toHaveLength(2);

  const refused = await runCli(['retry', ids.done[0]!], cliEnv);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(/is completed; only failed or cancelled jobs can be retried/);
});

test('status --json of a finished job has the video URL; cancel of it says there is nothing to cancel', async () => {
  const status = await runCli(['status', ids.done[0]!, '--json'], cliEnv);
  expect(status.code).toBe(0);
  expect(json(status.stdout)).toMatchObject({
    found: true,
    execution: 'COMPLETED',
    state: { status: 'completed' },
  });
  expect(json(status.stdout).state.result).toMatch(/^https?:\/\//);
  const cancel = await runCli(['cancel', ids.done[0]!], cliEnv);
  expect(cancel.code).toBe(1);
  expect(cancel.stdout).toMatch(/already finished/);
});

test('--help lists every command with examples and exit codes', async () => {
  const result = await runCli(['--help']);
  expect(result.code).toBe(0);
  for (const command of [
    'submit',
    'status',
    'cancel',
    'retry',
    'list',
    'stats',
    'capacity',
    'watch',
    'intake',
  ]) {
    expect(result.stdout).toMatch(new RegExp(`render-queue ${command}`));
  }
  expect(result.stdout).toMatch(/Exit codes: 0 ok, 1 failure/);
});
