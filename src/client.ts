#!/usr/bin/env node
/** `render-queue` CLI entry point. */
import type { Client } from '@temporalio/client';
import { loadEnv } from './config/env';
import { connectClient } from './client/connect';
import { COMMANDS, USAGE } from './cli/commands';
import { EXIT, classifyError, output } from './cli/io';

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const json = args.includes('--json');
  const out = output(json);
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? EXIT.ok : EXIT.badInput;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
    return EXIT.badInput;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  let connection: { close(): Promise<void> } | undefined;
  try {
    const clientFactory = async (): Promise<Client> => {
      const env = loadEnv();
      const connected = await connectClient(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE);
      connection = connected.connection;
      return connected.client;
    };
    return await run({ args, out, client: clientFactory });
  } catch (err) {
    const { code, message } = classifyError(err);
    if (json) process.stdout.write(`${JSON.stringify({ error: message, exitCode: code })}\n`);
    process.stderr.write(`render-queue ${command}: ${message}\n`);
    return code;
  } finally {
    await connection?.close();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
