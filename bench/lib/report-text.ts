/** Text helpers for the generated blocks of the docs: numbers, dates, system names, sources, tables. */
import type { ResultsFile, ScenarioReport } from './results-files';

/** When the results writers began to record provenance (bench/lib/provenance.ts, commit c0916f3). */
const PROVENANCE_SINCE = '2026-12-01 18:29 UTC';

const SHORT_LABELS: Record<string, string> = {
  'temporal-1s': 'this project, poll 1 s',
  'temporal-100ms': 'this project, poll 100 ms',
  'old-poller-60s': 'old poller, 60 s',
  'old-poller-1s': 'old poller, 1 s',
  bullmq: 'BullMQ',
};

export function systemLabel(id: string): string {
  return SHORT_LABELS[id] ?? id;
}

/** A figure as the docs print it: thousands separated, with the precision the results file holds. */
export function num(value: unknown, digits = 3): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** 1.234 -> "123%" style shares. */
export function pct(share: unknown, digits = 0): string {
  return typeof share === 'number' ? `${(share * 100).toFixed(digits)}%` : '–';
}

export function fmtDate(iso: string | null): string {
  if (!iso) return 'date not recorded';
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** "bench/results/x.json (full run, 2026-11-28 15:18 UTC, commit abc1234)" */
export function cite(file: ResultsFile): string {
  const parts = [
    file.size ? `${file.size} run` : null,
    fmtDate(file.date),
    file.provenance?.commit
      ? `commit ${file.provenance.commit.id.slice(0, 10)}${file.provenance.commit.dirty ? ' with uncommitted changes' : ''}`
      : null,
  ].filter(Boolean);
  return `[${file.name}](../bench/results/${file.name}) (${parts.join(', ')})`;
}

/** The versions and machine load a results file recorded (its commit is in `cite`). */
export function versionsText(file: ResultsFile): string {
  const p = file.provenance;
  if (!p) return 'versions not recorded';
  const versions = Object.entries(p.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const load =
    p.loadAtStart !== undefined ? `; machine load when the run began ${String(p.loadAtStart)}` : '';
  return `${versions}${load}`;
}

export function provenanceText(file: ResultsFile): string {
  const p = file.provenance;
  if (!p)
    return `provenance not recorded (written before ${PROVENANCE_SINCE}, when results files began to record it)`;
  const commit = p.commit
    ? `commit ${p.commit.id.slice(0, 10)}${p.commit.dirty ? ' (dirty)' : ''}`
    : 'no commit';
  return `${commit}; ${versionsText(file)}`;
}

export function machineText(file: ResultsFile): string {
  const m = file.machine;
  if (!m) return 'not recorded';
  const parts = [
    m.cpus !== undefined ? `${String(m.cpus)} CPU${m.cpuModel ? ` (${String(m.cpuModel)})` : ''}` : null,
    m.memoryGb !== undefined ? `${String(m.memoryGb)} GB` : null,
    m.platform !== undefined ? String(m.platform) : null,
    m.node !== undefined ? `Node ${String(m.node)}` : null,
  ].filter(Boolean);
  return parts.join(', ');
}

export function table(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function paramText(value: unknown): string {
  if (typeof value === 'number') return num(value);
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k} ${paramText(v)}`)
      .join(', ');
  }
  return String(value);
}

/**
 * A note as long as a crashed process's output tail is cut to its start and the process's own
 * error line (`Error: ...`, `RangeError: ...`); the results file keeps it whole.
 */
const NOTE_CHARS = 300;
function clip(note: string): string {
  if (note.length <= NOTE_CHARS) return note;
  const errorLine = /(?:^|\n)((?:[A-Z]\w*)?Error: [^\n]*)\n[^]*$/.exec(note.slice(NOTE_CHARS))?.[1];
  return `${note.slice(0, NOTE_CHARS)} … ${errorLine ? `${errorLine} … ` : ''}(cut here; whole in the results file)`;
}

/** Any scenario report as a table: every column, the method of each row, the notes and the parameters. */
export function scenarioTable(file: ResultsFile, scenario: ScenarioReport): string {
  const ids = Object.keys(scenario.results);
  const rows = ids.map((id) => {
    const r = scenario.results[id as keyof typeof scenario.results];
    return [systemLabel(id), ...scenario.columns.map((c) => num(r.figures[c.key])), r.method];
  });
  const notes = ids
    .map((id) => [id, scenario.results[id as keyof typeof scenario.results].note] as const)
    .filter(([, note]) => note)
    .map(([id, note]) => `- ${systemLabel(id)}: ${clip(note!)}`);
  const params = Object.entries(scenario.params)
    .map(([k, v]) => `${k} ${paramText(v)}`)
    .join('; ');
  // A scenario that failed has no columns: its notes say why, a table would be empty.
  return [
    `**${scenario.title}** (${cite(file)}${params ? `; ${params}` : ''})`,
    ...(scenario.columns.length
      ? ['', table(['system', ...scenario.columns.map((c) => c.label), 'method'], rows)]
      : []),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}
