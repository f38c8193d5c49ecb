/**
 * Debian's Chromium for browser tests, driven by playwright-core (which downloads no browser).
 * `node scripts/setup.mjs` installs it (package chromium). Without it the browser tests are
 * skipped with a warning, except under CI, where a missing Chromium fails, naming it.
 */
import { JsonLogger } from '../src/observability/logger';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless, no sandbox (root in a container), and no traffic of its own beyond the page's. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}; CI needs it for the browser tests ` +
        '(node scripts/setup.mjs installs Debian package chromium)',
    );
  }
  new JsonLogger().warn(
    `Chromium not found at ${CHROMIUM_PATH}: browser tests skipped (node scripts/setup.mjs installs it)`,
  );
  return false;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh profile (its own --user-data-dir) per launch, removed on close. */
export async function launchChromium(): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'rq-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    return {
      context,
      async close() {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
}
