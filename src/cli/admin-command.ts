/** `render-queue admin`: serves the admin page until SIGINT or SIGTERM. */
import { startAdminServer } from '../admin/server';
import { assertSafeBind } from '../admin/auth';
import { loadEnv } from '../config/env';
import { JsonLogger } from '../observability/logger';
import type { CommandContext } from './context';
import { EXIT } from './io';
import { intFlag, parseFlags, stringFlag } from './parse';

function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function adminCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseFlags(ctx.args, { port: { type: 'string' }, host: { type: 'string' } });
  const port = intFlag(values, 'port', 0, 65535) ?? 8090;
  const host = stringFlag(values, 'host') ?? '127.0.0.1';
  const env = loadEnv();
  // Before any connection: a misconfigured exposure stops here, naming ADMIN_TOKEN.
  assertSafeBind(host, env.ADMIN_TOKEN);
  const logger = new JsonLogger(env.LOG_LEVEL);
  const client = await ctx.client();
  const store = ctx.hasStore() ? await ctx.store() : undefined;
  if (!store) {
    logger.warn(
      'no DATABASE_URL or SUPABASE_URL: the admin page shows admission only (no job details, failures or counts)',
    );
  }
  const server = await startAdminServer({
    host,
    port,
    token: env.ADMIN_TOKEN,
    client,
    store,
    namespace: env.TEMPORAL_NAMESPACE,
    temporalUiUrl: env.TEMPORAL_UI_URL,
    logger,
  });
  ctx.out.print(`admin page on ${server.url} (Ctrl-C stops it)`, { url: server.url, port: server.port });
  await untilStopped();
  await server.close();
  return EXIT.ok;
}
