/**
 * The benchmark's smallest size, end to end: `bench/run.ts --smoke` starts its own dev server,
 * databases, simulators and workers, and must report every scenario for every system (measured,
 * computed from the system's rule, or skipped with a reason), and the histories it caused must
 * replay (an admission run that failed live on nondeterminism and was replaced is counted apart).
 * Figures are not asserted.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SCENARIO_IDS } from '../../bench/run';
import { SYSTEM_IDS } from '../../bench/systems/types';

const ROOT = path.join(__dirname, '..', '..');
const RUN_TIMEOUT_MS = 420_000;

function runSmoke(out: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', `--out=${out}`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The tables are on stdout, kept whole; stderr (logs, the dev server's) only as a tail for
    // a failure's message, so server chatter can never push a table out.
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS - 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: code === 0 ? stdout : `${stdout}\n--- stderr (tail) ---\n${stderr}` });
    });
  });
}

describe('npm run bench -- --smoke', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'prints every table and writes every scenario for every system to the JSON',
    async () => {
      const out = path.join(dir, 'latest.json');
      const { code, output } = await runSmoke(out);
      if (code !== 0) throw new Error(`bench exited with ${String(code)}:\n${output}`);
      const json = JSON.parse(readFileSync(out, 'utf8')) as {
        size: string;
        machine: { cpus: number };
        determinism: { replayed: number; failures: unknown[]; admissionRunsReplaced: unknown[] };
        scenarios: Record<
          string,
          { title: string; results: Record<string, { method: string; figures: object }> }
        >;
      };
      expect(json.size).toBe('smoke');
      expect(json.machine.cpus).toBeGreaterThan(0);
      // The sampled job runs and every admission run replayed against today's code, except an
      // admission run that failed on nondeterminism while running and was replaced (counted).
      expect(json.determinism.failures).toEqual([]);
      expect(Array.isArray(json.determinism.admissionRunsReplaced)).toBe(true);
      expect(json.determinism.replayed).toBeGreaterThan(SCENARIO_IDS.length);
      expect(Object.keys(json.scenarios).sort()).toEqual([...SCENARIO_IDS].sort());
      for (const id of SCENARIO_IDS) {
        const scenario = json.scenarios[id]!;
        expect(output).toContain(`## ${scenario.title}`);
        expect(Object.keys(scenario.results).sort()).toEqual([...SYSTEM_IDS].sort());
        for (const result of Object.values(scenario.results)) {
          expect(['measured', 'model', 'skipped']).toContain(result.method);
          // No scenario failed: a failure is reported as skipped with a "scenario failed" note.
          expect(JSON.stringify(result)).not.toContain('scenario failed');
        }
      }
    },
    RUN_TIMEOUT_MS,
  );
});
