/**
 * Live updates over server-sent events. One loop serves every open page: about once a second it
 * loads the queue once (SharedQueueState: one admission query, one round of read-model queries),
 * builds the view of each page being watched, and sends a page's sections only when its view
 * changed. Nothing runs while no page is open.
 */
import type { ServerResponse } from 'node:http';
import type { AdminSources, SharedQueueState } from './data';
import { buildView } from './data';
import { renderSections } from './page';

const MAX_BUFFERED_BYTES = 1024 * 1024;

interface Watcher {
  res: ServerResponse;
  page: number;
  lastKey: string;
}

export interface LiveOptions {
  intervalMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  keepAliveMs?: number;
  onError?: (err: unknown) => void;
}

export class LiveUpdates {
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pokedWhileRunning = false;
  private lastKeepAlive = Date.now();
  private readonly intervalMs: number;
  private readonly keepAliveMs: number;

  constructor(
    private readonly sources: AdminSources,
    private readonly state: SharedQueueState,
    private readonly options: LiveOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
  }

  /** Starts streaming to `res`; the first update goes out at the next tick (at once). */
  watch(res: ServerResponse, page: number): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.write(': live\n\n');
    const watcher: Watcher = { res, page, lastKey: '' };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
    this.poke();
  }

  /** Something changed here (an action): update every page now rather than at the next tick. */
  poke(): void {
    this.state.invalidate();
    if (this.running) {
      this.pokedWhileRunning = true; // the running tick may have read the state from before
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /** Ends every stream; resolves once a tick in progress has finished. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.watchers.size === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick()
        .catch((err: unknown) => this.options.onError?.(err))
        .finally(() => {
          this.running = undefined;
          const again = this.pokedWhileRunning;
          this.pokedWhileRunning = false;
          this.schedule(again ? 0 : this.intervalMs);
        });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    if (this.watchers.size === 0) return;
    const state = await this.state.get();
    const pages = new Set([...this.watchers].map((w) => w.page));
    for (const page of pages) {
      const view = await buildView(state, page, this.sources);
      const key = JSON.stringify(view);
      const now = this.sources.now?.() ?? Date.now();
      let data: string | undefined;
      for (const w of this.watchers) {
        if (w.page !== page || w.lastKey === key) continue;
        // A client that stopped reading is cut off rather than buffered for: it reconnects.
        if (w.res.writableLength > MAX_BUFFERED_BYTES) {
          w.res.destroy();
          this.watchers.delete(w);
          continue;
        }
        data ??= JSON.stringify(renderSections(view, now));
        w.res.write(`event: update\ndata: ${data}\n\n`);
        w.lastKey = key;
      }
    }
    if (Date.now() - this.lastKeepAlive >= this.keepAliveMs) {
      this.lastKeepAlive = Date.now();
      for (const w of this.watchers) w.res.write(': keep-alive\n\n');
    }
  }
}
