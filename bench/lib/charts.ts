/**
 * SVG charts for docs/BENCHMARKS.md, drawn from the results files with vega-lite, compiled to vega
 * and rendered headless in Node (no canvas: vega estimates text widths, so the output is the same
 * on every machine). Each chart takes the newest results file holding its figures; a chart whose
 * figures no file holds is not drawn, and the report says so.
 */
// Types only: at run time both are imported (ESM), see renderSvg.
import type * as VegaApi from 'vega-typings';
import type * as VegaLiteApi from 'vega-lite/build/index';
import { newestWithFigure } from './results-files';
import type { ResultsFile, ScenarioReport } from './results-files';
import { fmtDate, systemLabel } from './report-text';

type Vega = typeof VegaApi;
type VegaLite = typeof VegaLiteApi;
type VegaLiteSpec = Parameters<VegaLite['compile']>[0];

export interface Chart {
  /** File name under docs/charts. */
  file: string;
  title: string;
  /** Where its figures come from, for the docs. */
  source: string;
  spec: VegaLiteSpec;
}

export interface SkippedChart {
  file: string;
  title: string;
  reason: string;
}

const CONFIG = {
  font: 'sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, labelLimit: 320 },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 320 },
  title: { fontSize: 13, subtitleFontSize: 11 },
};

/** Systems whose figures are another system's (same run, same process) are drawn once. */
function rows(
  scenario: ScenarioReport,
  keys: string[],
): { system: string; method: string; figures: Record<string, number | null> }[] {
  const out: { system: string; method: string; figures: Record<string, number | null>; sig: string }[] = [];
  for (const [id, result] of Object.entries(scenario.results)) {
    if (result.method === 'skipped') continue;
    const figures = Object.fromEntries(keys.map((k) => [k, result.figures[k] ?? null]));
    if (keys.every((k) => figures[k] === null)) continue;
    const sig = JSON.stringify(figures);
    const same = out.find((o) => o.sig === sig);
    if (same) {
      same.system += ` = ${systemLabel(id)}`;
      continue;
    }
    const label = systemLabel(id) + (result.method === 'model' ? ' (model)' : '');
    out.push({ system: label, method: result.method, figures, sig });
  }
  return out;
}

function sourceOf(file: ResultsFile, scenario: ScenarioReport): string {
  return `bench/results/${file.name}, ${scenario.id}, ${fmtDate(file.date)}`;
}

function latencyChart(files: ResultsFile[]): Chart | SkippedChart {
  const title = 'Pick-up latency per system';
  const found = newestWithFigure(files, 'p99Ms');
  if (!found)
    return { file: 'pickup-latency.svg', title, reason: 'no results file holds p50/p95/p99 pick-up latency' };
  const { file, scenario } = found;
  const values = rows(scenario, ['p50Ms', 'p95Ms', 'p99Ms']).flatMap((r) =>
    (['p50Ms', 'p95Ms', 'p99Ms'] as const)
      .filter((k) => r.figures[k] !== null)
      .map((k) => ({ system: r.system, percentile: k.slice(0, 3), ms: r.figures[k] })),
  );
  const source = sourceOf(file, scenario);
  return {
    file: 'pickup-latency.svg',
    title,
    source,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: `${title} (ms, log scale)`, subtitle: source },
      width: 460,
      data: { values },
      layer: [
        {
          mark: { type: 'rule', color: '#bbb' },
          encoding: {
            y: { field: 'system', type: 'nominal', sort: null, title: null },
            x: { aggregate: 'min', field: 'ms' },
            x2: { aggregate: 'max', field: 'ms' },
          },
        },
        {
          mark: { type: 'point', filled: true, size: 70 },
          encoding: {
            y: { field: 'system', type: 'nominal', sort: null, title: null },
            x: {
              field: 'ms',
              type: 'quantitative',
              scale: { type: 'log' },
              title: 'ms from submit to the renderer',
            },
            color: { field: 'percentile', type: 'nominal', title: 'percentile', sort: ['p50', 'p95', 'p99'] },
            shape: { field: 'percentile', type: 'nominal', sort: ['p50', 'p95', 'p99'] },
          },
        },
      ],
      config: CONFIG,
    } as VegaLiteSpec,
  };
}

function barChart(
  files: ResultsFile[],
  chart: { file: string; title: string; keys: { key: string; name: string }[]; unit: string; log?: boolean },
): Chart | SkippedChart {
  const found = newestWithFigure(files, chart.keys[0]!.key);
  if (!found) {
    return {
      file: chart.file,
      title: chart.title,
      reason: `no results file holds ${chart.keys.map((k) => k.key).join(' / ')} yet`,
    };
  }
  const { file, scenario } = found;
  const keys = chart.keys.map((k) => k.key);
  const values = rows(scenario, keys).flatMap((r) =>
    chart.keys
      .filter((k) => r.figures[k.key] !== null)
      .map((k) => ({ system: r.system, figure: k.name, value: r.figures[k.key] })),
  );
  const source = sourceOf(file, scenario);
  return {
    file: chart.file,
    title: chart.title,
    source,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: `${chart.title} (${chart.unit}${chart.log ? ', log scale' : ''})`, subtitle: source },
      width: 460,
      data: { values },
      // Points with their value written next to them: bars cannot start at zero on a log scale.
      encoding: {
        y: { field: 'system', type: 'nominal', sort: null, title: null },
        ...(chart.keys.length > 1 ? { yOffset: { field: 'figure', type: 'nominal', sort: null } } : {}),
        x: {
          field: 'value',
          type: 'quantitative',
          title: chart.unit,
          ...(chart.log ? { scale: { type: 'log' } } : {}),
        },
        color: { field: 'figure', type: 'nominal', title: null, sort: null },
      },
      layer: [
        { mark: { type: 'point', filled: true, size: 70 } },
        {
          mark: { type: 'text', align: 'left', dx: 7, fontSize: 10 },
          encoding: { text: { field: 'value' } },
        },
      ],
      config: CONFIG,
    } as VegaLiteSpec,
  };
}

function rssChart(files: ResultsFile[]): Chart | SkippedChart {
  const title = 'Worker RSS over jobs in flight';
  const found = newestWithFigure(files, 'heldRssMb');
  if (!found)
    return { file: 'rss-in-flight.svg', title, reason: 'no results file holds held RSS (heldRssMb)' };
  const { file, scenario } = found;
  const first = Number(scenario.params.jobs);
  const max = Number(scenario.params.maxJobs);
  const values = rows(scenario, ['heldRssMb', 'heldRssMbAtMax']).flatMap((r) => [
    ...(r.figures.heldRssMb !== null ? [{ system: r.system, jobs: first, mb: r.figures.heldRssMb }] : []),
    ...(r.figures.heldRssMbAtMax !== null && Number.isFinite(max)
      ? [{ system: r.system, jobs: max, mb: r.figures.heldRssMbAtMax }]
      : []),
  ]);
  const source = sourceOf(file, scenario);
  return {
    file: 'rss-in-flight.svg',
    title,
    source,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: `${title} (MB, every job held by the renderers)`, subtitle: source },
      width: 460,
      data: { values },
      mark: { type: 'line', point: { filled: true, size: 60 } },
      encoding: {
        x: { field: 'jobs', type: 'quantitative', title: 'jobs in flight', scale: { zero: true } },
        y: { field: 'mb', type: 'quantitative', title: 'RSS MB', scale: { zero: true } },
        color: { field: 'system', type: 'nominal', title: null, sort: null },
      },
      config: CONFIG,
    } as VegaLiteSpec,
  };
}

export function charts(files: ResultsFile[]): (Chart | SkippedChart)[] {
  return [
    latencyChart(files),
    barChart(files, {
      file: 'makespan.svg',
      title: 'Makespan, every job queued at once',
      keys: [{ key: 'makespanS', name: 'makespan' }],
      unit: 's',
      log: true,
    }),
    barChart(files, {
      file: 'handoff-gap.svg',
      title: 'Hand-off gap, a render ended to the next one started',
      keys: [
        { key: 'handoffP50Ms', name: 'p50' },
        { key: 'handoffP99Ms', name: 'p99' },
      ],
      unit: 'ms',
    }),
    rssChart(files),
  ];
}

export function isDrawn(chart: Chart | SkippedChart): chart is Chart {
  return 'spec' in chart;
}

/** vega-lite → vega → SVG, headless. vega is ESM with top-level await, so it is imported, not required. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const vega = (await import('vega' as string)) as Vega;
  const vl = (await import('vega-lite' as string)) as VegaLite;
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}
