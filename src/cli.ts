#!/usr/bin/env node
/** `render-queue` CLI entry point. */
import type { Client } from '@temporalio/client';
import { COMMANDS } from './cli/commands';
import { EXIT_BAD_INPUT, USAGE, helpExitCode } from './cli/usage';
import type { JobStore } from './store/job-store';

// Only the help text and the command table load up front: each command loads its own modules
// (the Temporal client, zod, the database drivers) when it runs, so a submit starts quickly.

export async function main(
  argv: string[],
  write: (text: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const helpCode = helpExitCode(argv);
  if (helpCode !== undefined) {
    write(`${USAGE}\n`);
    return helpCode;
  }
  const [command = '', ...args] = argv;
  const json = args.includes('--json');
  const load = COMMANDS[command];
  if (!load) {
    process.stderr.write(`render-queue: unknown command "${command}"\n\n${USAGE}\n`);
    return EXIT_BAD_INPUT;
  }
  if (args.includes('--help') || args.includes('-h')) {
    write(`${USAGE}\n`);
    return 0;
  }
  const { classifyError, output } = await import('./cli/io');
  const { ConfigError, loadEnv } = await import('./config/env');
  const out = output(json, write);
  const closers: Array<() => Promise<void>> = [];
  try {
    const client = async (): Promise<Client> => {
      const env = loadEnv();
      const { connectClient } = await import('./jobs/connect');
      const connected = await connectClient(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE);
      closers.push(() => connected.connection.close());
      return connected.client;
    };
    const store = async (): Promise<JobStore> => {
      const env = loadEnv();
      if (!env.DATABASE_URL && !env.SUPABASE_URL) {
        // The embedded database belongs to the one process running it (the demo or a worker).
        throw new ConfigError(`DATABASE_URL or SUPABASE_URL must be set for "${command}"`);
      }
      const { openJobStore } = await import('./store/open-store');
      const opened = await openJobStore(env);
      closers.push(() => opened.close());
      return opened.store;
    };
    const hasStore = () => {
      const env = loadEnv();
      return Boolean(env.DATABASE_URL || env.SUPABASE_URL);
    };
    const run = await load();
    return await run({ args, out, client, store, hasStore, isTTY: Boolean(process.stdout.isTTY) });
  } catch (err) {
    const { code, message } = classifyError(err);
    if (json) write(`${JSON.stringify({ error: message, exitCode: code })}\n`);
    process.stderr.write(`render-queue ${command}: ${message}\n`);
    return code;
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
