/**
 * A client call still open when its Connection closes must not kill the process when the server
 * then goes away (the SDK retries it on a timer against a shut channel). Each case runs in a child
 * process, because the failure it guards against is an uncaught exception.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function runChild(
  mode: 'plain' | 'guarded',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [join(__dirname, 'closed-channel.child.ts'), mode],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('a long poll open when its Connection closes and the server goes away', () => {
  test("with the SDK's default retry, the retry timer throws and the process dies", async () => {
    const run = await runChild('plain');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('Channel has been shut down');
  });

  test('with retryStopsAtClose, the poll fails like any other call and the process carries on', async () => {
    const run = await runChild('guarded');
    expect(run.stderr).not.toContain('Channel has been shut down');
    expect(run.code).toBe(0);
    const line = run.stdout.trim().split('\n').pop() ?? '';
    const outcome = JSON.parse(line) as { ended: string; afterClose: string };
    expect(outcome.ended).toBe('failed');
    expect(outcome.afterClose).not.toBe('answered');
  });
});
