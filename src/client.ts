#!/usr/bin/env node
/** `render-queue` CLI entry point. */
import type { Client } from '@temporalio/client';
import { ConfigError, loadEnv } from './config/env';
import { connectClient } from './client/connect';
import { COMMANDS, USAGE } from './cli/commands';
import { EXIT, classifyError, output } from './cli/io';
import type { JobStore } from './store/job-store';
import { openJobStore } from './store/open-store';

export async function main(
  argv: string[],
  write: (text: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const [command, ...args] = argv;
  const json = args.includes('--json');
  const out = output(json, write);
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    write(`${USAGE}\n`);
    return command ? EXIT.ok : EXIT.badInput;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`render-queue: unknown command "${command}"\n\n${USAGE}\n`);
    return EXIT.badInput;
  }
  if (args.includes('--help') || args.includes('-h')) {
    write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const closers: Array<() => Promise<void>> = [];
  try {
    const client = async (): Promise<Client> => {
      const env = loadEnv();
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
      const opened = await openJobStore(env);
      closers.push(() => opened.close());
      return opened.store;
    };
    const hasStore = () => {
      const env = loadEnv();
      return Boolean(env.DATABASE_URL || env.SUPABASE_URL);
    };
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
