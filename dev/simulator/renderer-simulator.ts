/**
 * A local stand-in for one render backend, speaking the real HTTP contract (src/renderers/contract.ts).
 * Tests and the demo drive it through `payload.simulate` (see behaviour.ts); it records every call
 * in a ledger and counts renders in flight, so capacity and cancellation tests can assert on what
 * the renderer actually saw.
 *
 * Lifecycle of an accepted render: `queued`, then one tick every durationMs/steps moves it to
 * `rendering` with progress step/steps; after the last tick it ends as its outcome says. `hang`
 * and `malformed` only change what GET answers; the render itself runs its normal course.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Renderer } from '../../src/shared/constants';
import { describeZodError } from '../../src/shared/job-schema';
import {
  RenderRequestSchema,
  type RenderStatusResponse,
  type RenderStatusValue,
} from '../../src/renderers/contract';
import { MALFORMED_BODY, SimulateSchema, resolveBehaviour, type Behaviour } from './behaviour';

export interface RendererSimulatorOptions {
  backend: Renderer;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  defaultDurationMs?: number;
  progressSteps?: number;
}

export interface LedgerEntry {
  /** Epoch ms when the request arrived. */
  at: number;
  method: string;
  path: string;
  jobId: string | null;
  attempt: number | null;
  renderId: string | null;
  /** The answer's HTTP status; null while (or because) it was never answered. */
  httpStatus: number | null;
}

export interface SimulatorStats {
  inFlight: number;
  maxInFlight: number;
  inFlightJobIds: string[];
  started: { jobId: string; attempt: number; at: number; renderId: string }[];
  completed: { jobId: string; attempt: number; renderId: string }[];
  failed: { jobId: string; attempt: number; renderId: string }[];
  cancelled: string[];
}

export type SimulatorEvent =
  | { type: 'request'; entry: LedgerEntry }
  | { type: 'started'; jobId: string; attempt: number; renderId: string }
  | { type: 'progress'; jobId: string; renderId: string; progress: number }
  | { type: 'finished'; jobId: string; attempt: number; renderId: string; status: 'completed' | 'failed' }
  | { type: 'cancelled'; jobId: string; attempt: number; renderId: string };

export interface RendererSimulator {
  readonly url: string;
  readonly port: number;
  readonly backend: Renderer;
  /** Every call, in arrival order (a live array: read it, don't change it). */
  readonly ledger: readonly LedgerEntry[];
  stats(): SimulatorStats;
  /** New renders stay `rendering` at their last step until released. */
  hold(): void;
  /** With a job id: release that job's held renders (holding stays on). Without: release all and stop holding. */
  release(jobId?: string): void;
  /** A sick renderer answers GET /health with 503. */
  setHealthy(healthy: boolean): void;
  onEvent(listener: (event: SimulatorEvent) => void): () => void;
  /** Resolves once `predicate` holds, re-checked after every event; rejects after timeoutMs. */
  waitFor(predicate: (sim: RendererSimulator) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface SimRender {
  renderId: string;
  jobId: string;
  attempt: number;
  behaviour: Behaviour;
  status: RenderStatusValue;
  progress: number;
  step: number;
  held: boolean;
  /** Reached its last step while held: finishes on release. */
  waitingForRelease: boolean;
  cancelled: boolean;
  videoUrl: string | null;
  error: string | null;
  retryable: boolean | null;
  timer: NodeJS.Timeout | null;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startRendererSimulator(options: RendererSimulatorOptions): Promise<RendererSimulator> {
  const backend = options.backend;
  const host = options.host ?? '127.0.0.1';
  const defaults = { durationMs: options.defaultDurationMs ?? 300, steps: options.progressSteps ?? 5 };
  const ledger: LedgerEntry[] = [];
  const renders = new Map<string, SimRender>();
  const postsByJob = new Map<string, number>();
  const listeners = new Set<(event: SimulatorEvent) => void>();
  const stats: Omit<SimulatorStats, 'inFlight' | 'inFlightJobIds'> = {
    maxInFlight: 0,
    started: [],
    completed: [],
    failed: [],
    cancelled: [],
  };
  let holding = false;
  let healthy = true;
  let closed = false;
  let baseUrl = '';

  const emit = (event: SimulatorEvent) => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch {
        // a test's listener must not break the simulator
      }
    }
  };
  const isInFlight = (r: SimRender) => !r.cancelled && (r.status === 'queued' || r.status === 'rendering');
  const inFlight = () => [...renders.values()].filter(isInFlight);

  function tick(render: SimRender): void {
    render.timer = null;
    const { steps, outcome } = render.behaviour;
    render.step += 1;
    if (outcome === 'never-finish' && render.step >= Math.ceil(steps / 2)) {
      setProgress(render, 0.5);
      return; // stuck for good: no further tick
    }
    if (render.step >= steps) {
      if (render.held) {
        render.waitingForRelease = true;
        setProgress(render, (steps - 1) / steps);
        return;
      }
      finish(render);
      return;
    }
    setProgress(render, render.step / steps);
    schedule(render);
  }

  function setProgress(render: SimRender, progress: number): void {
    render.status = 'rendering';
    if (progress === render.progress) return;
    render.progress = progress;
    emit({ type: 'progress', jobId: render.jobId, renderId: render.renderId, progress });
  }

  function schedule(render: SimRender): void {
    if (closed) return;
    const { durationMs, steps } = render.behaviour;
    render.timer = setTimeout(() => tick(render), durationMs / steps);
  }

  function finish(render: SimRender): void {
    const { outcome } = render.behaviour;
    const ids = { jobId: render.jobId, attempt: render.attempt, renderId: render.renderId };
    if (outcome === 'fail' || outcome === 'fail-permanently') {
      render.status = 'failed';
      render.retryable = outcome === 'fail';
      render.error =
        outcome === 'fail'
          ? 'simulated render failure'
          : 'simulated permanent failure: the scene cannot be rendered';
      stats.failed.push(ids);
      emit({ type: 'finished', ...ids, status: 'failed' });
      return;
    }
    render.status = 'completed';
    render.progress = 1;
    render.videoUrl = outcome === 'bad-video-url' ? 'not a url' : `${baseUrl}/videos/${render.renderId}.mp4`;
    stats.completed.push(ids);
    emit({ type: 'finished', ...ids, status: 'completed' });
  }

  function release(jobId?: string): void {
    if (jobId === undefined) holding = false;
    for (const render of renders.values()) {
      if (!render.held || (jobId !== undefined && render.jobId !== jobId)) continue;
      render.held = false;
      if (render.waitingForRelease && !render.cancelled) {
        render.waitingForRelease = false;
        finish(render);
      }
    }
  }

  function statusBody(render: SimRender): RenderStatusResponse {
    if (render.cancelled) return { status: 'failed', error: 'render cancelled', retryable: false };
    return {
      status: render.status,
      progress: render.progress,
      ...(render.videoUrl !== null ? { videoUrl: render.videoUrl } : {}),
      ...(render.error !== null ? { error: render.error, retryable: render.retryable } : {}),
    };
  }

  async function handlePost(body: string, entry: LedgerEntry): Promise<[number, unknown]> {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return [400, { error: 'request body is not valid JSON' }];
    }
    const parsed = RenderRequestSchema.safeParse(json);
    if (!parsed.success) return [400, { error: describeZodError(parsed.error) }];
    const request = parsed.data;
    entry.jobId = request.jobId;
    entry.attempt = request.attempt;
    if (backend === 'orchestrator' && !request.pipeline) {
      return [400, { error: 'pipeline: the orchestrator needs to know which pipeline to run' }];
    }
    const simulate = SimulateSchema.safeParse(request.payload.simulate ?? {});
    if (!simulate.success) {
      const issues = simulate.error.issues.map(
        (i) => `${['payload.simulate', ...i.path].join('.')}: ${i.message}`,
      );
      return [400, { error: issues.join('; ') }];
    }
    const behaviour = resolveBehaviour(simulate.data, defaults);
    const posts = (postsByJob.get(request.jobId) ?? 0) + 1;
    postsByJob.set(request.jobId, posts);
    if (posts <= behaviour.failTimes) {
      return [500, { error: `simulated outage (request ${posts} of ${behaviour.failTimes} failing)` }];
    }
    if (behaviour.outcome === 'reject') {
      return [400, { error: 'simulated rejection: the scene description is invalid' }];
    }
    const render: SimRender = {
      renderId: `${backend}-${randomUUID()}`,
      jobId: request.jobId,
      attempt: request.attempt,
      behaviour,
      status: 'queued',
      progress: 0,
      step: 0,
      held: holding,
      waitingForRelease: false,
      cancelled: false,
      videoUrl: null,
      error: null,
      retryable: null,
      timer: null,
    };
    renders.set(render.renderId, render);
    entry.renderId = render.renderId;
    stats.started.push({
      jobId: render.jobId,
      attempt: render.attempt,
      at: Date.now(),
      renderId: render.renderId,
    });
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight().length);
    emit({ type: 'started', jobId: render.jobId, attempt: render.attempt, renderId: render.renderId });
    schedule(render);
    return [202, { renderId: render.renderId }];
  }

  function handleDelete(render: SimRender): [number, unknown] {
    const wasInFlight = isInFlight(render);
    if (wasInFlight) {
      render.cancelled = true;
      if (render.timer) clearTimeout(render.timer);
      render.timer = null;
      stats.cancelled.push(render.renderId);
      emit({ type: 'cancelled', jobId: render.jobId, attempt: render.attempt, renderId: render.renderId });
    }
    return [200, { renderId: render.renderId, cancelled: wasInFlight }];
  }

  async function route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: LedgerEntry,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const path = entry.path;
    if (path === '/health' && method === 'GET') {
      return send(
        res,
        entry,
        healthy ? 200 : 503,
        healthy ? { status: 'ok', backend } : { error: 'unhealthy' },
      );
    }
    if (path === '/render' && method === 'POST') {
      const body = await readBody(req);
      if (body === null) return send(res, entry, 413, { error: 'request body too large' });
      const [code, json] = await handlePost(body, entry);
      return send(res, entry, code, json);
    }
    const renderMatch = /^\/render\/([^/]+)$/.exec(path);
    if (renderMatch && (method === 'GET' || method === 'DELETE')) {
      const renderId = decodeURIComponent(renderMatch[1] ?? '');
      entry.renderId = renderId;
      const render = renders.get(renderId);
      if (!render) return send(res, entry, 404, { error: `unknown render ${renderId}` });
      entry.jobId = render.jobId;
      entry.attempt = render.attempt;
      if (method === 'DELETE') return send(res, entry, ...handleDelete(render));
      if (render.behaviour.outcome === 'hang') return; // never answered; close() destroys the socket
      if (render.behaviour.outcome === 'malformed') return sendRaw(res, entry, 200, MALFORMED_BODY);
      return send(res, entry, 200, statusBody(render));
    }
    if (/^\/videos\/[^/]+$/.test(path) && method === 'GET') {
      entry.httpStatus = 200;
      res.writeHead(200, { 'content-type': 'video/mp4' }).end(Buffer.from('simulated video'));
      return;
    }
    return send(res, entry, 404, { error: `no route for ${method} ${path}` });
  }

  const server = http.createServer((req, res) => {
    const entry: LedgerEntry = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      jobId: null,
      attempt: null,
      renderId: null,
      httpStatus: null,
    };
    ledger.push(entry);
    route(req, res, entry)
      .catch(() => send(res, entry, 500, { error: 'simulator error' }))
      .finally(() => emit({ type: 'request', entry }));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host}:${port}`;

  const simulator: RendererSimulator = {
    url: baseUrl,
    port,
    backend,
    ledger,
    stats: () => {
      const flying = inFlight();
      return {
        ...stats,
        started: [...stats.started],
        completed: [...stats.completed],
        failed: [...stats.failed],
        cancelled: [...stats.cancelled],
        inFlight: flying.length,
        inFlightJobIds: flying.map((r) => r.jobId),
      };
    },
    hold: () => {
      holding = true;
    },
    release,
    setHealthy: (value) => {
      healthy = value;
    },
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitFor: (predicate, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(simulator)) return resolve();
        const stop = () => {
          clearTimeout(timer);
          unsubscribe();
        };
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`${backend} simulator: waitFor condition not met within ${timeoutMs} ms`));
        }, timeoutMs);
        const unsubscribe = simulator.onEvent(() => {
          if (!predicate(simulator)) return;
          stop();
          resolve();
        });
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const render of renders.values()) if (render.timer) clearTimeout(render.timer);
      listeners.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      // Hung GETs and idle keep-alive sockets would otherwise keep close() waiting forever.
      server.closeAllConnections();
      await done;
    },
  };
  return simulator;
}

function send(res: http.ServerResponse, entry: LedgerEntry, code: number, body: unknown): void {
  sendRaw(res, entry, code, JSON.stringify(body));
}

function sendRaw(res: http.ServerResponse, entry: LedgerEntry, code: number, body: string): void {
  entry.httpStatus = code;
  if (res.headersSent) return;
  res.writeHead(code, { 'content-type': 'application/json' }).end(body);
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
