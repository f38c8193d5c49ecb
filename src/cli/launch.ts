/**
 * The `render-queue` bin (dist/cli.js): runs the CLI bundle (dist/cli-main.js) through V8's code
 * cache. Compiling the ~4 MB bundle and the functions a command calls is about a quarter of a
 * submit's time; the first run of each command stores V8's compiled code, later runs skip that.
 * The cache is keyed by the bundle's size and mtime and by Node's version (V8 itself checks little
 * more than the source's length), and written only by its owner in a directory only it can use.
 * Anything wrong with the cache falls back to compiling as usual; it never changes what runs.
 */
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { USAGE, helpExitCode } from './usage';

const BUNDLE = path.join(__dirname, 'cli-main.js');

function cacheDirectory(): string | undefined {
  const uid = process.getuid?.() ?? 0;
  const dir = process.env.RENDER_QUEUE_CLI_CACHE_DIR ?? path.join(os.tmpdir(), `render-queue-cli-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    // Someone else's directory could hold code we would run: use none then.
    if (process.getuid && stat.uid !== uid) return undefined;
    if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    return dir;
  } catch {
    return undefined;
  }
}

function readCache(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    const entry = statSync(file);
    // Only an entry this user wrote, that nobody else could have changed since, is run.
    if (process.getuid && entry.uid !== process.getuid()) return undefined;
    if ((entry.mode & 0o022) !== 0) return undefined;
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(dir: string, file: string, data: Buffer, keep: string): void {
  try {
    // Entries of older bundles or Node versions are never read again.
    for (const name of readdirSync(dir))
      if (!name.includes(keep)) rmSync(path.join(dir, name), { force: true });
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, data, { mode: 0o600 });
    // A rename is atomic: a run in parallel reads the old entry or the whole new one.
    renameSync(partial, file);
  } catch {
    // A cache that cannot be written costs the next run its compile time, nothing more.
  }
}

function launch(): void {
  // The help is a string: printed from here, it costs neither reading nor compiling the bundle.
  const helpCode = helpExitCode(process.argv.slice(2));
  if (helpCode !== undefined) {
    process.stdout.write(`${USAGE}\n`);
    process.exitCode = helpCode;
    return;
  }
  const source = readFileSync(BUNDLE, 'utf8');
  const bundle = statSync(BUNDLE);
  const command = /^[a-z][a-z-]{0,30}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
  const keep = `-${bundle.size}-${Math.floor(bundle.mtimeMs)}-${process.version}.v8`;
  // Older Node 20 releases cannot give a compiled script the usual dynamic import(); no cache
  // there (the one dynamic import in the bundle, the worker SDK, is never reached by a command).
  const dynamicImport = (vm.constants as Partial<typeof vm.constants> | undefined)
    ?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  const dir = dynamicImport === undefined ? undefined : cacheDirectory();
  const file = dir ? path.join(dir, `${command}${keep}`) : undefined;
  const cachedData = readCache(file);
  // The bundle's shebang line is not JavaScript; a comment keeps line numbers.
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${body}\n})`, {
    filename: BUNDLE,
    ...(cachedData ? { cachedData } : {}),
    ...(dynamicImport === undefined ? {} : { importModuleDynamically: dynamicImport }),
  });
  if (dir && file && (!cachedData || script.cachedDataRejected)) {
    // After the command ran, the cache holds the functions it compiled on the way, too.
    process.once('exit', () => writeCache(dir, file, script.createCachedData(), keep));
  }
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  // `module` is this launcher's, the main module: the bundle sees itself run as the program.
  run.call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, __dirname);
}

launch();
