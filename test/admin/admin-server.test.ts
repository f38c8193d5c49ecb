/**
 * The admin server without a browser or a Temporal server: who gets in, what bad input gets
 * back (and that nothing was done), what is logged, what the page shows of a queue of 10,000
 * and of hostile job errors. Admission's snapshot is built here from a real AdmissionQueue; the
 * read model is a small in-memory stand-in; the Temporal client fails the test if touched.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { Client } from '@temporalio/client';
import { startAdminServer } from '../../src/admin/server';
import type { AdminServer } from '../../src/admin/server';
import { Sessions, tokenDigest, tokenMatches } from '../../src/admin/auth';
import { JsonLogger } from '../../src/observability/logger';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import type { AdmissionSnapshot } from '../../src/shared/admission-messages';
import { NO_DURATIONS } from '../../src/shared/admission-estimate';
import { PRIORITIES, RENDERERS } from '../../src/shared/constants';
import type { JobRow, QueueStats } from '../../src/shared/job-schema';
import type { JobStore } from '../../src/store/job-store';

const TOKEN = `rq-test-admin-token-${randomUUID()}`;
const T0 = Date.parse('2026-12-01T10:00:00Z');

/** A queue of `count` waiting jobs (mixed priorities and renderers) and `holders` renders in flight. */
function snapshotOf(count: number, holders = 2): { snapshot: AdmissionSnapshot; ids: string[] } {
  const queue = new AdmissionQueue();
  const ids: string[] = [];
  for (let i = 0; i < holders + count; i += 1) {
    const jobId = randomUUID();
    ids.push(jobId);
    queue.request(
      { jobId, renderer: RENDERERS[i % 3]!, priority: PRIORITIES[i % 3]!, attempt: 1, acceptedAt: T0 + i },
      T0 + i,
    );
    if (i < holders) queue.dispatch({ total: holders, manim: holders }, T0 + i);
  }
  return {
    snapshot: {
      now: T0,
      version: 1,
      caps: { total: holders, manim: 1, peak: true },
      queue: queue.encode(),
      durations: NO_DURATIONS,
    },
    ids,
  };
}

function row(id: string, overrides: Partial<JobRow> = {}): JobRow {
  const at = new Date(T0).toISOString();
  return {
    id,
    userId: null,
    jobType: 'doubt',
    priority: 'medium',
    renderer: 'manim',
    status: 'queued',
    payload: { secret: 'PAYLOAD-NEVER-SHOWN' },
    retryCount: 0,
    progress: null,
    error: null,
    result: null,
    queuePosition: null,
    estimatedStartAt: null,
    nextAttemptAt: null,
    acceptedAt: at,
    workflowId: `render-job-${id}`,
    syncSeq: 1,
    createdAt: at,
    startedAt: null,
    completedAt: null,
    updatedAt: at,
    ...overrides,
  };
}

const STATS: QueueStats = {
  byStatus: { queued: 3, processing: 2, retrying: 0, completed: 9, failed: 1, cancelled: 0 },
  queuedByPriority: { high: 1, medium: 1, low: 1 },
  processingByRenderer: { manim: 1, revideo: 1, orchestrator: 0 },
  lastHour: { avgWaitSeconds: 3, avgRenderSeconds: 40, completed: 9, failed: 1 },
  oldestQueuedAgeSeconds: 10,
  caps: { totalRenders: 2, manimRenders: 1, peak: true },
  generatedAt: new Date(T0).toISOString(),
};

/** The read model the page reads: rows by id, the last failures, the stats; counts its calls. */
function fakeStore(rows: JobRow[]) {
  const calls = { getJobs: 0, getJob: 0 };
  const byId = new Map(rows.map((r) => [r.id, r]));
  const store = {
    getJobs: async (ids: readonly string[]) => {
      calls.getJobs += 1;
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
    getJob: async (id: string) => {
      calls.getJob += 1;
      return byId.get(id) ?? null;
    },
    listJobs: async (filter: { status?: string } = {}) => rows.filter((r) => r.status === filter.status),
    getQueueStats: async () => STATS,
  } as unknown as JobStore;
  return { store, calls };
}

/** A Temporal client that must not be used: bad input and refused requests never reach it. */
const untouchable = new Proxy({} as Client, {
  get(_target, prop) {
    throw new Error(`the Temporal client was used (${String(prop)})`);
  },
});

interface Running {
  server: AdminServer;
  logs: () => Array<Record<string, unknown>>;
  rawLogs: string[];
}

const running: AdminServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(
  opts: { token?: string; host?: string; snapshot?: AdmissionSnapshot; store?: JobStore } = {},
): Promise<Running> {
  const rawLogs: string[] = [];
  const server = await startAdminServer({
    host: opts.host ?? '127.0.0.1',
    port: 0,
    token: 'token' in opts ? opts.token : TOKEN,
    client: untouchable,
    store: opts.store,
    namespace: 'default',
    temporalUiUrl: 'http://localhost:8233',
    logger: new JsonLogger('DEBUG', (line) => rawLogs.push(line)),
    snapshot: async () => opts.snapshot ?? snapshotOf(3).snapshot,
  });
  running.push(server);
  return {
    server,
    rawLogs,
    logs: () => rawLogs.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const bearer = { authorization: `Bearer ${TOKEN}` };

test('tokens are compared as digests in constant time; sessions expire', () => {
  expect(tokenMatches(TOKEN, tokenDigest(TOKEN))).toBe(true);
  expect(tokenMatches(`${TOKEN}x`, tokenDigest(TOKEN))).toBe(false);
  expect(tokenMatches('', tokenDigest(TOKEN))).toBe(false);
  let now = 0;
  const sessions = new Sessions(() => now);
  const id = sessions.create('alice');
  expect(sessions.get(id)?.operator).toBe('alice');
  now += 13 * 3600 * 1000;
  expect(sessions.get(id)).toBeUndefined();
});

test('refuses to start on a non-loopback address without ADMIN_TOKEN, naming it', async () => {
  await expect(start({ token: undefined, host: '0.0.0.0' })).rejects.toThrow(/ADMIN_TOKEN must be set/);
  const open = await start({ token: undefined });
  expect((await fetch(open.server.url)).status).toBe(200);
});

test('without a token configured, only requests addressed to localhost are served (no DNS rebinding)', async () => {
  const { server } = await start({ token: undefined });
  // fetch() will not send another Host header; a plain request can, as a rebound page's would.
  const status = (host: string) =>
    new Promise<number>((resolve, reject) => {
      request(`${server.url}api/queue`, { headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
  expect(await status('evil.example:8090')).toBe(401);
  expect(await status(`localhost:${server.port}`)).toBe(200);
});

test('the page, its data, its stream and its actions answer 401 without the token', async () => {
  const { server } = await start();
  const page = await fetch(server.url);
  expect(page.status).toBe(401);
  const body = await page.text();
  expect(body).toContain('name="token"'); // the login form
  expect(body).not.toContain('data-job');
  for (const [method, path] of [
    ['GET', 'api/queue'],
    ['GET', 'events'],
    ['POST', `api/jobs/${randomUUID()}/cancel`],
  ] as const) {
    expect([path, (await fetch(server.url + path, { method })).status]).toEqual([path, 401]);
  }
  const wrong = await fetch(server.url, { headers: { authorization: `Bearer ${TOKEN}x` } });
  expect(wrong.status).toBe(401);
  // Static assets and the health check carry nothing secret.
  expect((await fetch(`${server.url}admin.js`)).status).toBe(200);
  expect((await fetch(`${server.url}healthz`)).status).toBe(200);
});

test('a browser logs in once: an HttpOnly SameSite=Strict session cookie, never the token', async () => {
  const { server, rawLogs } = await start();
  const form = (token: string, operator = 'Asha') =>
    fetch(`${server.url}login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, operator }).toString(),
    });
  const refused = await form('not-the-token');
  expect(refused.status).toBe(401);
  expect(refused.headers.get('set-cookie')).toBeNull();
  expect((await form(TOKEN, '<script>')).status).toBe(400);

  const ok = await form(TOKEN);
  expect(ok.status).toBe(303);
  const cookie = ok.headers.get('set-cookie')!;
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  expect(cookie).not.toContain(TOKEN);
  const session = cookie.split(';')[0]!;
  const page = await fetch(server.url, { headers: { cookie: session } });
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('Asha');
  expect(html).not.toContain(TOKEN);
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");

  // The cookie alone does not authorise an action (CSRF): the custom header is required, and a
  // foreign Origin is refused whatever it carries.
  const jobId = randomUUID();
  const noHeader = await fetch(`${server.url}api/jobs/${jobId}/cancel`, {
    method: 'POST',
    headers: { cookie: session },
  });
  expect(noHeader.status).toBe(403);
  const foreign = await fetch(`${server.url}api/jobs/${jobId}/cancel`, {
    method: 'POST',
    headers: { cookie: session, 'x-render-queue-admin': '1', origin: 'https://evil.example' },
  });
  expect(foreign.status).toBe(403);
  expect(rawLogs.join('\n')).not.toContain(TOKEN);

  const out = await fetch(`${server.url}logout`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: session },
  });
  expect(out.status).toBe(303);
  expect((await fetch(server.url, { headers: { cookie: session } })).status).toBe(401);
});

test('bad input answers 400 naming the field, is logged with the operator, and reaches nothing', async () => {
  const { server, logs, rawLogs } = await start();
  const jobId = randomUUID();
  const post = (path: string, body?: string) =>
    fetch(server.url + path, {
      method: 'POST',
      headers: { ...bearer, 'x-operator': 'Ravi', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body }),
    });
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['api/jobs/not-a-uuid/cancel', undefined, /^jobId: must be a uuid$/],
    [`api/jobs/${jobId}/priority`, '{"priority":"urgent"}', /^priority: /],
    [`api/jobs/${jobId}/priority`, '{}', /^priority: /],
    [`api/jobs/${jobId}/priority`, '{"priority":', /^body: not valid JSON$/],
    [`api/jobs/${jobId}/cancel`, '{"force":true}', /force/],
    [`api/jobs/${jobId}/delete`, undefined, /^action: expected one of cancel, retry, priority$/],
  ];
  for (const [path, body, error] of cases) {
    const res = await post(path, body);
    const answer = (await res.json()) as { error: string };
    expect([path, res.status]).toEqual([path, 400]);
    expect(answer.error).toMatch(error);
  }
  const big = await post(`api/jobs/${jobId}/priority`, JSON.stringify({ priority: 'x'.repeat(10_000) }));
  expect(big.status).toBe(413);
  const refusals = logs().filter((l) => l.msg === 'admin action refused');
  expect(refusals).toHaveLength(cases.length);
  expect(refusals[1]).toMatchObject({ operator: 'Ravi', action: 'priority', jobId });
  expect(refusals[1]!.client).toBeDefined();
  expect(rawLogs.join('\n')).not.toContain(TOKEN);
});

test('the first screen of 10,000 waiting jobs shows the first 50 in admission order; the last page the rest', async () => {
  const { snapshot, ids } = snapshotOf(10_000);
  const { store, calls } = fakeStore(ids.map((id) => row(id, { jobType: 'concept_explainer' })));
  const { server } = await start({ snapshot, store });
  const order = [...AdmissionQueue.decode(snapshot.queue).waitingInOrder()].map((e) => e.jobId);

  const first = await fetch(`${server.url}api/queue`, { headers: bearer });
  const view = (await first.json()) as {
    waiting: {
      total: number;
      pages: number;
      jobs: Array<{ jobId: string; order: number; position: number }>;
    };
    inFlight: { total: number; jobs: Array<{ jobId: string }> };
    caps: { total: number; peak: boolean };
  };
  expect(view.waiting.total).toBe(10_000);
  expect(view.waiting.pages).toBe(200);
  expect(view.waiting.jobs.map((j) => j.jobId)).toEqual(order.slice(0, 50));
  expect(view.waiting.jobs.map((j) => j.order)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(view.inFlight.jobs.map((j) => j.jobId).sort()).toEqual(ids.slice(0, 2).sort());
  expect(view.caps).toMatchObject({ total: 2, peak: true });
  // One batch read for the page and the renders in flight, never one read per job.
  expect(calls).toEqual({ getJobs: 1, getJob: 0 });

  const last = (await (
    await fetch(`${server.url}api/queue?page=200`, { headers: bearer })
  ).json()) as typeof view;
  expect(last.waiting.jobs.map((j) => j.jobId)).toEqual(order.slice(9_950));

  const page = await (await fetch(server.url, { headers: bearer })).text();
  expect(page.match(/<tr data-job=/g)).toHaveLength(50 + 2);
  expect(page).toContain('page 1 of 200');
  expect(page).toContain(`href="http://localhost:8233/namespaces/default/workflows/render-job-${order[0]}"`);
  expect(page).not.toContain('PAYLOAD-NEVER-SHOWN');
  expect((await fetch(`${server.url}api/queue?page=0`, { headers: bearer })).status).toBe(400);
});

test('job errors are shown escaped, with attempts; payloads and the token never appear', async () => {
  const failed = row(randomUUID(), {
    status: 'failed',
    error: '<img src=x onerror=alert(1)> renderer said "no" & quit',
    retryCount: 2,
    startedAt: new Date(T0).toISOString(),
    completedAt: new Date(T0 + 5000).toISOString(),
  });
  const { store } = fakeStore([failed]);
  const { server } = await start({ store });
  const page = await (await fetch(server.url, { headers: bearer })).text();
  expect(page).toContain('&lt;img src=x onerror=alert(1)&gt; renderer said &quot;no&quot; &amp; quit');
  expect(page).not.toContain('<img');
  expect(page).toMatch(new RegExp(`data-job="${failed.id}"[^]*?<td>3</td>`));
  const api = await (await fetch(`${server.url}api/queue`, { headers: bearer })).text();
  for (const text of [page, api]) {
    expect(text).not.toContain('PAYLOAD-NEVER-SHOWN');
    expect(text).not.toContain(TOKEN);
  }
});
