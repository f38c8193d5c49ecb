import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RENDERERS } from '../../src/shared/constants';
import { startAllSimulators } from '../../dev/simulator/start-all';

const root = join(__dirname, '..', '..');

describe('startAllSimulators', () => {
  test('starts one healthy simulator per backend on the ports asked for', async () => {
    const all = await startAllSimulators({ ports: { manim: 0, revideo: 0, orchestrator: 0 } });
    try {
      for (const backend of RENDERERS) {
        expect(all.simulators[backend].backend).toBe(backend);
        expect(all.urls[backend]).toBe(all.simulators[backend].url);
        expect(await (await fetch(`${all.urls[backend]}/health`)).json()).toMatchObject({
          status: 'ok',
          backend,
        });
      }
    } finally {
      await all.close();
    }
  });

  test('falls back to a free port when a default port is taken', async () => {
    // The first set takes the default ports (or falls back if another process holds them);
    // the second set then finds every default port taken and must still start.
    const first = await startAllSimulators();
    try {
      const second = await startAllSimulators();
      try {
        for (const backend of RENDERERS) {
          expect(second.simulators[backend].port).not.toBe(first.simulators[backend].port);
          expect((await fetch(`${second.urls[backend]}/health`)).status).toBe(200);
        }
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });
});

describe('simulator process (dev/simulator/main.ts)', () => {
  test('logs each backend URL as a JSON line, serves them, and stops on SIGTERM', async () => {
    const child = spawn(
      join(root, 'node_modules', '.bin', 'tsx'),
      ['dev/simulator/main.ts', '--duration-ms=50'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const lines = createInterface({ input: child.stdout });
      let ready: { urls: Record<string, string> } | undefined;
      const listening: string[] = [];
      for await (const line of lines) {
        const entry = JSON.parse(line) as { msg: string; backend?: string; urls?: Record<string, string> };
        if (entry.msg === 'renderer simulator listening') listening.push(entry.backend ?? '');
        if (entry.msg === 'renderer simulators ready') {
          ready = entry as { urls: Record<string, string> };
          break;
        }
      }
      expect(listening.sort()).toEqual([...RENDERERS].sort());
      for (const backend of RENDERERS) {
        expect((await fetch(`${ready?.urls[backend]}/health`)).status).toBe(200);
      }
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
