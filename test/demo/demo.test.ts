/** The README's main-job command, run as a person would (no TTY), checked end to end. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('the demo with --jobs 12 brings every job to its expected state, answers on the Web UI and leaves nothing running', async () => {
  const summaryFile = join(mkdtempSync(join(tmpdir(), 'rq-demo-')), 'summary.json');
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [join(ROOT, 'scripts', 'demo.ts'), '--jobs', '12', '--summary-json', summaryFile],
      { cwd: ROOT, timeout: 240_000, env: { ...process.env, DATABASE_URL: '', SUPABASE_URL: '' } },
      (error, out) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: out }),
    );
  });
  expect(code).toBe(0);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
  expect(summary.results).toHaveLength(12);
  for (const result of summary.results) expect(result.status).toBe(result.expected);
  expect(summary.counts).toMatchObject({ completed: 9, failed: 2, cancelled: 1 });
  expect(summary.webUi.answered).toBe(true);
  expect(alive(summary.serverPid)).toBe(false);
  // Plain lines without a TTY: no screen clearing.
  expect(stdout).toMatch(/finished in \d+ s/);
  expect(stdout.includes(`${String.fromCharCode(27)}[2J`)).toBe(false);
}, 300_000);
