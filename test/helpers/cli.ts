/** Runs the real `render-queue` CLI as a child process, the way a person or a script does. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The bundled CLI, as installed (`bin`): built by `node scripts/build-cli.mjs` (npm test's set-up runs it). */
export const CLI_BUNDLE = join(ROOT, 'dist', 'cli.js');

export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  { bundled = false }: { bundled?: boolean } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      bundled ? process.execPath : TSX,
      [bundled ? CLI_BUNDLE : join(ROOT, 'src', 'cli.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'WARN', ...env }, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
