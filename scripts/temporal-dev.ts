/**
 * `npm run temporal`: the pinned Temporal dev server for humans, with the Web UI, persisted to
 * .data/temporal.db, with task-queue priority on and one partition per task queue.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { devServerArgs } from '../dev/server/dev-server';
import { DATA_DIR, TEMPORAL_CLI_PATH } from '../dev/server/tool-paths';

const port = Number(process.env.TEMPORAL_PORT ?? 7233);
const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? port + 1000);

if (!existsSync(TEMPORAL_CLI_PATH)) {
  process.stderr.write('Temporal CLI not installed: run `npm run setup` first\n');
  process.exit(1);
}
mkdirSync(DATA_DIR, { recursive: true });
const args = devServerArgs({ port, uiPort, dbFile: join(DATA_DIR, 'temporal.db'), logLevel: 'warn' });
process.stderr.write(`Temporal dev server on 127.0.0.1:${port}, Web UI http://127.0.0.1:${uiPort}\n`);
const child = spawn(TEMPORAL_CLI_PATH, args, { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
