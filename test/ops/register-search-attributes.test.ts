/**
 * deploy/register-search-attributes.sh (run by the compose admin-tools service) registers every
 * search attribute the workflows set, as Keyword, and is safe to run twice. Runs the script with
 * the pinned Temporal CLI against a real dev server started without any custom attributes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { TEMPORAL_CLI_PATH, devServerExtraArgs } from '../../dev/server/tool-paths';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared/search-attributes';
import { retryStopsAtClose } from '../../src/util/retry-stops-at-close';

/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;
const SCRIPT = join(__dirname, '..', '..', 'deploy', 'register-search-attributes.sh');
const hasCli = existsSync(TEMPORAL_CLI_PATH);
const onCi = process.env.CI === 'true' || process.env.CI === '1';
if (!hasCli && !onCi) {
  process.stderr.write(
    `${JSON.stringify({ level: 'warn', msg: 'pinned Temporal CLI missing (.tools/bin/temporal): search-attribute script test skipped' })}\n`,
  );
}
const cliTest = hasCli || onCi ? test : test.skip;

describe('register-search-attributes.sh', () => {
  let env: TestWorkflowEnvironment | undefined;

  beforeAll(() => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // Installed already by another test in this process.
    }
  });
  afterAll(async () => {
    await env?.teardown();
  });

  function runScript(address: string): {
    status: number | null;
    lines: Record<string, unknown>[];
    stderr: string;
  } {
    const result = spawnSync('sh', [SCRIPT], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: `${dirname(TEMPORAL_CLI_PATH)}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME ?? '/tmp',
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: 'default',
        WAIT_SECONDS: '20',
      },
    });
    const lines = result.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    return { status: result.status, lines, stderr: result.stderr };
  }

  cliTest(
    'registers every workflow search attribute as Keyword, and a second run changes nothing',
    async () => {
      env = await TestWorkflowEnvironment.createLocal({
        plugins: [retryStopsAtClose()],
        server: {
          executable: { type: 'existing-path', path: TEMPORAL_CLI_PATH },
          extraArgs: devServerExtraArgs(),
        },
      });
      const list = async () =>
        (await env!.connection.operatorService.listSearchAttributes({ namespace: 'default' }))
          .customAttributes ?? {};
      for (const key of SEARCH_ATTRIBUTE_KEYS) expect(await list()).not.toHaveProperty(key.name);

      const first = runScript(env.address);
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      const attributes = await list();
      for (const key of SEARCH_ATTRIBUTE_KEYS) {
        expect([key.name, attributes[key.name]]).toEqual([key.name, KEYWORD]);
      }

      const second = runScript(env.address);
      expect(second.status).toBe(0);
      expect(second.lines.map((l) => l.msg)).toEqual(
        SEARCH_ATTRIBUTE_KEYS.map((k) => `search attribute ${k.name} already registered`),
      );
    },
  );

  cliTest('fails with a clear message when the namespace never appears', async () => {
    const result = spawnSync('sh', [SCRIPT], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: `${dirname(TEMPORAL_CLI_PATH)}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME ?? '/tmp',
        TEMPORAL_ADDRESS: '127.0.0.1:1',
        WAIT_SECONDS: '2',
      },
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('"msg":"namespace not found after 2s"');
  });
});
