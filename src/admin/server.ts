/**
 * `render-queue admin`: the live render queue on one page, and the operator's actions on a job.
 * Plain node:http, no framework: a handful of routes, every one behind the operator token (see
 * auth.ts) except the login form, the static script and stylesheet, and /healthz.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { redact, registerSecret } from '../observability/secrets';
import { errorFirstLine } from '../shared/error-message';
import { admissionSnapshotQuery } from '../shared/admission-messages';
import type { AdmissionSnapshot } from '../shared/admission-messages';
import { ADMISSION_WORKFLOW_ID } from '../shared/constants';
import type { JobStore } from '../store/job-store';
import { withTimeout } from '../util/with-timeout';
import { ActionInputError, parseAction, runAction } from './actions';
import { CLIENT_SCRIPT, STYLESHEET } from './assets';
import { Gate, Sessions, actionAllowed, assertSafeBind, operatorName } from './auth';
import type { Identity } from './auth';
import { PAGE_SIZE, SharedQueueState, buildView } from './data';
import type { AdminSources } from './data';
import { LiveUpdates } from './live';
import { renderLogin, renderPage } from './page';

export interface AdminServerOptions {
  host: string;
  port: number;
  /** ADMIN_TOKEN; without it the server refuses a non-loopback host. */
  token: string | undefined;
  client: Client;
  store: JobStore | undefined;
  namespace: string;
  temporalUiUrl: string;
  logger: Logger;
  pageSize?: number;
  liveIntervalMs?: number;
  /** The admission snapshot; by default one query of the admission workflow. */
  snapshot?: () => Promise<AdmissionSnapshot>;
}

export interface AdminServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const SNAPSHOT_TIMEOUT_MS = 5_000;
const MAX_BODY_BYTES = 4096;

// No inline script or style anywhere: a job error that slipped past escaping still could not run.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, extra = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra }).end(body);
}

const sendJson = (res: ServerResponse, status: number, body: unknown, extra = {}) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), extra);

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body: larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parsePage(raw: string | null): number {
  if (raw === null || raw === '') return 1;
  const page = Number(raw);
  if (!Number.isInteger(page) || page < 1) throw new HttpError(400, `page: expected a whole number from 1`);
  return page;
}

const firstLine = (err: unknown) => redact(errorFirstLine(err));

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  assertSafeBind(options.host, options.token);
  registerSecret(options.token); // loadEnv registers it too; this covers any other caller
  const { client, logger } = options;
  const gate = new Gate(options.token);
  const sources: AdminSources = {
    snapshot:
      options.snapshot ??
      (() =>
        withTimeout(
          client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery),
          SNAPSHOT_TIMEOUT_MS,
          `admission query timed out after ${SNAPSHOT_TIMEOUT_MS} ms`,
        )),
    store: options.store,
    temporalUiUrl: options.temporalUiUrl,
    namespace: options.namespace,
  };
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const shared = new SharedQueueState(sources);
  const live = new LiveUpdates(sources, shared, {
    ...(options.liveIntervalMs ? { intervalMs: options.liveIntervalMs } : {}),
    onError: (err) => logger.warn('admin live update failed', { error: firstLine(err) }),
  });
  const clientAddress = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (gate.open) return void res.writeHead(303, { ...SECURITY_HEADERS, location: './' }).end();
    const form = new URLSearchParams(await readBody(req));
    const rawName = form.get('operator') ?? '';
    const name = rawName.trim() === '' ? 'operator' : operatorName(rawName);
    if (!gate.checkToken(form.get('token') ?? '')) {
      logger.warn('admin login refused', { client: clientAddress(req) });
      return send(res, 401, 'text/html; charset=utf-8', renderLogin('That is not the operator token.'));
    }
    if (!name) {
      return send(
        res,
        400,
        'text/html; charset=utf-8',
        renderLogin('name: use up to 64 letters, digits, spaces and . @ + -'),
      );
    }
    const session = gate.sessions.create(name);
    logger.info('admin login', { operator: name, client: clientAddress(req) });
    res
      .writeHead(303, { ...SECURITY_HEADERS, location: './', 'set-cookie': gate.sessions.cookie(session) })
      .end();
  }

  async function action(
    req: IncomingMessage,
    res: ServerResponse,
    who: Identity & { ok: true },
    jobId: string,
    name: string,
  ): Promise<void> {
    const base = { operator: who.operator, via: who.via, client: clientAddress(req), action: name };
    const refusal = actionAllowed(req, who);
    if (refusal) {
      logger.warn('admin action refused', { ...base, error: refusal });
      return sendJson(res, 403, { error: refusal });
    }
    let request;
    try {
      const text = await readBody(req);
      let body: unknown = {};
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          throw new ActionInputError('body: not valid JSON');
        }
      }
      request = parseAction(name, jobId, body);
    } catch (err) {
      if (!(err instanceof ActionInputError)) throw err;
      logger.warn('admin action refused', { ...base, jobId: jobId.slice(0, 64), error: err.message });
      return sendJson(res, 400, { error: err.message });
    }
    try {
      const result = await runAction(client, request, options.store);
      logger.info('admin action', {
        ...base,
        jobId: request.jobId,
        ...(request.priority ? { priority: request.priority } : {}),
        outcome: result.outcome,
      });
      live.poke();
      sendJson(res, result.status, {
        jobId: request.jobId,
        action: name,
        outcome: result.outcome,
        message: result.message,
      });
    } catch (err) {
      logger.error('admin action failed', { ...base, jobId: request.jobId, error: firstLine(err) });
      sendJson(res, 502, { error: `${name} failed: ${firstLine(err)}` });
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (get && path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (get && path === '/admin.js') return send(res, 200, 'text/javascript; charset=utf-8', CLIENT_SCRIPT);
    if (get && path === '/admin.css') return send(res, 200, 'text/css; charset=utf-8', STYLESHEET);
    if (method === 'POST' && path === '/login') return login(req, res);

    const who = gate.identify(req);
    if (!who.ok) {
      const challenge = { 'www-authenticate': 'Bearer realm="render-queue admin"' };
      return get && path === '/'
        ? send(res, 401, 'text/html; charset=utf-8', renderLogin(), challenge)
        : sendJson(res, 401, { error: `unauthorized: ${who.reason}` }, challenge);
    }
    if (get && path === '/') {
      const view = await buildView(
        await shared.get(),
        parsePage(url.searchParams.get('page')),
        sources,
        pageSize,
      );
      return send(res, 200, 'text/html; charset=utf-8', renderPage(view, Date.now(), who.operator));
    }
    if (get && path === '/api/queue') {
      const view = await buildView(
        await shared.get(),
        parsePage(url.searchParams.get('page')),
        sources,
        pageSize,
      );
      return sendJson(res, 200, view);
    }
    if (get && path === '/events') return live.watch(res, parsePage(url.searchParams.get('page')));
    if (method === 'POST' && path === '/logout') {
      gate.sessions.end(who.sessionId);
      return void res
        .writeHead(303, { ...SECURITY_HEADERS, location: './', 'set-cookie': Sessions.clearedCookie() })
        .end();
    }
    const job = /^\/api\/jobs\/([^/]+)\/([^/]+)$/.exec(path);
    if (job) {
      if (method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return action(req, res, who, decodeURIComponent(job[1]!), job[2]!);
    }
    sendJson(res, 404, { error: 'not found' });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof URIError ? 400 : 500;
      if (status === 500)
        logger.error('admin request failed', { path: req.url?.split('?')[0], error: firstLine(err) });
      if (!res.headersSent) sendJson(res, status, { error: firstLine(err) });
      else res.end();
    });
  });
  server.requestTimeout = 15_000; // receiving a request; an event stream's response is not bounded
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${port}/`;
  logger.info('admin page listening', { url, host: options.host, port, auth: gate.open ? 'none' : 'token' });
  if (gate.open) logger.warn('ADMIN_TOKEN is not set: anyone on this machine can use the admin page');
  return {
    url,
    port,
    async close() {
      await live.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
