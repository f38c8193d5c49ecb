/**
 * Determinism. Every workflow type has recorded histories, and they replay against today's code;
 * and the replay check really guards changes: a copy of the workflow code that issues one more
 * command fails replay with a DeterminismViolationError, while the same change behind patched()
 * replays cleanly. (Histories of renderJob are replayed in test/replay; intake's are here.)
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleOption } from '@temporalio/worker';
import * as workflows from '../../src/workflows';
import { PROJECT_ROOT } from '../../dev/server/tool-paths';
import { workflowBundle } from '../../src/worker/create-workers';
import { quietRuntime } from '../../dev/temporal';

const RENDER_DIR = join(PROJECT_ROOT, 'test', 'fixtures', 'histories');
const INTAKE_DIR = join(__dirname, 'fixtures', 'histories');

type History = {
  events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
};

function load(dir: string): Array<{ file: string; history: History }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((file) => ({ file, history: JSON.parse(readFileSync(join(dir, file), 'utf8')) as History }));
}

const renderHistories = load(RENDER_DIR);
const intakeHistories = load(INTAKE_DIR);

const typeOf = (history: History) =>
  history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;

let workDir: string;

beforeAll(() => {
  quietRuntime();
  workDir = mkdtempSync(join(tmpdir(), 'rq-determinism-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

test('every workflow type the workers register has recorded histories', () => {
  const recorded = new Set([...renderHistories, ...intakeHistories].map(({ history }) => typeOf(history)));
  expect([...recorded].sort()).toEqual(Object.keys(workflows).sort());
});

test('the intake histories cover its significant paths', () => {
  expect(intakeHistories.map((h) => h.file.replace(/\.json$/, '')).sort()).toEqual([
    'intake-failed',
    'intake-nothing-to-do',
    'intake-retried-then-started',
    'intake-several-batches',
    'intake-started-and-rejected',
    'intake-sweep',
  ]);
});

test.each(intakeHistories.map((h) => [h.file, h.history] as const))(
  '%s replays against today’s workflow code',
  async (file, history) => {
    // Today's code, bundled once by the workers' own bundler.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
  },
);

/**
 * Bundles a copy of src/ with `edit` applied to its workflow files: the way a developer's change
 * would reach production. The copy links the project's node_modules so it bundles like the original.
 */
async function bundleEdited(
  name: string,
  edit: Record<string, (source: string) => string>,
): Promise<WorkflowBundleOption> {
  const root = join(workDir, name);
  cpSync(join(PROJECT_ROOT, 'src'), join(root, 'src'), { recursive: true });
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  for (const [file, change] of Object.entries(edit)) {
    const path = join(root, 'src', 'workflows', file);
    const before = readFileSync(path, 'utf8');
    const after = change(before);
    if (after === before) throw new Error(`the edit of ${file} found nothing to change: update this test`);
    writeFileSync(path, IMPORTS + after);
  }
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(root, 'src', 'workflows', 'index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  return { code };
}

const IMPORTS = `import { patched as reliabilityPatched, sleep as reliabilitySleep } from '@temporalio/workflow';\n`;

/** One extra command (a timer) before the first activity of each workflow, guarded or not. */
function extraTimer(guarded: boolean): Record<string, (source: string) => string> {
  const timer = guarded
    ? `if (reliabilityPatched('reliability-extra-timer')) await reliabilitySleep(1000);`
    : `await reliabilitySleep(1000);`;
  return {
    'render-job.ts': (s) =>
      s.replace(
        '    const entered = await admissionCalls().enterQueue(',
        `    ${timer}\n    const entered = await admissionCalls().enterQueue(`,
      ),
    'admission.ts': (s) =>
      s.replace(
        '  if (recovering) loops.push(recover());',
        `  ${timer}\n  if (recovering) loops.push(recover());`,
      ),
    'intake.ts': (s) =>
      s.replace(
        'const batch = await intakeBatch(batchSize);',
        `${timer} const batch = await intakeBatch(batchSize);`,
      ),
  };
}

const samples = [
  ...renderHistories.filter((h) =>
    ['render-job-success.json', 'admission-grants-across-continue-as-new.json'].includes(h.file),
  ),
  ...intakeHistories.filter((h) => h.file === 'intake-started-and-rejected.json'),
];

describe('a workflow change that adds a command', () => {
  let unguarded: WorkflowBundleOption;
  let guarded: WorkflowBundleOption;

  beforeAll(async () => {
    unguarded = await bundleEdited('unguarded', extraTimer(false));
    guarded = await bundleEdited('guarded', extraTimer(true));
  }, 120_000);

  test('there is one sample history per workflow type', () => {
    expect(samples.map((s) => typeOf(s.history)).sort()).toEqual([
      'intakeJobs',
      'renderAdmission',
      'renderJob',
    ]);
  });

  test.each(samples.map((s) => [s.file, s.history] as const))(
    'without patched() fails replay of %s with a DeterminismViolationError',
    async (file, history) => {
      await expect(
        Worker.runReplayHistory({ workflowBundle: unguarded }, history, file),
      ).rejects.toMatchObject({
        name: 'DeterminismViolationError',
      });
    },
  );

  test.each(samples.map((s) => [s.file, s.history] as const))(
    'behind patched() replays %s cleanly',
    async (file, history) => {
      await Worker.runReplayHistory({ workflowBundle: guarded }, history, file);
    },
  );
});
