import { readFileSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import { devServerEnv } from '../test/helpers/temporal';
const rss = () => Math.round(process.memoryUsage().rss / 1048576);
(async () => {
  const env = await devServerEnv();
  const code = readFileSync(process.env.BUNDLE!, 'utf8');
  console.log('start', rss());
  const conn = await NativeConnection.connect({ address: env.address });
  console.log('conn', rss());
  const workers: Worker[] = [];
  for (let i = 0; i < 4; i++) {
    workers.push(
      await Worker.create({
        connection: conn,
        taskQueue: `q${i}`,
        workflowBundle: { code },
        ...(process.env.CACHE ? { maxCachedWorkflows: Number(process.env.CACHE) } : {}),
      }),
    );
    void workers[workers.length - 1]!.run();
    await new Promise((r) => setTimeout(r, 1500));
    console.log('workflow workers', i + 1, rss());
  }
  for (let i = 0; i < 3; i++) {
    workers.push(
      await Worker.create({ connection: conn, taskQueue: `a${i}`, activities: { a: async () => 1 } }),
    );
    void workers[workers.length - 1]!.run();
    await new Promise((r) => setTimeout(r, 1000));
    console.log('activity workers', i + 1, rss());
  }
  for (const w of workers) w.shutdown();
  await env.teardown();
  process.exit(0);
})();
