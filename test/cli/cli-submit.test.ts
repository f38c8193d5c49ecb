/** The CLI against a real dev server: bad input is refused before anything starts. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { devServerEnv } from '../../dev/temporal';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BUNDLE, runCli } from '../helpers/cli';

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

function ndjson(lines: unknown[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rq-cli-')), 'jobs.ndjson');
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
  return file;
}

test('submit --file with a bad line names each bad line and its field, and submits nothing', async () => {
  const before = await workflowCount();
  const file = ndjson([
    { jobType: 'doubt', payload: { q: 1 } },
    'not json',
    { jobType: 'doubt', priority: 'urgent', payload: {} },
    '',
    { jobType: 'doubt', payload: { q: 2 } },
  ]);
  const result = await runCli(['submit', '--file', file], { TEMPORAL_ADDRESS: address });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/2 bad line\(s\), nothing submitted/);
  expect(result.stderr).toMatch(/line 2: not valid JSON/);
  expect(result.stderr).toMatch(/line 3: priority:/);
  expect(await workflowCount()).toBe(before);
});

test('submit --file submits every line in one process, with a summary; a rerun starts nothing new', async () => {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  const file = ndjson([
    { id: ids[0], jobType: 'doubt', priority: 'high', payload: { q: 'a' } },
    { id: ids[1], jobType: 'concept_explainer', payload: { q: 'b' } },
    { id: ids[2], jobType: 'poem', renderer: 'revideo', payload: { q: 'c' } },
  ]);
  const first = await runCli(['submit', '--file', file, '--json'], { TEMPORAL_ADDRESS: address });
  expect(first.code).toBe(0);
  const summary = JSON.parse(first.stdout) as {
    submitted: number;
    jobs: Array<{ line: number; jobId: string }>;
  };
  expect(summary).toMatchObject({ submitted: 3, alreadySubmitted: 0, failed: 0 });
  expect(summary.jobs.map((j) => [j.line, j.jobId])).toEqual(ids.map((id, i) => [i + 1, id]));
  const queues = await Promise.all(
    ids.map(async (id) => (await env.client.workflow.getHandle(`render-job-${id}`).describe()).taskQueue),
  );
  expect(queues).toEqual(['render-jobs-high', 'render-jobs-medium', 'render-jobs-medium']);
  const again = await runCli(['submit', '--file', file], { TEMPORAL_ADDRESS: address });
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/submitted 0, already submitted 3, failed 0 \(of 3 jobs\)/);
});

describe('the bundled CLI (dist/cli.js, the package bin)', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'build-cli.mjs')], {
      stdio: 'ignore',
    });
  }, 60_000);

  test('prints the help, and a submit starts the job the way the sources do', async () => {
    const help = await runCli(['--help'], {}, 30_000, { bundled: true });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/submit --file/);
    const jobId = randomUUID();
    const submit = await runCli(
      ['submit', '--type', 'doubt', '--id', jobId, '--payload', '{"q":"bundled"}'],
      { TEMPORAL_ADDRESS: address },
      30_000,
      { bundled: true },
    );
    expect(submit).toMatchObject({ code: 0, stdout: `${jobId}\n` });
    await expect(env.client.workflow.getHandle(`render-job-${jobId}`).describe()).resolves.toBeTruthy();
    expect(CLI_BUNDLE).toMatch(/dist\/cli\.js$/);
  });

  test('the help is answered by the launcher alone: no bundle is read for it', async () => {
    const alone = mkdtempSync(join(tmpdir(), 'rq-cli-launcher-'));
    const launcher = join(alone, 'cli.js');
    copyFileSync(CLI_BUNDLE, launcher);
    const run = (args: string[]) => {
      try {
        return { code: 0, stdout: execFileSync(process.execPath, [launcher, ...args], { encoding: 'utf8' }) };
      } catch (err) {
        const { status, stdout } = err as { status: number; stdout: string };
        return { code: status, stdout };
      }
    };
    for (const args of [['--help'], ['-h'], ['help']])
      expect(run(args)).toMatchObject({ code: 0, stdout: expect.stringMatching(/submit --file/) });
    // No command is bad input, as from the sources: the help, exit 2.
    expect(run([])).toMatchObject({ code: 2, stdout: expect.stringMatching(/submit --file/) });
    // Every command needs the bundle, which is not there.
    expect(run(['status', randomUUID()]).code).not.toBe(0);
  });

  test("each command's compiled code is cached; a damaged entry, or one others could write, is replaced", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'rq-cli-cache-'));
    const cacheEnv = { TEMPORAL_ADDRESS: address, RENDER_QUEUE_CLI_CACHE_DIR: cacheDir };
    const entries = () => readdirSync(cacheDir).sort();
    expect((await runCli(['--help'], cacheEnv, 30_000, { bundled: true })).code).toBe(0);
    // The help compiles nothing: the launcher prints it.
    expect(entries()).toEqual([]);
    expect((await runCli(['status', '--help'], cacheEnv, 30_000, { bundled: true })).code).toBe(0);
    expect(entries()).toEqual([expect.stringMatching(/^status-\d+-\d+-v[\d.]+\.v8$/)]);
    const submitArgs = (id: string) => [
      'submit',
      '--type',
      'doubt',
      '--id',
      id,
      '--payload',
      '{"q":"cached"}',
    ];
    expect(await runCli(submitArgs(randomUUID()), cacheEnv, 30_000, { bundled: true })).toMatchObject({
      code: 0,
    });
    expect(entries()).toEqual([expect.stringMatching(/^status-/), expect.stringMatching(/^submit-/)]);

    // Garbage where V8's data should be: V8 rejects it, the command runs as usual and rewrites it.
    const submitEntry = join(cacheDir, entries()[1]!);
    writeFileSync(submitEntry, Buffer.alloc(4096, 7));
    const jobId = randomUUID();
    const again = await runCli(submitArgs(jobId), cacheEnv, 30_000, { bundled: true });
    expect(again).toMatchObject({ code: 0, stdout: `${jobId}\n` });
    expect(readFileSync(submitEntry).equals(Buffer.alloc(4096, 7))).toBe(false);
    expect(entries()).toHaveLength(2);

    // An entry others could have written is not read: it is replaced by one only its owner can.
    chmodSync(submitEntry, 0o666);
    expect(await runCli(submitArgs(randomUUID()), cacheEnv, 30_000, { bundled: true })).toMatchObject({
      code: 0,
    });
    expect(statSync(submitEntry).mode & 0o777).toBe(0o600);
  });

  test('bad input exits 2 naming the field, from the bundle too', async () => {
    const result = await runCli(
      ['submit', '--type', 'doubt', '--payload', '[1]'],
      { TEMPORAL_ADDRESS: address },
      30_000,
      {
        bundled: true,
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/payload/);
  });
});
