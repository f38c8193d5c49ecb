/**
 * A real Prometheus (Debian's) scrapes a running worker, and every metric name that
 * docs/alerts.yml and docs/grafana-dashboard.json query must be in it: a name that is absent
 * fails the test, naming the file and the expression. The worker is the production wiring
 * (dev/stack.ts) with the metrics of src/observability/render-metrics.ts and the Temporal SDK's
 * exporter, a dev server, renderer simulators and a real database; a job that completes, one
 * that is retried and one the renderer rejects give the counters and histograms their samples.
 * Prometheus runs the config of deploy/prometheus/prometheus.yml, pointed at this worker, with
 * the alert rules loaded.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { parse, stringify } from 'yaml';
import { submitJob } from '../../src/jobs/submit';
import { createRenderMetrics } from '../../src/observability/render-metrics';
import { queueStatsFromStore } from '../../src/observability/queue-stats';
import { renderMetricsInterceptor } from '../../src/observability/render-metrics-interceptor';
import { sdkMetricsText, startMetricsServer } from '../../src/observability/metrics-server';
import type { MetricsServer } from '../../src/observability/metrics-server';
import { freePort, startDaemon } from '../helpers/daemon';
import type { Daemon } from '../helpers/daemon';
import { metricNames } from '../helpers/promql';
import { startStack } from '../../dev/stack';
import type { Stack } from '../../dev/stack';
import { devServerEnv, eventually } from '../../dev/temporal';
import { describeWithTools } from '../helpers/tools';

const ROOT = join(__dirname, '..', '..');
const DEPLOYED_CONFIG = join(ROOT, 'deploy', 'prometheus', 'prometheus.yml');
const WORKER_JOB = 'render-queue-worker';

interface Query {
  file: string;
  expr: string;
}

/** Every PromQL expression of the alert rules and the dashboard's panels, with its file. */
function queries(): Query[] {
  const alerts = parse(readFileSync(join(ROOT, 'docs', 'alerts.yml'), 'utf8')) as {
    groups: { rules: { expr: string }[] }[];
  };
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana-dashboard.json'), 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
  };
  return [
    ...alerts.groups.flatMap((g) => g.rules.map((r) => ({ file: 'docs/alerts.yml', expr: r.expr.trim() }))),
    ...dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ file: 'docs/grafana-dashboard.json', expr: t.expr })),
    ),
  ];
}

/** One line per metric name a query reads that Prometheus does not have. */
function missingNames(all: Query[], available: Set<string>): string[] {
  return all.flatMap(({ file, expr }) =>
    metricNames(expr)
      .filter((name) => !available.has(name))
      .map((name) => `${file}: ${name} is not in Prometheus, in ${expr.replace(/\s+/g, ' ')}`),
  );
}

/** deploy/prometheus/prometheus.yml for this test: fast intervals, this worker, no Alertmanager. */
function testConfig(workerTarget: string, selfTarget: string): string {
  const config = parse(readFileSync(DEPLOYED_CONFIG, 'utf8')) as {
    global: Record<string, string>;
    alerting?: unknown;
    scrape_configs: { job_name: string; dns_sd_configs?: unknown; static_configs?: unknown }[];
  };
  config.global.scrape_interval = '1s';
  config.global.evaluation_interval = '1s';
  delete config.alerting;
  for (const job of config.scrape_configs) {
    const target = job.job_name === WORKER_JOB ? workerTarget : selfTarget;
    delete job.dns_sd_configs;
    job.static_configs = [{ targets: [target] }];
  }
  return stringify(config);
}

describeWithTools(['prometheus', 'promtool'], 'a real Prometheus scraping a running worker', () => {
  let dir: string;
  let env: TestWorkflowEnvironment;
  let stack: Stack | undefined;
  let metricsServer: MetricsServer | undefined;
  let prometheus: Daemon | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rq-prometheus-'));
    // The SDK's own exporter, as src/worker/runtime.ts installs it, but on a free port.
    const sdkPort = await freePort();
    Runtime.install({
      // The rejected job's failure is expected: the SDK's warning about it is noise here.
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: {
        metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkPort}`, useSecondsForDurations: true } },
      },
    });
    env = await devServerEnv();
    // The stack creates the limiter and database these sources read, so they are reached late.
    const ref: { stack?: Stack } = {};
    const metrics = createRenderMetrics(new Registry(), {
      limiter: { snapshot: () => ref.stack!.limiter.snapshot() },
      isPeakHours: () => false,
      queueStats: () => queueStatsFromStore(ref.stack!.store)(),
      health: () => ref.stack?.workers.workers.every((w) => w.getState() === 'RUNNING') ?? false,
    });
    stack = ref.stack = await startStack(env, {
      renderInterceptors: [renderMetricsInterceptor(metrics)],
      simulator: { defaultDurationMs: 200 },
    });
    metricsServer = await startMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => true,
      extraText: sdkMetricsText(`http://127.0.0.1:${sdkPort}/metrics`),
    });

    // A retry one second after a failed attempt instead of five minutes (read when a job starts).
    await stack.db.query('UPDATE job_queue_config SET retry_interval_minutes = $1', [1 / 60]);
    const jobs = [
      { jobType: 'doubt', priority: 'high', payload: {} },
      { jobType: 'concept_explainer', priority: 'medium', payload: { simulate: { failTimes: 1 } } },
      { jobType: 'solution_walkthrough', priority: 'low', payload: { simulate: { outcome: 'reject' } } },
    ];
    const submitted = await Promise.all(jobs.map((job) => submitJob(env.client, job)));
    await Promise.allSettled(submitted.map((s) => env.client.workflow.getHandle(s.workflowId).result()));
  });

  afterAll(async () => {
    await prometheus?.stop();
    await metricsServer?.close();
    await stack?.close();
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  async function api<T>(path: string): Promise<T> {
    const response = await fetch(`${prometheus!.url}/api/v1/${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error}`);
    return body.data;
  }

  test('the deployed Prometheus config passes promtool check config, with the alert rules beside it', () => {
    // The layout of the compose service: the config, and docs/alerts.yml under rules/.
    const layout = join(dir, 'deployed');
    mkdirSync(join(layout, 'rules'), { recursive: true });
    cpSync(DEPLOYED_CONFIG, join(layout, 'prometheus.yml'));
    cpSync(join(ROOT, 'docs', 'alerts.yml'), join(layout, 'rules', 'alerts.yml'));
    const run = spawnSync('promtool', ['check', 'config', join(layout, 'prometheus.yml')], {
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`promtool check config failed:\n${run.stdout}${run.stderr}`);
  });

  test('every metric name in docs/alerts.yml and docs/grafana-dashboard.json is in Prometheus', async () => {
    const live = join(dir, 'live');
    mkdirSync(join(live, 'rules'), { recursive: true });
    cpSync(join(ROOT, 'docs', 'alerts.yml'), join(live, 'rules', 'alerts.yml'));
    const port = await freePort();
    writeFileSync(
      join(live, 'prometheus.yml'),
      testConfig(`127.0.0.1:${metricsServer!.port}`, `127.0.0.1:${port}`),
    );
    prometheus = await startDaemon(
      'prometheus',
      [
        `--config.file=${join(live, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(live, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { port, readyPath: '/-/ready' },
    );
    await eventually(
      'a successful scrape of the worker',
      async () => {
        const result = await api<{ result: { value: [number, string] }[] }>(
          `query?query=${encodeURIComponent(`up{job="${WORKER_JOB}"}`)}`,
        );
        return result.result[0]?.value[1] === '1';
      },
      20_000,
    );

    const names = new Set(await api<string[]>('label/__name__/values'));
    const all = queries();
    expect(all.length).toBeGreaterThan(20);
    expect(missingNames(all, names)).toEqual([]);
    // The same check on the same live names fails on a name nobody exports, naming file and query.
    expect(missingNames([{ file: 'x.yml', expr: 'rate(render_queue_misspelt_total[5m])' }], names)).toEqual([
      'x.yml: render_queue_misspelt_total is not in Prometheus, in rate(render_queue_misspelt_total[5m])',
    ]);
  });

  test('Prometheus evaluates every alert rule on the live series without error, and none fires for a healthy worker', async () => {
    type Rule = { name: string; health: string; state: string; lastError?: string; lastEvaluation: string };
    const rules = await eventually(
      'every rule evaluated after the first scrape',
      async () => {
        const data = await api<{ groups: { rules: Rule[] }[] }>('rules?type=alert');
        const all = data.groups.flatMap((g) => g.rules);
        // Absent until the first scrape, render_queue_worker_up makes its alert pending at first.
        return all.every((r) => r.health === 'ok' && r.state === 'inactive') ? all : undefined;
      },
      20_000,
    ).catch(async (error: unknown) => {
      const data = await api<{ groups: { rules: Rule[] }[] }>('rules?type=alert');
      const states = data.groups
        .flatMap((g) => g.rules)
        .map((r) => `${r.name} ${r.health} ${r.state} ${r.lastError ?? ''}`);
      throw new Error(`${String(error)}\n${states.join('\n')}`);
    });
    const expected = queries().filter((q) => q.file === 'docs/alerts.yml').length;
    expect(rules).toHaveLength(expected);
  });
});
