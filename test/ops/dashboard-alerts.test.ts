/**
 * The Grafana dashboard and the Prometheus alerts only query metrics that exist: ours
 * (registered by createRenderMetrics), the Temporal SDK's (names as its Prometheus exporter
 * emits them with the default `temporal_` prefix and no `_total` counter suffix) or Prometheus's
 * own per-target `up`. test/ops/prometheus-scrape.test.ts checks the same names against a real
 * Prometheus scraping a running worker. The dashboard answers the old plan's questions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { createRenderMetrics } from '../../src/observability/render-metrics';
import { baseMetricName, metricNames } from '../helpers/promql';

const ROOT = join(__dirname, '..', '..');

/**
 * Names emitted by the TypeScript SDK's Core (1.24) Prometheus exporter. The first group was
 * read from a live scrape of a worker; the second only appears once such an event happens.
 */
const SDK_METRICS = new Set([
  'temporal_activity_execution_failed',
  'temporal_activity_execution_latency',
  'temporal_activity_schedule_to_start_latency',
  'temporal_activity_succeed_endtoend_latency',
  'temporal_activity_task_received',
  'temporal_long_request',
  'temporal_long_request_latency',
  'temporal_num_pollers',
  'temporal_request',
  'temporal_request_latency',
  'temporal_sticky_cache_hit',
  'temporal_sticky_cache_size',
  'temporal_worker_start',
  'temporal_worker_task_slots_available',
  'temporal_worker_task_slots_used',
  'temporal_workflow_completed',
  'temporal_workflow_endtoend_latency',
  'temporal_workflow_task_execution_latency',
  'temporal_workflow_task_queue_poll_succeed',
  'temporal_workflow_task_replay_latency',
  'temporal_workflow_task_schedule_to_start_latency',
  // Event-driven:
  'temporal_request_failure',
  'temporal_long_request_failure',
  'temporal_workflow_failed',
  'temporal_workflow_canceled',
  'temporal_workflow_task_execution_failed',
  'temporal_activity_poll_no_task',
  'temporal_workflow_task_queue_poll_empty',
  'temporal_sticky_cache_miss',
]);

/** Series Prometheus writes itself for every scrape target. */
const PROMETHEUS_SERIES = new Set(['up']);

interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid?: string };
  targets?: { expr: string; refId: string; legendFormat?: string }[];
}
interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description?: string };
}

const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
};
const alerts = parse(readFileSync(join(ROOT, 'docs', 'alerts.yml'), 'utf8')) as {
  groups: { name: string; rules: Rule[] }[];
};
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const rules = alerts.groups.flatMap((g) => g.rules);

const referencedNames = (exprs: string[]) => new Set(exprs.flatMap(metricNames).map(baseMetricName));

async function registeredNames(): Promise<Set<string>> {
  const metrics = createRenderMetrics(new Registry());
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
}

describe('dashboard and alerts', () => {
  test('every metric they query is registered by createRenderMetrics or emitted by the Temporal SDK', async () => {
    const ours = await registeredNames();
    const referenced = referencedNames([...dashboardExprs, ...rules.map((r) => r.expr)]);
    const unknown = [...referenced].filter(
      (name) => !ours.has(name) && !SDK_METRICS.has(name) && !PROMETHEUS_SERIES.has(name),
    );
    expect(unknown).toEqual([]);
  });

  test('every metric createRenderMetrics registers is shown on the dashboard or alerted on', async () => {
    const referenced = referencedNames([...dashboardExprs, ...rules.map((r) => r.expr)]);
    const unused = [...(await registeredNames())].filter((name) => !referenced.has(name));
    expect(unused).toEqual([]);
  });

  test('the name check rejects a misspelt metric and strips histogram suffixes', () => {
    expect([...referencedNames(['rate(render_queue_render_duration_seconds_bucket[5m])'])]).toEqual([
      'render_queue_render_duration_seconds',
    ]);
    expect([...referencedNames(['max(render_queue_depht{priority="render_queue_x"})'])]).toEqual([
      'render_queue_depht',
    ]);
  });

  test('the dashboard is importable: unique panel ids, a layout, a Prometheus datasource variable, queries', () => {
    expect(dashboard.uid).toBe('render-queue');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    );
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.w).toBeGreaterThan(0);
      expect(panel.datasource?.uid).toBe('${datasource}');
      expect(panel.targets?.length).toBeGreaterThan(0);
    }
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of [
      'jobs by status',
      'queue depth by priority',
      'in flight vs caps',
      'p50 / p95',
      'failures and retries',
      'sync lag',
      'oldest queued',
    ]) {
      expect(titles).toContain(topic);
    }
  });

  test('panels do not overlap', () => {
    const cells = new Map<string, string>();
    for (const { title, gridPos } of dashboard.panels) {
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          const taken = cells.get(`${x},${y}`);
          expect([title, taken]).toEqual([title, undefined]);
          cells.set(`${x},${y}`, title);
        }
      }
      expect(gridPos.x + gridPos.w).toBeLessThanOrEqual(24);
    }
  });
});

describe("the dashboard answers the old plan's questions at a glance", () => {
  const panel = (title: string) => {
    const found = dashboard.panels.find((p) => p.title.toLowerCase().includes(title));
    if (!found) throw new Error(`no panel titled like "${title}"`);
    return { ...found, exprs: (found.targets ?? []).map((t) => t.expr.replace(/\s+/g, ' ')) };
  };

  test('how many jobs wait, per priority', () => {
    expect(panel('queue depth by priority').exprs).toEqual(['max by (priority) (render_queue_depth)']);
  });

  test('how many renders run, against the caps in force with peak hours included', () => {
    const { exprs } = panel('in flight vs caps');
    expect(exprs).toContain('sum by (renderer_queue) (render_queue_renders_in_flight)');
    expect(exprs).toContain('sum by (kind) (render_queue_capacity_cap)');
    expect(exprs).toContain('max(render_queue_jobs{status="processing"})');
    expect(panel('peak hours').exprs).toEqual(['max(render_queue_peak_hours)']);
  });

  test('how fast jobs complete and fail', () => {
    const { exprs } = panel('completion and failure rate');
    expect(exprs.some((e) => /rate\(render_queue_render_attempts_total\{outcome="completed"\}/.test(e))).toBe(
      true,
    );
    expect(exprs.some((e) => /rate\(render_queue_render_attempts_total\{outcome="failed"\}/.test(e))).toBe(
      true,
    );
    // The share the RenderFailuresRising alert fires on, with its threshold drawn.
    const share = panel('failure share');
    expect(share.exprs[0]).toBe(
      rules
        .find((r) => r.alert === 'RenderFailuresRising')!
        .expr.replace(/\s+/g, ' ')
        .match(/\( (sum .*\)\)) \)/)![1],
    );
  });

  test('how long jobs wait: p50 and p95 of the queue wait, by priority', () => {
    const { exprs } = panel('queue wait p50 / p95');
    expect(exprs).toEqual([
      'histogram_quantile(0.5, sum by (priority, le) (rate(render_queue_wait_seconds_bucket[$__rate_interval])))',
      'histogram_quantile(0.95, sum by (priority, le) (rate(render_queue_wait_seconds_bucket[$__rate_interval])))',
    ]);
  });

  test('how many renders each renderer did in the time range', () => {
    expect(panel('renders per renderer').exprs).toEqual([
      'sum by (renderer) (increase(render_queue_render_attempts_total{outcome="completed"}[$__range]))',
    ]);
  });

  test('how old the oldest queued job is', () => {
    expect(panel('oldest queued job').exprs).toEqual(['max(render_queue_oldest_queued_seconds)']);
  });

  test('the alert rules cover failures, depth, oldest job and worker down, each with severity and summary', () => {
    const names = rules.map((r) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'RenderFailuresRising',
        'RenderQueueDepthHigh',
        'RenderQueueOldestJobTooOld',
        'RenderWorkerDown',
        'RenderWorkerMetricsAbsent',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
    for (const rule of rules) {
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
    }
    expect(rules.find((r) => r.alert === 'RenderWorkerMetricsAbsent')?.expr).toContain(
      'absent(render_queue_worker_up)',
    );
    expect(rules.find((r) => r.alert === 'RenderWorkerDown')?.expr).toMatch(/\bup\{[^}]*\} == 0/);
  });
});
