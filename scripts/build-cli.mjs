#!/usr/bin/env node
// Bundles the `render-queue` CLI into dist/cli-main.js (esbuild): one file to read instead of
// hundreds of modules to resolve, so a command starts in a fraction of the time; the bin,
// dist/cli.js, is the small launcher that runs it through V8's code cache (src/cli/launch.ts).
// Rebuilt only when a source file is newer than the bundle. `node scripts/build-cli.mjs [--force]`
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_BUNDLE = join(root, 'dist', 'cli-main.js');
export const CLI_LAUNCHER = join(root, 'dist', 'cli.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export async function buildCli({ force = false } = {}) {
  if (!force && existsSync(CLI_BUNDLE) && existsSync(CLI_LAUNCHER)) {
    const sources = Math.max(
      newestSource(join(root, 'src')),
      statSync(join(root, 'package-lock.json')).mtimeMs,
    );
    if (Math.min(statSync(CLI_BUNDLE).mtimeMs, statSync(CLI_LAUNCHER).mtimeMs) >= sources) return false;
  }
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(root, 'src', 'cli.ts')],
    outfile: CLI_BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Left to node_modules, and never loaded by a CLI command: the embedded database (only a
    // worker opens it), the optional native pg binding and the worker SDK (Rust core, bundler).
    external: ['@electric-sql/pglite', 'pg-native', '@temporalio/worker', '@temporalio/core-bridge'],
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(root, 'src', 'cli', 'launch.ts')],
    outfile: CLI_LAUNCHER,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    logLevel: 'warning',
  });
  chmodSync(CLI_LAUNCHER, 0o755);
  if (process.env.CLI_BUNDLE_REPORT) {
    const { analyzeMetafile } = await import('esbuild');
    console.error(await analyzeMetafile(result.metafile));
  }
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = await buildCli({ force: process.argv.includes('--force') });
  console.error(
    built ? `[build-cli] wrote ${CLI_LAUNCHER} and ${CLI_BUNDLE}` : '[build-cli] dist/cli.js is up to date',
  );
}
