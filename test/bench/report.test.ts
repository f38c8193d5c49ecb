/**
 * Issue 13: every figure in docs/BENCHMARKS.md and docs/RELIABILITY.md comes from a committed
 * results file through `npm run bench:report` (bench/report.ts).
 *
 * (a) The generator, run on the committed bench/results, reproduces the committed docs and
 *     docs/charts byte for byte: a figure typed into a generated block, or a results file changed
 *     without regenerating, fails. Since the blocks are all the generator writes, (a) is also the
 *     proof that every figure inside them comes from a results file.
 * (b) Outside the generated blocks the docs carry settings, never results. The rule: a number in
 *     the prose (code, inline code, links and comments are not prose) must be on SETTINGS below,
 *     the list of configured values (intervals, caps, timeouts, sizes a scenario or test is set
 *     to run, HTTP codes, versions, addresses). A measured figure belongs in a generated block; a
 *     new setting is added here with the reason.
 *
 * The generator runs as its own process: vega is ESM with top-level await, which jest's module
 * loader does not take.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { num } from '../../bench/lib/report-text';
import { proseNumbers } from './prose-figures';

const ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function check(root?: string): { status: number | null; stderr: string; stdout: string } {
  const args = [path.join(ROOT, 'bench', 'report.ts'), '--check', ...(root ? [`--root=${root}`] : [])];
  const run = spawnSync(TSX, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stderr: run.stderr, stdout: run.stdout };
}

/** A copy of what the generator reads and writes, to tamper with. */
function copy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  cpSync(path.join(ROOT, 'docs'), path.join(dir, 'docs'), { recursive: true });
  cpSync(path.join(ROOT, 'bench', 'results'), path.join(dir, 'bench', 'results'), { recursive: true });
  return dir;
}

interface Latest {
  scenarios: Record<string, { id: string; results: Record<string, { figures: Record<string, number> }> }>;
}

/** The committed full run (the tamper tests change its figures, whatever they are). */
function readLatest(root: string): Latest {
  const latest = JSON.parse(
    readFileSync(path.join(root, 'bench', 'results', 'latest.json'), 'utf8'),
  ) as Latest;
  // The full run is made where PostgreSQL answers, so the worker process's RSS is measured.
  const held = latest.scenarios.resources?.results['temporal-1s']?.figures.heldRssMb;
  if (typeof held !== 'number')
    throw new Error('bench/results/latest.json: resources has no measured heldRssMb');
  return latest;
}

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} has no "${from}"`);
  writeFileSync(file, text.replace(from, to));
}

/**
 * Settings the prose may name, per doc: each is a configured value, not a result. Grouped by why.
 * Bare numbers are counts or codes in a sentence about configuration ("3 attempts", "Manim 4").
 */
const SETTINGS: Record<string, Record<string, string[]>> = {
  'docs/BENCHMARKS.md': {
    'poll intervals, timeouts, retry settings of the systems (code and peers config)': [
      '1 s',
      '100 ms',
      '60 s',
      '30 s',
      '10 s',
      '10-minute',
      '5-minute',
      '5 minutes',
      '300 s',
      '590 s',
      '2.5 s',
      '3',
    ],
    'caps and the peak-hours window (job_queue_config)': [
      '10',
      '4',
      '6',
      '10/4',
      '10-slot',
      '06',
      '21',
      '00',
    ],
    'scenario sizes and shapes (bench/scenarios/context.ts)': [
      '150 ms',
      '200 ms',
      '8',
      '2',
      '5',
      '1,000',
      '30%',
      '0',
      '5 s',
    ],
    "the admission scenario's raised caps (bench/scenarios/admission.ts)": ['60', '24'],
    'BullMQ priority values': ['1'],
    'the pinned BullMQ version and the Redis address': ['5.81.5', '127.0.0.1', '6379'],
  },
  'docs/RELIABILITY.md': {
    'jobs, faults and inputs each test is set to run': [
      '100',
      '80',
      '10',
      '5',
      '3',
      '40',
      '18',
      '9',
      '13',
      '25',
      '2',
      '4',
      '120',
      '150',
      '400',
      '220',
      '2,000',
      '620',
      '620-row',
      '50',
      '500',
      '70',
      '16',
      '1',
      '100 KB',
    ],
    'render lengths, timeouts and intervals the tests configure': [
      '1–3 s',
      '2–10 s',
      '2 s',
      '2–3 s',
      '3 s',
      '2.5–3.3 s',
      '40 s',
      '300 ms',
      '1.5 s',
      '5-minute',
      '200 ms',
      '6 hours',
    ],
    'caps, limits and bounds the code enforces or the test requires': [
      '40/14',
      '64 KiB',
      '65,536',
      '65,537',
      '4-byte',
      '25 %',
      '10 %',
      '64 MiB',
    ],
    'HTTP status and PostgreSQL error codes': ['202', '401', '403', '422', '500', '502', '503', '22'],
  },
};

describe('docs are generated from bench/results (npm run bench:report)', () => {
  test('(a) the committed docs and charts are what the committed results give', () => {
    const run = check();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  test('(a) a figure typed into a generated block fails the check', () => {
    const dir = copy();
    try {
      const held = readLatest(dir).scenarios.resources!.results['temporal-1s']!.figures.heldRssMb!;
      edit(path.join(dir, 'docs', 'BENCHMARKS.md'), `| ${num(held)} MB `, `| ${num(held + 1)} MB `);
      const run = check(dir);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('docs/BENCHMARKS.md');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('(a) a results file changed without regenerating fails the check (docs and chart)', () => {
    const dir = copy();
    try {
      const latest = readLatest(dir);
      latest.scenarios.resources!.results['temporal-1s']!.figures.heldRssMb! += 1;
      writeFileSync(path.join(dir, 'bench', 'results', 'latest.json'), JSON.stringify(latest, null, 2));
      const run = check(dir);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('docs/BENCHMARKS.md');
      expect(run.stderr).toContain('docs/charts/rss-in-flight.svg');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('(a) a new results file with a scenario report is printed and charted once it exists', () => {
    const dir = copy();
    try {
      const latest = readLatest(dir);
      const ordering = { ...latest.scenarios.efficiency!, id: 'ordering' };
      for (const result of Object.values(ordering.results)) {
        result.figures.handoffP50Ms = 12;
        result.figures.handoffP99Ms = 34;
      }
      writeFileSync(
        path.join(dir, 'bench', 'results', 'admission.json'),
        // Newer than any committed file, so the charts take it.
        JSON.stringify({ size: 'full', startedAt: '2099-01-01T00:00:00.000Z', scenarios: { ordering } }),
      );
      const run = check(dir);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('docs/BENCHMARKS.md');
      expect(run.stderr).toContain('docs/charts/handoff-gap.svg');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each(Object.keys(SETTINGS))('(b) %s: no figure in the prose outside generated blocks', (doc) => {
    const allowed = new Set(Object.values(SETTINGS[doc]!).flat());
    const found = proseNumbers(readFileSync(path.join(ROOT, doc), 'utf8'))
      .filter((n) => !allowed.has(n.token))
      .map((n) => `${doc}:${n.line}: "${n.token}"`);
    expect(found).toEqual([]);
  });

  test('(b) the prose check catches a hand-typed figure, and skips generated blocks and code', () => {
    const doc = [
      'Peak RSS was 412 MB at 60 s polls.',
      '<!-- generated:x from bench/results/a.json -->',
      'p99 253 ms',
      '<!-- /generated -->',
      '`kill -9` and [a](../bench/results/x-2.json)',
      '```sh',
      'npm run bench -- --only=latency 42',
      '```',
      'took 3.5 s',
    ].join('\n');
    expect(proseNumbers(doc).map((n) => n.token)).toEqual(['412 MB', '60 s', '3.5 s']);
  });
});
