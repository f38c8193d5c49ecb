/**
 * A fault-injecting HTTP proxy in front of one renderer simulator. Each rule picks a job and a
 * method (POST /render, GET /render/:id) and says what goes wrong for its next `times` calls:
 * an answer that arrives after the client gave up, a TCP reset, a 5xx, or a 200 with garbage.
 * Calls without a matching rule are forwarded untouched, so the render itself is real.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** Forwarded, but the answer is held back `delayMs` (past the client's request timeout). */
  | { kind: 'slow'; delayMs: number }
  /** The connection is reset (TCP RST) once the request has arrived; nothing is answered. */
  | { kind: 'reset' }
  /** Answered here with this HTTP status; the simulator never sees the call. */
  | { kind: 'status'; code: number; body?: string }
  /** Answered 200 with a body that is not JSON. */
  | { kind: 'garbage' };

export interface FaultRule {
  jobId: string;
  method: 'POST' | 'GET';
  fault: Fault;
  /** How many matching calls fail; every one when omitted. */
  times?: number;
}

export interface ProxyHit {
  method: string;
  path: string;
  jobId: string | null;
  /** The fault applied, or 'forwarded'. */
  outcome: Fault['kind'] | 'forwarded';
}

export interface FaultProxy {
  url: string;
  hits: ProxyHit[];
  addRule(rule: FaultRule): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const rules: Array<FaultRule & { left: number }> = [];
  const jobOfRender = new Map<string, string>();
  const hits: ProxyHit[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const takeFault = (method: string, jobId: string | null): Fault | undefined => {
    const rule = rules.find((r) => r.method === method && r.jobId === jobId && r.left > 0);
    if (!rule) return undefined;
    rule.left -= 1;
    return rule.fault;
  };

  const forward = (req: http.IncomingMessage, body: Buffer, delayMs: number, res: http.ServerResponse) => {
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
        agent: false,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const text = Buffer.concat(chunks);
          if (req.method === 'POST') learnRenderId(text, body);
          const reply = () => {
            if (res.destroyed) return;
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(text);
          };
          if (delayMs <= 0) return reply();
          const timer = setTimeout(() => {
            timers.delete(timer);
            reply();
          }, delayMs);
          timers.add(timer);
        });
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  };

  const learnRenderId = (answer: Buffer, request: Buffer) => {
    try {
      const { renderId } = JSON.parse(answer.toString('utf8')) as { renderId?: string };
      const { jobId } = JSON.parse(request.toString('utf8')) as { jobId?: string };
      if (renderId && jobId) jobOfRender.set(renderId, jobId);
    } catch {
      // not a submit answer
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const method = req.method ?? 'GET';
      let jobId: string | null = null;
      if (method === 'POST' && path === '/render') {
        try {
          jobId = (JSON.parse(body.toString('utf8')) as { jobId?: string }).jobId ?? null;
        } catch {
          jobId = null;
        }
      } else {
        const renderId = /^\/render\/([^/]+)$/.exec(path)?.[1];
        jobId = renderId ? (jobOfRender.get(decodeURIComponent(renderId)) ?? null) : null;
      }
      const fault = method === 'POST' || method === 'GET' ? takeFault(method, jobId) : undefined;
      hits.push({ method, path, jobId, outcome: fault?.kind ?? 'forwarded' });
      switch (fault?.kind) {
        case undefined:
          return forward(req, body, 0, res);
        case 'slow':
          return forward(req, body, fault.delayMs, res);
        case 'reset':
          req.socket.resetAndDestroy();
          return;
        case 'status':
          res
            .writeHead(fault.code, { 'content-type': 'application/json' })
            .end(fault.body ?? JSON.stringify({ error: `injected ${fault.code}` }));
          return;
        case 'garbage':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status": "rend');
          return;
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    addRule: (rule) => rules.push({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY }),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
