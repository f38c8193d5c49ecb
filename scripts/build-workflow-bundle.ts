/**
 * `npm run build:bundle [out]`: bundles the workflow code once, at build time, so a production
 * worker loads it from WORKFLOW_BUNDLE_PATH instead of running webpack at every start.
 * Default output: dist/workflow-bundle.js (relative to the working directory).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { JsonLogger } from '../src/observability/logger';
import { errorMessage } from '../src/shared/error-message';

export const DEFAULT_BUNDLE_PATH = path.join('dist', 'workflow-bundle.js');

const logger = new JsonLogger();

export async function buildWorkflowBundle(
  outPath: string = DEFAULT_BUNDLE_PATH,
): Promise<{ path: string; bytes: number }> {
  const target = path.resolve(outPath);
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    // Webpack's progress chatter is noise in a build log; its warnings are not.
    logger: new JsonLogger('WARN'),
  });
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, code);
  return { path: target, bytes: Buffer.byteLength(code) };
}

if (require.main === module) {
  buildWorkflowBundle(process.argv[2]).then(
    (result) => logger.info('workflow bundle written', result),
    (error: unknown) => {
      logger.error('workflow bundle failed', { error: errorMessage(error) });
      process.exitCode = 1;
    },
  );
}
