/**
 * The prebuilt workflow bundle (what the image ships as WORKFLOW_BUNDLE_PATH) is complete: the
 * build script writes it where asked, it evaluates in a sandbox-like context and exports every
 * workflow, and recorded histories replay against it loaded by path.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { WORKFLOW_TYPE } from '../../src/shared/constants';
import * as workflows from '../../src/workflows';

const ROOT = join(__dirname, '..', '..');
const HISTORIES = join(ROOT, 'test', 'fixtures', 'histories');
const fixtures = existsSync(HISTORIES) ? readdirSync(HISTORIES).filter((f) => f.endsWith('.json')) : [];

/** What the SDK's workflow sandbox sees when it evaluates the bundle (as its vm.js sets it up). */
function workflowsExportedBy(code: string): string[] {
  const context = createContext({ __webpack_module_cache__: {} });
  runInContext(code, context, { filename: 'workflow-bundle.js' });
  const api = (context as { __TEMPORAL__?: { importWorkflows(): Record<string, unknown> } }).__TEMPORAL__;
  const loaded = api?.importWorkflows() ?? {};
  return Object.keys(loaded).filter((name) => typeof loaded[name] === 'function');
}

describe('workflow bundle', () => {
  let dir: string;
  let codePath: string;

  beforeAll(() => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // Installed already by another test in this process.
    }
    dir = mkdtempSync(join(tmpdir(), 'rq-bundle-'));
    codePath = join(dir, 'nested', 'workflow-bundle.js');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('npm run build:bundle <path> writes a bundle holding renderJob to that path', () => {
    const result = spawnSync(
      process.execPath,
      [require.resolve('tsx/cli'), join(ROOT, 'scripts', 'build-workflow-bundle.ts'), codePath],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(result.status).toBe(0);
    expect(existsSync(codePath)).toBe(true);
    expect(statSync(codePath).size).toBeGreaterThan(10_000);
    expect(readFileSync(codePath, 'utf8')).toContain('renderJob');
    // The build log is JSON lines naming the file.
    const lines = result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'workflow bundle written', path: codePath }));
  });

  test('the bundle evaluates and exports every workflow of src/workflows, renderJob included', () => {
    const exported = workflowsExportedBy(readFileSync(codePath, 'utf8'));
    expect(exported).toContain(WORKFLOW_TYPE.renderJob);
    expect(exported.sort()).toEqual(Object.keys(workflows).sort());
  });

  const withFixtures = fixtures.length
    ? test.each(fixtures)
    : test.skip.each(['(no recorded histories yet)']);
  withFixtures('recorded history %s replays against the bundle', async (file) => {
    const history: unknown = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: { codePath } }, history, file);
  });
});
