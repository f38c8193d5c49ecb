/**
 * The Grafana dashboard and the Prometheus alerts only query metrics that exist: ours
 * (registered by createRenderMetrics) or the Temporal SDK's (names as its Prometheus exporter
 * emits them with the default `temporal_` prefix and no `_total` counter suffix).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { createRenderMetrics } from '../../src/observability/metrics';

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

interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid?: string };
  targets?: { expr: string; refId: string }[];
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

function metricNames(expr: string): string[] {
  // Label values and strings can't hold these names: strip quoted text first.
  const code = expr.replace(/"[^"]*"/g, '""');
  const names = code.match(/\b(render_queue_[a-z_]+|temporal_[a-z_]+)\b/g) ?? [];
  return names.map((name) => name.replace(/_(bucket|sum|count)$/, ''));
}

async function registeredNames(): Promise<Set<string>> {
  const metrics = createRenderMetrics(new Registry());
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
}

describe('dashboard and alerts', () => {
  test('every metric they query is registered by createRenderMetrics or emitted by the Temporal SDK', async () => {
    const ours = await registeredNames();
    const referenced = new Set([...dashboardExprs, ...rules.map((r) => r.expr)].flatMap(metricNames));
    const unknown = [...referenced].filter((name) => !ours.has(name) && !SDK_METRICS.has(name));
    expect(unknown).toEqual([]);
  });

  test('every metric createRenderMetrics registers is shown on the dashboard or alerted on', async () => {
    const referenced = new Set([...dashboardExprs, ...rules.map((r) => r.expr)].flatMap(metricNames));
    const unused = [...(await registeredNames())].filter((name) => !referenced.has(name));
    expect(unused).toEqual([]);
  });

  test('the name check rejects a misspelt metric and strips histogram suffixes', () => {
    expect(metricNames('rate(render_queue_render_duration_seconds_bucket[5m])')).toEqual([
      'render_queue_render_duration_seconds',
    ]);
    expect(metricNames('max(render_queue_depht{priority="render_queue_x"})')).toEqual(['render_queue_depht']);
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
