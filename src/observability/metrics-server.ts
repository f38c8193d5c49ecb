/**
 * The small HTTP server that exposes the render metrics with the Temporal SDK's own metrics and
 * a health check.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorMessage } from '../shared/error-message';

/**
 * The Temporal SDK's metrics, read from the Runtime's own Prometheus exporter (bound to
 * localhost), so one scrape target carries both. Never throws: a failure becomes a comment.
 */
export function sdkMetricsText(url: string, timeoutMs = 2_000): () => Promise<string> {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) return `# temporal sdk metrics unavailable: HTTP ${response.status}\n`;
      return await response.text();
    } catch (error) {
      const reason = errorMessage(error);
      return `# temporal sdk metrics unavailable: ${reason.replace(/\s+/g, ' ')}\n`;
    }
  };
}

export interface MetricsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** `/healthz` answers 200 while this is true, 503 otherwise. */
  health: () => boolean;
  /** Appended to `/metrics`, e.g. `sdkMetricsText(...)`; its metric names must not clash with ours. */
  extraText?: () => Promise<string>;
}

export interface MetricsServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      const healthy = safeHealth(options.health);
      res
        .writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' })
        .end(healthy ? 'ok\n' : 'unhealthy\n');
    } else if (path === '/metrics') {
      scrape(options).then(
        (body) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(body),
        (error: unknown) =>
          res
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`metrics failed: ${errorMessage(error)}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  // A stuck scraper must not hold sockets open forever.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    port,
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function safeHealth(health: () => boolean): boolean {
  try {
    return health();
  } catch {
    return false;
  }
}

async function scrape(options: MetricsServerOptions): Promise<string> {
  const [ours, extra] = await Promise.all([options.registry.metrics(), options.extraText?.() ?? '']);
  return extra ? `${ours.trimEnd()}\n${extra}` : ours;
}
