/** The committed results files (bench/results/*.json) as the report reads them. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Provenance } from './provenance';
import type { Column, Method, ScenarioReport, SystemResult } from './report';

export const RESULTS_DIR = path.resolve(__dirname, '..', 'results');

export interface ResultsFile {
  /** File name inside bench/results, e.g. `latest.json`. */
  name: string;
  /** When the run wrote it: provenance.date, else the run's own start or date field. */
  date: string | null;
  size: string | null;
  durationS: number | null;
  provenance: Provenance | null;
  /** Machine as the file recorded it (provenance's, else the older `machine` field). */
  machine: Record<string, unknown> | null;
  scenarios: Record<string, ScenarioReport>;
  json: Record<string, unknown>;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export function readResultsFile(file: string): ResultsFile {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const provenance = (json.provenance as Provenance | undefined) ?? null;
  const scenarios = (json.scenarios as Record<string, ScenarioReport> | undefined) ?? {};
  return {
    name: path.basename(file),
    date: provenance?.date ?? str(json.startedAt) ?? str(json.date) ?? str(json.at),
    size: str(json.size),
    durationS: typeof json.durationS === 'number' ? json.durationS : null,
    provenance,
    machine: (provenance?.machine as Record<string, unknown> | undefined) ?? (json.machine as never) ?? null,
    scenarios,
    json,
  };
}

export function readResultsDir(dir = RESULTS_DIR): ResultsFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readResultsFile(path.join(dir, f)));
}

/** The newest file (by its date) holding a scenario with this figure, and that scenario. */
export function newestWithFigure(
  files: ResultsFile[],
  key: string,
): { file: ResultsFile; scenario: ScenarioReport } | undefined {
  const found: { file: ResultsFile; scenario: ScenarioReport }[] = [];
  for (const file of files) {
    for (const scenario of Object.values(file.scenarios)) {
      const has = Object.values(scenario.results).some(
        (r: SystemResult) => r.method !== 'skipped' && typeof r.figures[key] === 'number',
      );
      if (has) found.push({ file, scenario });
    }
  }
  found.sort((a, b) => (b.file.date ?? '').localeCompare(a.file.date ?? ''));
  return found[0];
}

export type { Column, Method, ScenarioReport, SystemResult };
