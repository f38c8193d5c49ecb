/**
 * Every recorded history replays against today's workflow code without nondeterminism. A
 * change to renderJob that alters the commands it issues fails here unless it is guarded
 * by patched() — that is the point of this test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { quietRuntime } from '../helpers/temporal';

const DIR = join(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

beforeAll(() => quietRuntime());

test('there is a recorded history for each significant path', () => {
  expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual(
    expect.arrayContaining([
      'render-job-cancelled',
      'render-job-failed-after-retries',
      'render-job-rejected',
      'render-job-retried-then-completed',
      'render-job-success',
    ]),
  );
});

test.each(files)('%s replays without nondeterminism', async (file) => {
  const history = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../../src/workflows') }, history, file);
});
