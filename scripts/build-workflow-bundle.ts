/**
 * `npm run build:bundle [out]`: bundles the workflow code once, at build time, so a production
 * worker loads it from WORKFLOW_BUNDLE_PATH instead of running webpack at every start.
 * Default output: dist/workflow-bundle.js (relative to the working directory).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

export const DEFAULT_BUNDLE_PATH = path.join('dist', 'workflow-bundle.js');

function logLine(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

export async function buildWorkflowBundle(
  outPath: string = DEFAULT_BUNDLE_PATH,
): Promise<{ path: string; bytes: number }> {
  const target = path.resolve(outPath);
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    // Webpack's progress chatter is noise in a build log; its warnings are not.
    logger: {
      trace() {},
      debug() {},
      info() {},
      log() {},
      warn: (msg, meta) => logLine('warn', msg, meta),
      error: (msg, meta) => logLine('error', msg, meta),
    },
  });
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, code);
  return { path: target, bytes: Buffer.byteLength(code) };
}

if (require.main === module) {
  buildWorkflowBundle(process.argv[2]).then(
    (result) => logLine('info', 'workflow bundle written', result),
    (error: unknown) => {
      logLine('error', 'workflow bundle failed', {
        error: error instanceof Error ? error.message : String(error),
      });
      process.exitCode = 1;
    },
  );
}
