/**
 * The production packaging as Docker Compose sees it (`docker-compose config`, no engine needed):
 * services, ports, a non-root worker, the dynamic config that turns priority matching on with one
 * partition per render queue, the monitoring profile (Prometheus scraping every worker replica,
 * Alertmanager, Grafana provisioned with the dashboard), the admin page behind ADMIN_TOKEN; and the
 * Dockerfile's shape. `docker-compose` comes from Debian
 * (`node scripts/setup.mjs --with-compose`); without it the compose checks are skipped, except
 * under CI where they must run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import { parse } from 'yaml';
import { EnvSchema, loadEnv } from '../../src/config/env';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../dev/server/tool-paths';
import { RENDER_TASK_QUEUE, WORKFLOW_TASK_QUEUE } from '../../src/shared/constants';

const ROOT = join(__dirname, '..', '..');
const COMPOSE_FILE = 'docker-compose.temporal.yml';
const RENDER_QUEUES = [...Object.values(RENDER_TASK_QUEUE), ...Object.values(WORKFLOW_TASK_QUEUE)];

function composeAvailable(): boolean {
  return spawnSync('docker-compose', ['version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

const hasCompose = composeAvailable();
const onCi = process.env.CI === 'true' || process.env.CI === '1';
if (!hasCompose && !onCi) {
  process.stderr.write(
    `${JSON.stringify({ level: 'warn', msg: 'docker-compose not installed: compose config checks skipped (node scripts/setup.mjs --with-compose installs it)' })}\n`,
  );
}
const composeTest = hasCompose || onCi ? test : test.skip;

interface ComposeService {
  image?: string;
  profiles?: string[];
  expose?: (string | number)[];
  command?: string[];
  secrets?: (string | { source: string })[];
  user?: string;
  ports?: (string | { published?: string | number; target?: number })[];
  volumes?: (string | { source?: string; target?: string; read_only?: boolean })[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition?: string }>;
  entrypoint?: string[];
  stop_grace_period?: string;
  restart?: string;
  build?: { context: string; dockerfile?: string };
  env_file?: unknown;
  healthcheck?: { test?: string[] };
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file?: string }>;
}

/** The operator token the compose runs get from the environment (.env.example leaves it empty). */
const ADMIN_TOKEN = 'compose-test-admin-token-0123456789';

/**
 * Runs `docker-compose [--profile P] config` on a copy of the files, with .env made from
 * .env.example. Host paths in the answer point into the copy: `dir` says where that was.
 */
function composeConfig(
  profile?: string,
  adminToken: string | null = ADMIN_TOKEN,
): ComposeConfig & { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rq-compose-'));
  try {
    for (const entry of [COMPOSE_FILE, 'deploy', 'docs', 'Dockerfile'])
      cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
    cpSync(join(ROOT, '.env.example'), join(dir, '.env'));
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      ...(adminToken ? { ADMIN_TOKEN: adminToken } : {}),
    };
    const run = (args: string[]) =>
      execFileSync('docker-compose', ['-f', COMPOSE_FILE, ...args], {
        cwd: dir,
        env,
        timeout: 60_000,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    // Both Compose v1 (Debian bookworm's 1.29) and v2 print YAML; v1 has no --format flag.
    const text = run([...(profile ? ['--profile', profile] : []), 'config']);
    const config = parse(text) as ComposeConfig;
    return { ...config, dir };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function publishedPorts(service: ComposeService): number[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port !== 'string') return Number(port.published);
    // [host_ip:]published:target[/proto]
    const parts = port.replace(/\/\w+$/, '').split(':');
    return Number(parts[parts.length - 2] ?? parts[0]);
  });
}

function mounts(service: ComposeService): { source: string; target: string; readOnly: boolean }[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') {
      return {
        source: volume.source ?? '',
        target: volume.target ?? '',
        readOnly: volume.read_only === true,
      };
    }
    const [source = '', target = '', mode = ''] = volume.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro') };
  });
}

/** Services that run without a profile (Compose v1 lists profiled ones in `config` too). */
function unprofiled(services: Record<string, ComposeService>): string[] {
  return Object.keys(services).filter((name) => !services[name]?.profiles?.length);
}

describe('docker-compose.temporal.yml', () => {
  let services: Record<string, ComposeService>;
  let dir: string;
  const config = () => {
    if (!services) ({ services, dir } = composeConfig());
    return services;
  };

  composeTest(
    'has Temporal on Postgres, its UI, the one-shot admin tools and the worker (the admin page is a profile)',
    () => {
      expect(unprofiled(config()).sort()).toEqual([
        'postgresql',
        'temporal',
        'temporal-admin-tools',
        'temporal-ui',
        'worker',
      ]);
      // Pinned images, never :latest.
      for (const [name, service] of Object.entries(config())) {
        if (name === 'worker' || name === 'admin') continue; // the image built here
        expect(service.image).toMatch(/:v?\d[\w.-]*$/);
      }
      expect(config().temporal?.image).toMatch(/^temporalio\/auto-setup:/);
      expect(config().postgresql?.image).toMatch(/^postgres:16/);
    },
  );

  composeTest('publishes 7233 (Temporal) and 8080 (UI) on localhost', () => {
    expect(publishedPorts(config().temporal!)).toContain(7233);
    expect(publishedPorts(config()['temporal-ui']!)).toContain(8080);
    for (const name of ['temporal', 'temporal-ui']) {
      expect(config()[name]!.ports?.map((p) => (typeof p === 'string' ? p.split(':')[0] : ''))).toEqual([
        '127.0.0.1',
      ]);
    }
  });

  composeTest(
    'the worker exposes 9464 to the compose network and publishes no host port, so it scales',
    () => {
      expect(config().worker!.ports ?? []).toEqual([]);
      expect((config().worker!.expose ?? []).map(String)).toContain('9464');
    },
  );

  composeTest(
    'runs the worker as a non-root user, from the Dockerfile, with its env file and a drain period',
    () => {
      const worker = config().worker!;
      expect(worker.user).toBeDefined();
      expect(['root', '0', '0:0']).not.toContain(String(worker.user));
      expect(worker.build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
      expect(worker.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(worker.environment?.WORKFLOW_BUNDLE_PATH).toBe('/app/dist/workflow-bundle.js');
      expect(worker.environment?.METRICS_PORT).toBe('9464');
      // Values from .env (here .env.example) reach the worker.
      expect(worker.environment?.MANIM_API_URL).toBe('http://localhost:5000');
      expect(worker.restart).toBe('unless-stopped');
      expect(worker.stop_grace_period).toBe('60s');
      expect(worker.depends_on?.temporal?.condition).toBe('service_healthy');
      expect(worker.depends_on?.['temporal-admin-tools']?.condition).toBe('service_completed_successfully');
    },
  );

  composeTest(
    'serves the admin page from the worker image on localhost:8090 only, with the operator token',
    () => {
      const admin = composeConfig('admin').services.admin!;
      expect(admin.image).toBe(config().worker!.image);
      expect(admin.command).toEqual([
        'node',
        'dist/src/cli.js',
        'admin',
        '--host',
        '0.0.0.0',
        '--port',
        '8090',
      ]);
      expect(admin.ports).toEqual(['127.0.0.1:8090:8090/tcp']);
      expect(admin.environment?.ADMIN_TOKEN).toBe(ADMIN_TOKEN);
      expect(admin.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(admin.environment?.TEMPORAL_UI_URL).toBe('http://localhost:8080');
      expect(['root', '0', '0:0']).not.toContain(String(admin.user));
      expect(admin.depends_on?.temporal?.condition).toBe('service_healthy');
      // The image's health check probes the worker's metrics port; the admin page has its own.
      expect(admin.healthcheck?.test?.join(' ')).toContain('http://127.0.0.1:8090/healthz');
      expect(() => loadEnv({ ...admin.environment } as NodeJS.ProcessEnv)).not.toThrow();
    },
  );

  composeTest(
    'the admin page is opt-in (profile admin): the stack runs without ADMIN_TOKEN, the page gets it when set',
    () => {
      const plain = composeConfig(undefined, null).services;
      expect(plain.admin?.profiles).toEqual(['admin']);
      expect(unprofiled(plain)).not.toContain('admin');
      expect(composeConfig('admin', null).services.admin?.environment?.ADMIN_TOKEN ?? '').toBe('');
      // Without the token the page itself refuses to start on 0.0.0.0 (test/admin covers that refusal).
    },
  );

  composeTest('mounts the dynamic config into the Temporal server and points it at the file', () => {
    const temporal = config().temporal!;
    const mount = mounts(temporal).find((m) => m.target === '/etc/temporal/config/dynamicconfig');
    expect(mount?.source).toBe(join(dir, 'deploy', 'dynamicconfig'));
    expect(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH).toBe('config/dynamicconfig/development.yaml');
    expect(temporal.environment?.DB).toBe('postgres12');
    expect(temporal.environment?.POSTGRES_SEEDS).toBe('postgresql');
    expect(temporal.depends_on?.postgresql?.condition).toBe('service_healthy');
  });

  composeTest(
    'registers the search attributes with a one-shot admin-tools run of deploy/register-search-attributes.sh',
    () => {
      const admin = config()['temporal-admin-tools']!;
      expect(admin.image).toMatch(/^temporalio\/admin-tools:/);
      const script = mounts(admin).find((m) => m.source.endsWith('register-search-attributes.sh'));
      expect(script).toBeDefined();
      expect(admin.entrypoint).toContain(script!.target);
      expect(admin.restart).toBe('no');
      expect(admin.depends_on?.temporal?.condition).toBe('service_healthy');
    },
  );
});

describe('docker-compose.temporal.yml --profile monitoring', () => {
  let monitoring: (ComposeConfig & { dir: string }) | undefined;
  const config = () => (monitoring ??= composeConfig('monitoring'));
  const service = (name: string) => config().services[name]!;
  /** Bind mounts of a service, their sources mapped back into the repository. */
  const binds = (name: string) =>
    mounts(service(name))
      .filter((m) => m.source.startsWith(config().dir))
      .map((m) => ({ ...m, source: relative(config().dir, m.source) }));
  const promConfig = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    scrape_configs: {
      job_name: string;
      dns_sd_configs?: { names: string[]; type: string; port: number }[];
    }[];
  };

  composeTest('adds Prometheus, Alertmanager and Grafana, pinned, only under the profile', () => {
    const names = Object.keys(config().services);
    const profiled = names.filter((name) => config().services[name]?.profiles?.includes('monitoring')).sort();
    expect(profiled).toEqual(['alertmanager', 'grafana', 'prometheus']);
    for (const name of profiled) {
      expect(service(name).profiles).toEqual(['monitoring']);
      expect(service(name).image).toMatch(/:v?\d+\.\d+\.\d+$/);
    }
    // The versions Debian's promtool and amtool, which check these configs in the suite, come from.
    expect(service('prometheus').image).toBe('prom/prometheus:v2.42.0');
    expect(service('alertmanager').image).toBe('prom/alertmanager:v0.25.0');
  });

  composeTest('publishes Prometheus :9090, Alertmanager :9093 and Grafana :3000 on localhost only', () => {
    for (const [name, port] of [
      ['prometheus', 9090],
      ['alertmanager', 9093],
      ['grafana', 3000],
    ] as const) {
      expect([name, service(name).ports]).toEqual([name, [`127.0.0.1:${port}:${port}/tcp`]]);
    }
  });

  composeTest(
    'every file a monitoring service mounts exists in the repository and is mounted read-only',
    () => {
      const bound = ['prometheus', 'alertmanager', 'grafana'].flatMap((name) => binds(name));
      expect(bound.length).toBeGreaterThanOrEqual(7);
      for (const { source, readOnly } of bound) {
        expect([source, existsSync(join(ROOT, source)), readOnly]).toEqual([source, true, true]);
      }
      const secret = config().secrets?.alert_smtp_password?.file ?? '';
      expect(existsSync(join(ROOT, relative(config().dir, secret)))).toBe(true);
    },
  );

  composeTest(
    'Prometheus scrapes every worker replica by DNS on the service name and evaluates docs/alerts.yml',
    () => {
      const job = promConfig.scrape_configs.find((c) => c.job_name === 'render-queue-worker');
      expect(job?.dns_sd_configs).toEqual([
        { names: ['worker'], type: 'A', port: 9464, refresh_interval: '15s' },
      ]);
      expect(Object.keys(config().services)).toContain('worker');
      expect(config().services.worker!.environment?.METRICS_PORT).toBe('9464');
      const configMount = binds('prometheus').find((m) => m.source === 'deploy/prometheus/prometheus.yml');
      expect(service('prometheus').command).toContain(`--config.file=${configMount?.target}`);
      // rule_files are relative to the config file inside the container.
      const rules = promConfig.rule_files.map((file) => posix.join(posix.dirname(configMount!.target), file));
      expect(binds('prometheus')).toContainEqual({
        source: 'docs/alerts.yml',
        target: rules[0],
        readOnly: true,
      });
      expect(promConfig.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(['alertmanager:9093']);
    },
  );

  composeTest('Alertmanager renders docs/alertmanager.yml from the ALERT_* settings before it starts', () => {
    const alertmanager = service('alertmanager');
    const template = binds('alertmanager').find((m) => m.source === 'docs/alertmanager.yml')?.target;
    const script = binds('alertmanager').find(
      (m) => m.source === 'deploy/alertmanager/render-config.sh',
    )?.target;
    const command = (alertmanager.entrypoint ?? []).join(' ');
    expect(command).toContain(
      `sh ${script} ${template} /alertmanager/alertmanager.yml && exec /bin/alertmanager`,
    );
    expect(command).toContain('--config.file=/alertmanager/alertmanager.yml');
    // Values from .env (here .env.example) reach it; the password only as a secret file.
    expect(alertmanager.environment?.ALERT_EMAIL_CRITICAL_TO).toBe('oncall@example.com');
    expect(alertmanager.environment?.ALERT_SMTP_SMARTHOST).toBe('smtp.example.com:587');
    expect(Object.keys(alertmanager.environment ?? {}).filter((key) => /PASSWORD/.test(key))).toEqual([]);
    expect(alertmanager.secrets).toEqual([{ source: 'alert_smtp_password' }]);
    expect(readFileSync(join(ROOT, 'docs', 'alertmanager.yml'), 'utf8')).toContain(
      'smtp_auth_password_file: /run/secrets/alert_smtp_password',
    );
  });

  composeTest(
    'Grafana is provisioned with the Prometheus datasource and docs/grafana-dashboard.json as home',
    () => {
      const grafana = service('grafana');
      const dashboard = binds('grafana').find((m) => m.source === 'docs/grafana-dashboard.json');
      expect(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(dashboard?.target);
      const provisioning = (kind: string) =>
        binds('grafana').find((m) => m.target === `/etc/grafana/provisioning/${kind}`)?.source ?? '';
      const provider = parse(
        readFileSync(join(ROOT, provisioning('dashboards'), 'render-queue.yml'), 'utf8'),
      ) as { providers: { options: { path: string } }[] };
      expect(provider.providers[0]?.options.path).toBe(posix.dirname(dashboard!.target));
      const datasources = parse(
        readFileSync(join(ROOT, provisioning('datasources'), 'prometheus.yml'), 'utf8'),
      ) as { datasources: { type: string; url: string; isDefault: boolean }[] };
      expect(datasources.datasources).toEqual([
        expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true }),
      ]);
      expect(
        dashboard?.target.endsWith(':ro') || mounts(grafana).some((m) => m.target === dashboard?.target),
      ).toBe(true);
    },
  );
});

describe('deploy/dynamicconfig/development.yaml', () => {
  type Entry = { value: unknown; constraints?: { taskQueueName?: string } };
  const file = parse(
    readFileSync(join(ROOT, 'deploy', 'dynamicconfig', 'development.yaml'), 'utf8'),
  ) as Record<string, Entry[]>;

  test('turns the new matcher (task-queue priority) on for every queue', () => {
    expect(file['matching.useNewMatcher']).toEqual([{ value: true }]);
  });

  test.each(['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions'])(
    '%s is 1 for each render and workflow task queue',
    (key) => {
      const byQueue = new Map((file[key] ?? []).map((e) => [e.constraints?.taskQueueName, e.value]));
      for (const queue of RENDER_QUEUES) expect([queue, byQueue.get(queue)]).toEqual([queue, 1]);
    },
  );

  test('sets every dev-server flag to the same value, so both servers order tasks alike', () => {
    for (const flag of DEV_SERVER_DYNAMIC_CONFIG) {
      const [key = '', raw] = flag.split('=');
      const values = (file[key] ?? []).map((e) => String(e.value));
      expect([key, values.length > 0 && values.every((v) => v === raw)]).toEqual([key, true]);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() && !line.trim().startsWith('#'));

  test('is multi-stage: builds with dev dependencies, runs with production dependencies only', () => {
    expect(instructions.filter((l) => /^FROM\s/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
    expect(dockerfile).toMatch(/build-workflow-bundle\.ts dist\/workflow-bundle\.js/);
    expect(dockerfile).toMatch(/WORKFLOW_BUNDLE_PATH=\/app\/dist\/workflow-bundle\.js/);
    expect(dockerfile).toMatch(/^COPY supabase\/migrations /m);
  });

  test('runs as a non-root user, with a health check, SIGTERM and the compiled worker', () => {
    const user = instructions.filter((l) => /^USER\s/.test(l)).pop();
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
    expect(instructions.some((l) => /^HEALTHCHECK\s.*CMD/.test(l) && l.includes('/healthz'))).toBe(true);
    expect(instructions).toContain('STOPSIGNAL SIGTERM');
    expect(instructions.pop()).toBe('CMD ["node", "dist/src/worker.js"]');
  });

  test('the health check script is valid JavaScript', () => {
    const cmd = /HEALTHCHECK[^\n]*?CMD (\[.*\])$/m.exec(dockerfile.replace(/\\\n\s*/g, ''))?.[1];
    const [node, flag, code] = JSON.parse(cmd ?? '[]') as string[];
    expect([node, flag]).toEqual(['node', '-e']);
    expect(() => new Function(code ?? 'syntax error here')).not.toThrow();
  });

  test('.dockerignore keeps secrets and host artefacts out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.env', 'node_modules', 'dist', '.tools', '.data', '.git'])
      expect(ignored).toContain(entry);
  });
});

describe('.env.example', () => {
  const text = readFileSync(join(ROOT, '.env.example'), 'utf8');
  const active = Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

  test('documents every variable the worker reads, each with a comment', () => {
    const lines = text.split('\n');
    for (const key of Object.keys(EnvSchema.shape)) {
      const at = lines.findIndex((l) => new RegExp(`^(# )?${key}=`).test(l));
      expect([key, at >= 0]).toEqual([key, true]);
      expect([key, lines[at - 1]?.startsWith('#')]).toEqual([key, true]);
    }
  });

  test('its values pass the worker configuration check and hold no secret', () => {
    expect(() => loadEnv(active)).not.toThrow();
    expect(active.SUPABASE_SERVICE_ROLE_KEY ?? '').toBe('');
  });
});
