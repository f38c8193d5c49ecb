/**
 * What wakes intake the moment the frontend inserts a row: PostgreSQL's LISTEN/NOTIFY on a
 * direct connection (the `jobs_notify_intake` trigger), PGlite's in-process notifications, or
 * Supabase Realtime's stream of inserts when the worker reaches the database over REST. A wake-up
 * carries nothing: intake claims whatever is waiting, so a missed or doubled one costs nothing,
 * and the safety sweep catches anything a broken connection let through.
 */
import { supabaseJs } from '../store/supabase-js';
import type { SupabaseClientOptions } from '@supabase/supabase-js';
import type { PGlite } from '@electric-sql/pglite';
import { Client as PgClient } from 'pg';
import WebSocket from 'ws';
import { PG_TIMEOUTS, redactDatabaseUrl } from '../store/open-store';
import { errorMessage } from '../shared/error-message';

/** The channel of the `jobs_notify_intake` trigger (supabase/migrations). */
export const INTAKE_CHANNEL = 'render_queue_intake';

export interface WakeupLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface IntakeWakeups {
  /** Where the wake-ups come from, for logs. */
  readonly source: string;
  /** Calls `onWake` on every insert from now on (and after every reconnect, to catch up). */
  start(onWake: () => void): Promise<void>;
  stop(): Promise<void>;
}

const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

function messageOf(err: unknown): string {
  return errorMessage(err);
}

/** LISTEN on a connection of its own (a pool hands connections around; a listener must keep one). */
export function pgWakeups(url: string, logger: WakeupLogger): IntakeWakeups {
  let client: PgClient | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;
  const location = redactDatabaseUrl(url);

  async function connect(onWake: () => void): Promise<void> {
    const next = new PgClient({
      connectionString: url,
      connectionTimeoutMillis: PG_TIMEOUTS.connectionTimeoutMillis,
      application_name: 'render-queue-intake',
      keepAlive: true,
    });
    next.on('notification', () => onWake());
    next.on('error', (err) => lost(next, onWake, err));
    next.on('end', () => lost(next, onWake, new Error('connection ended')));
    await next.connect();
    await next.query(`LISTEN ${INTAKE_CHANNEL}`);
    client = next;
    delay = RECONNECT_MIN_MS;
    // Rows inserted while nobody listened.
    onWake();
  }

  function lost(which: PgClient, onWake: () => void, err: unknown): void {
    if (stopped || client !== which) return;
    client = undefined;
    which.end().catch(() => undefined);
    logger.warn('intake listener lost its connection; reconnecting', { location, error: messageOf(err) });
    schedule(onWake);
  }

  function schedule(onWake: () => void): void {
    retryTimer = setTimeout(() => {
      connect(onWake).catch((err: unknown) => {
        logger.warn('intake listener could not reconnect', { location, error: messageOf(err) });
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
        if (!stopped) schedule(onWake);
      });
    }, delay);
    retryTimer.unref();
  }

  return {
    source: 'postgres LISTEN',
    async start(onWake) {
      await connect(onWake);
    },
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}

/** PGlite runs in this process: its notifications arrive as calls, no connection to keep. */
export function pgliteWakeups(db: PGlite): IntakeWakeups {
  let unlisten: (() => Promise<void>) | undefined;
  return {
    source: 'pglite LISTEN',
    async start(onWake) {
      unlisten = await db.listen(INTAKE_CHANNEL, () => onWake());
      onWake();
    },
    async stop() {
      await unlisten?.().catch(() => undefined);
      unlisten = undefined;
    },
  };
}

type RealtimeTransport = NonNullable<NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport']>;

/**
 * Supabase Realtime's `postgres_changes` for inserts into `jobs` (the table is in the
 * `supabase_realtime` publication, see the migrations). The service-role key reads every insert.
 * Realtime rejoins on its own after a drop; each (re)join wakes intake to catch up.
 */
export function realtimeWakeups(url: string, serviceRoleKey: string, logger: WakeupLogger): IntakeWakeups {
  const supabase = supabaseJs().createClient(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // Node 20 has no global WebSocket.
    realtime: { transport: WebSocket as unknown as RealtimeTransport },
  });
  const channel = supabase.channel('render-queue-intake');
  const host = new URL(url).host;
  return {
    source: 'supabase realtime',
    start(onWake) {
      return new Promise<void>((resolve) => {
        let first = true;
        channel
          .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'jobs' }, () => onWake())
          .subscribe((status, err) => {
            if (status === 'SUBSCRIBED') {
              onWake();
              if (first) logger.info('intake listening to Supabase Realtime', { host });
            } else {
              logger.warn('Supabase Realtime channel not subscribed; the safety sweep covers meanwhile', {
                host,
                status,
                ...(err ? { error: messageOf(err) } : {}),
              });
            }
            // Start-up never waits on Realtime: intake works without it, only later.
            if (first) {
              first = false;
              resolve();
            }
          });
      });
    },
    async stop() {
      await supabase.removeChannel(channel).catch(() => undefined);
      supabase.realtime.disconnect();
    },
  };
}
