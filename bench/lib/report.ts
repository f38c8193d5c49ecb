/** Results, ratios and the tables printed for each scenario. */
import { PEER_IDS, PROJECT_IDS, SYSTEM_IDS, SYSTEM_LABELS } from '../systems/types';
import type { SystemId } from '../systems/types';
import { round } from './stats';

/** measured: run here, now. model: computed from the system's rule (the note says how). skipped: not available here. */
export type Method = 'measured' | 'model' | 'skipped';

export interface SystemResult {
  method: Method;
  figures: Record<string, number | null>;
  note?: string;
}

export interface Column {
  key: string;
  label: string;
  /** Ratios of this project to each peer are computed for this column. */
  ratio?: boolean;
}

export interface ScenarioReport {
  id: string;
  title: string;
  params: Record<string, unknown>;
  columns: Column[];
  results: Record<SystemId, SystemResult>;
  /** column -> "project/peer" -> project's figure divided by the peer's (null when undefined). */
  ratios: Record<string, Record<string, number | null>>;
}

export function skipped(reason: string): SystemResult {
  return { method: 'skipped', figures: {}, note: reason };
}

export function computeRatios(
  columns: Column[],
  results: Record<SystemId, SystemResult>,
): ScenarioReport['ratios'] {
  const ratios: ScenarioReport['ratios'] = {};
  for (const column of columns.filter((c) => c.ratio)) {
    const byPair: Record<string, number | null> = {};
    for (const project of PROJECT_IDS) {
      for (const peer of PEER_IDS) {
        const a = results[project]?.figures[column.key];
        const b = results[peer]?.figures[column.key];
        byPair[`${project}/${peer}`] =
          a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b, 3);
      }
    }
    ratios[column.key] = byPair;
  }
  return ratios;
}

function cell(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatReport(report: ScenarioReport): string {
  const header = ['system', ...report.columns.map((c) => c.label), 'method'];
  const rows = SYSTEM_IDS.map((id) => {
    const result = report.results[id];
    return [
      SYSTEM_LABELS[id],
      ...report.columns.map((c) => cell(result?.figures[c.key])),
      result?.method ?? '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  const out = [
    `## ${report.title}`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...rows.map(line),
  ];
  for (const [column, pairs] of Object.entries(report.ratios)) {
    const label = report.columns.find((c) => c.key === column)?.label ?? column;
    const parts = Object.entries(pairs).map(
      ([pair, value]) => `${pair} ${value === null ? '-' : `${value}x`}`,
    );
    out.push(`ratio (${label}, this project / peer): ${parts.join('; ')}`);
  }
  for (const id of SYSTEM_IDS) {
    const note = report.results[id]?.note;
    if (note) out.push(`note ${id}: ${note}`);
  }
  return out.join('\n');
}
