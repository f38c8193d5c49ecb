/**
 * docs/alertmanager.yml, rendered by deploy/alertmanager/render-config.sh the way the compose
 * service renders it: amtool accepts it, critical alerts route to the on-call address and
 * warnings to the team's, and a real Alertmanager (Debian's) delivers both to an SMTP server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startDaemon } from '../helpers/daemon';
import type { Daemon } from '../helpers/daemon';
import { startSmtpSink } from '../helpers/smtp-sink';
import type { SmtpSink } from '../helpers/smtp-sink';
import { eventually } from '../../dev/temporal';
import { describeWithTools } from '../helpers/tools';

const ROOT = join(__dirname, '..', '..');
const TEMPLATE = join(ROOT, 'docs', 'alertmanager.yml');
const RENDER = join(ROOT, 'deploy', 'alertmanager', 'render-config.sh');

/** The ALERT_* settings of .env.example: what a new deployment starts from. */
const exampleEnv: Record<string, string> = Object.fromEntries(
  readFileSync(join(ROOT, '.env.example'), 'utf8')
    .split('\n')
    .filter((line) => /^ALERT_[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rq-alertmanager-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the render script with exactly `env` (plus PATH); returns its exit status and output. */
function render(env: Record<string, string>, output = join(dir, 'alertmanager.yml')) {
  const run = spawnSync('sh', [RENDER, TEMPLATE, output], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}`, file: output };
}

function renderOrThrow(env: Record<string, string>, output?: string): string {
  const run = render(env, output);
  if (run.status !== 0) throw new Error(`render-config.sh exited ${run.status}: ${run.output}`);
  return run.file;
}

describe('docs/alertmanager.yml and its render script', () => {
  test('.env.example sets every address the template needs, and no password', () => {
    expect(Object.keys(exampleEnv).sort()).toEqual([
      'ALERT_EMAIL_CRITICAL_TO',
      'ALERT_EMAIL_WARNING_TO',
      'ALERT_SMTP_FROM',
      'ALERT_SMTP_REQUIRE_TLS',
      'ALERT_SMTP_SMARTHOST',
      'ALERT_SMTP_USERNAME',
    ]);
  });

  test('the committed template holds no secret: the SMTP password comes from a mounted file', () => {
    const template = readFileSync(TEMPLATE, 'utf8');
    expect(template).not.toMatch(/smtp_auth_password:/);
    expect(template).toMatch(/^ {2}smtp_auth_password_file: \/run\/secrets\/alert_smtp_password$/m);
  });

  test('rendering fills in every placeholder from the environment', () => {
    const text = readFileSync(renderOrThrow(exampleEnv), 'utf8');
    const body = text.replace(/^#.*$/gm, '');
    expect(body).not.toContain('${');
    expect(body).toContain(`smtp_smarthost: '${exampleEnv.ALERT_SMTP_SMARTHOST}'`);
    expect(body).toContain(`- to: '${exampleEnv.ALERT_EMAIL_CRITICAL_TO}'`);
    expect(body).toContain(`- to: '${exampleEnv.ALERT_EMAIL_WARNING_TO}'`);
  });

  test.each([
    ['ALERT_EMAIL_CRITICAL_TO', '', 'ALERT_EMAIL_CRITICAL_TO is not set'],
    ['ALERT_SMTP_FROM', "x'@example.com", 'ALERT_SMTP_FROM must not contain a single quote'],
    ['ALERT_SMTP_SMARTHOST', 'smtp.example.com', 'ALERT_SMTP_SMARTHOST must be host:port'],
    ['ALERT_SMTP_REQUIRE_TLS', 'yes', 'ALERT_SMTP_REQUIRE_TLS must be true or false'],
  ])('rendering stops when %s is %j, naming it, and writes nothing', (name, value, message) => {
    const output = join(dir, `bad-${name}.yml`);
    const run = render({ ...exampleEnv, [name]: value }, output);
    expect(run.status).toBe(1);
    expect(run.output).toContain(message);
    expect(existsSync(output)).toBe(false);
  });
});

describeWithTools(['amtool'], 'the rendered Alertmanager config under amtool', () => {
  let config: string;
  beforeAll(() => {
    config = renderOrThrow(exampleEnv, join(dir, 'checked.yml'));
  });

  const amtool = (...args: string[]) => spawnSync('amtool', args, { encoding: 'utf8', timeout: 30_000 });

  test('amtool check-config accepts it', () => {
    const run = amtool('check-config', config);
    if (run.status !== 0) throw new Error(`amtool check-config failed:\n${run.stdout}${run.stderr}`);
    expect(run.stdout).toMatch(/SUCCESS/);
    expect(run.stdout).toMatch(/2 receivers/);
  });

  test.each([
    [['severity=critical', 'alertname=RenderWorkerDown'], 'oncall-email'],
    [['severity=warning', 'alertname=RenderQueueDepthHigh'], 'team-email'],
    [['alertname=SomethingWithoutSeverity'], 'team-email'],
  ])('an alert with %j is routed to %s', (labels, receiver) => {
    const run = amtool('config', 'routes', 'test', `--config.file=${config}`, ...labels);
    expect([run.status, run.stdout.trim()]).toEqual([0, receiver]);
  });
});

describeWithTools(['prometheus-alertmanager'], 'a real Alertmanager with the rendered config', () => {
  let sink: SmtpSink;
  let alertmanager: Daemon;

  beforeAll(async () => {
    sink = await startSmtpSink();
    const file = renderOrThrow(
      {
        ...exampleEnv,
        ALERT_SMTP_SMARTHOST: `127.0.0.1:${sink.port}`,
        // The sink speaks plain SMTP; production keeps STARTTLS required.
        ALERT_SMTP_REQUIRE_TLS: 'false',
      },
      join(dir, 'running.yml'),
    );
    // Routing and receivers as committed; only the first notification's wait is cut for the test.
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('group_wait: 30s');
    writeFileSync(file, text.replace('group_wait: 30s', 'group_wait: 1s'));
    const port = await freePort();
    alertmanager = await startDaemon(
      'prometheus-alertmanager',
      [
        `--config.file=${file}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // Empty: no cluster listener (it would take :9094).
        '--cluster.listen-address=',
      ],
      { port, readyPath: '/-/ready' },
    );
  });

  afterAll(async () => {
    await alertmanager?.stop();
    await sink?.close();
  });

  async function postAlerts(
    alerts: { labels: Record<string, string>; annotations: Record<string, string> }[],
  ) {
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts.map((a) => ({ ...a, startsAt: new Date().toISOString() }))),
    });
    expect(response.status).toBe(200);
  }

  test('emails a critical alert to the on-call address and a warning to the team address', async () => {
    await postAlerts([
      {
        labels: { alertname: 'RenderQueueOldestJobTooOld', severity: 'critical' },
        annotations: { summary: 'A render job has been queued for more than 15 minutes' },
      },
      {
        labels: { alertname: 'RenderRetriesHigh', severity: 'warning', renderer: 'revideo' },
        annotations: { summary: 'revideo renders are being retried often' },
      },
    ]);
    await eventually(
      `two emails at the SMTP server (Alertmanager said: ${alertmanager.output().slice(-500)})`,
      () => sink.messages.length >= 2,
      20_000,
    );
    const to = (address: string | undefined) => sink.messages.filter((m) => m.to.includes(address ?? ''));
    const [critical] = to(exampleEnv.ALERT_EMAIL_CRITICAL_TO);
    const [warning] = to(exampleEnv.ALERT_EMAIL_WARNING_TO);
    expect(critical?.from).toBe(exampleEnv.ALERT_SMTP_FROM);
    expect(critical?.to).toEqual([exampleEnv.ALERT_EMAIL_CRITICAL_TO]);
    expect(critical?.data).toMatch(/^Subject: \[FIRING:1\] RenderQueueOldestJobTooOld/m);
    expect(warning?.to).toEqual([exampleEnv.ALERT_EMAIL_WARNING_TO]);
    expect(warning?.data).toMatch(/^Subject: \[FIRING:1\] RenderRetriesHigh/m);
  });

  test('with no worker reporting, queue warnings are held back: the page says enough', async () => {
    await postAlerts([
      { labels: { alertname: 'RenderWorkerMetricsAbsent', severity: 'critical' }, annotations: {} },
      { labels: { alertname: 'RenderQueueDepthHigh', severity: 'warning' }, annotations: {} },
    ]);
    const status = await eventually('the warning marked inhibited', async () => {
      const response = await fetch(
        `${alertmanager.url}/api/v2/alerts?filter=${encodeURIComponent('alertname="RenderQueueDepthHigh"')}`,
      );
      const [alert] = (await response.json()) as { status: { state: string; inhibitedBy: string[] } }[];
      return alert?.status.state === 'suppressed' ? alert.status : undefined;
    });
    expect(status.inhibitedBy).toHaveLength(1);
  });
});
