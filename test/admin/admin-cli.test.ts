/**
 * `render-queue admin` as a person runs it: refusals before any connection (exposure without a
 * token, bad flags, a weak token), then a real start against a dev server, the page refusing
 * a request without the token, and a clean stop on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runCli } from '../helpers/cli';
import { devServerEnv, eventually } from '../../dev/temporal';

const ROOT = join(__dirname, '..', '..');
/** Nothing listens here: a refusal that tried to connect would say "cannot reach Temporal". */
const NOWHERE = { TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: '', SUPABASE_URL: '' };

test.each([
  ['a non-loopback host without ADMIN_TOKEN', ['--host', '0.0.0.0'], {}, /ADMIN_TOKEN must be set/],
  ['a port that is not a number', ['--port', 'http'], {}, /--port: expected a whole number/],
  ['an unknown flag', ['--bind', '0.0.0.0'], {}, /bind/],
  ['a short ADMIN_TOKEN', [], { ADMIN_TOKEN: 'secret' }, /ADMIN_TOKEN must be at least 16 characters/],
  ['a TEMPORAL_UI_URL that is not http(s)', [], { TEMPORAL_UI_URL: 'ftp://ui' }, /TEMPORAL_UI_URL/],
])('admin with %s exits 2 naming it, before connecting to anything', async (_what, args, env, message) => {
  const result = await runCli(['admin', ...args], { ...NOWHERE, ADMIN_TOKEN: '', ...env });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/cannot reach/);
  expect(result.stderr).not.toContain('secret');
});

describe('with a dev server', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await devServerEnv();
  });

  afterAll(async () => {
    await env?.teardown();
  });

  test('serves on a free port, refuses a request without the token, and stops cleanly on SIGTERM', async () => {
    const token = `cli-test-token-${randomUUID()}`;
    const child = spawn(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [join(ROOT, 'src', 'cli.ts'), 'admin', '--port', '0', '--json'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: env.address,
          DATABASE_URL: '',
          SUPABASE_URL: '',
          ADMIN_TOKEN: token,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const { url } = await eventually(
        'the admin page to listen',
        () => (stdout.includes('\n') ? (JSON.parse(stdout.split('\n')[0]!) as { url: string }) : undefined),
        60_000,
      );
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect((await fetch(url)).status).toBe(401);
      const page = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(page.status).toBe(200);
      // No database configured: the page says what it cannot show; admission is not running.
      const html = await page.text();
      expect(html).toContain('No database configured');
      expect(html).toContain('Admission is not answering');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).not.toContain(token);
  });
});
