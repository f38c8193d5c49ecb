/** The metric-name extractor the dashboard, alert and live-Prometheus checks rely on. */
import { baseMetricName, metricNames } from '../helpers/promql';

describe('metricNames', () => {
  test.each([
    ['up{job="render-queue-worker"} == 0', ['up']],
    ['absent(render_queue_worker_up)', ['render_queue_worker_up']],
    ['min by (instance) (render_queue_worker_up) == 0', ['render_queue_worker_up']],
    ['sum(max by (priority) (render_queue_depth)) > 100', ['render_queue_depth']],
    [
      'histogram_quantile(0.95, sum by (renderer, le) (rate(render_queue_render_duration_seconds_bucket[$__rate_interval])))',
      ['render_queue_render_duration_seconds_bucket'],
    ],
    [
      'sum by (renderer) (rate(a_total{outcome="failed"}[15m])) / sum by (renderer) (rate(a_total{outcome=~"completed|failed"}[15m])) > 0.2 and sum by (renderer) (increase(b_total[15m])) >= 3',
      ['a_total', 'b_total'],
    ],
    ['sum(x) by (le) / ignoring (kind) group_left (priority) y offset 5m', ['x', 'y']],
    ['rate(temporal_request[5m:1m]) * on (instance) group_right up', ['temporal_request', 'up']],
    [
      'max(render_queue_oldest_queued_seconds) > bool 900 unless absent(z)',
      ['render_queue_oldest_queued_seconds', 'z'],
    ],
    ['sum(increase(c_total[$__range])) or vector(0)', ['c_total']],
  ])('%s reads %j', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });

  test('names inside label values, regexes and label lists are not metrics', () => {
    expect(metricNames('max(render_queue_depht{priority="render_queue_x", q=~"up|down"})')).toEqual([
      'render_queue_depht',
    ]);
    expect(metricNames('sum without (render_queue_label) (m)')).toEqual(['m']);
  });

  test('a selector split over lines and with spaces before its braces is still found', () => {
    expect(metricNames('(\n  sum by (renderer) (rate(m_total  {outcome="failed"}[15m]))\n)')).toEqual([
      'm_total',
    ]);
  });
});

test('baseMetricName strips the histogram series suffixes only', () => {
  expect(baseMetricName('render_queue_wait_seconds_bucket')).toBe('render_queue_wait_seconds');
  expect(baseMetricName('render_queue_wait_seconds_count')).toBe('render_queue_wait_seconds');
  expect(baseMetricName('render_queue_jobs')).toBe('render_queue_jobs');
});
