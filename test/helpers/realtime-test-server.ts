/**
 * A Supabase Realtime stand-in for tests, attached to the PostgREST-subset test server: the
 * Phoenix channel protocol (v2, JSON text frames) at /realtime/v1/websocket, speaking enough of
 * it for supabase-js's `postgres_changes` subscriptions (join, heartbeat, access token, leave).
 *
 * Real Realtime streams the write-ahead log of the tables in the `supabase_realtime`
 * publication. This stand-in reads the same publication and installs, on each of its tables, a
 * trigger that NOTIFYs every inserted row on a channel of its own, which it LISTENs to. So a
 * table missing from the publication streams nothing here either.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { WebSocket, WebSocketServer } from 'ws';

const CHANNEL = 'postgrest_test_realtime';

type Frame = [string | null, string | null, string, string, unknown];

interface Binding {
  id: number;
  event: string;
  schema: string;
  table: string;
}

interface Subscriber {
  socket: WebSocket;
  joinRef: string | null;
  topic: string;
  bindings: Binding[];
}

export interface RealtimeTestServer {
  /** Socket connections accepted so far. */
  readonly connections: number;
  /** Drops every socket (as a network blip would); clients reconnect on their own. */
  dropAll(): void;
  close(): Promise<void>;
}

/** Streams inserts of every table in `supabase_realtime` through NOTIFY (see the header). */
async function installPublicationTriggers(db: Pool): Promise<void> {
  await db.query(`
    create or replace function postgrest_test_realtime_notify() returns trigger
    language plpgsql as $$
    begin
      perform pg_notify('${CHANNEL}', json_build_object(
        'schema', tg_table_schema, 'table', tg_table_name, 'type', tg_op, 'record', to_jsonb(new))::text);
      return null;
    end $$`);
  const { rows } = await db.query<{ schemaname: string; tablename: string }>(
    `select schemaname, tablename from pg_publication_tables where pubname = 'supabase_realtime'`,
  );
  for (const { schemaname, tablename } of rows) {
    await db.query(
      `create or replace trigger postgrest_test_realtime after insert on "${schemaname}"."${tablename}"
       for each row execute function postgrest_test_realtime_notify()`,
    );
  }
}

export async function attachRealtime(
  server: Server,
  options: { db: Pool; verifyKey: (token: string) => void },
): Promise<RealtimeTestServer> {
  await installPublicationTriggers(options.db);
  const listener: PoolClient = await options.db.connect();
  await listener.query(`LISTEN ${CHANNEL}`);
  const subscribers = new Set<Subscriber>();
  let connections = 0;
  let nextBindingId = 1;

  const send = (socket: WebSocket, frame: Frame): void => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  };

  listener.on('notification', (message) => {
    const change = JSON.parse(message.payload ?? '{}') as {
      schema: string;
      table: string;
      type: string;
      record: Record<string, unknown>;
    };
    for (const sub of subscribers) {
      const ids = sub.bindings
        .filter(
          (b) =>
            (b.event === '*' || b.event.toUpperCase() === change.type) &&
            (b.schema === '*' || b.schema === change.schema) &&
            (b.table === '*' || b.table === change.table),
        )
        .map((b) => b.id);
      if (ids.length === 0) continue;
      send(sub.socket, [
        sub.joinRef,
        null,
        sub.topic,
        'postgres_changes',
        {
          ids,
          data: {
            schema: change.schema,
            table: change.table,
            commit_timestamp: new Date().toISOString(),
            type: change.type,
            columns: [],
            record: change.record,
            errors: null,
          },
        },
      ]);
    }
  });

  const wss = new WebSocketServer({ noServer: true });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/realtime/v1/websocket') {
      socket.destroy();
      return;
    }
    try {
      options.verifyKey(url.searchParams.get('apikey') ?? '');
    } catch {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  };
  server.on('upgrade', onUpgrade);

  function accept(ws: WebSocket): void {
    connections += 1;
    const mine = new Set<Subscriber>();
    ws.on('message', (raw) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(raw)) as Frame;
      } catch {
        return;
      }
      const [joinRef, ref, topic, event, payload] = frame;
      const reply = (response: unknown, status = 'ok') =>
        send(ws, [joinRef, ref, topic, 'phx_reply', { status, response }]);
      if (event === 'heartbeat' || event === 'access_token') {
        if (event === 'heartbeat') reply({});
        return;
      }
      if (event === 'phx_join') {
        const config = (payload as { config?: { postgres_changes?: Omit<Binding, 'id'>[] } }).config;
        const bindings = (config?.postgres_changes ?? []).map((b) => ({ ...b, id: nextBindingId++ }));
        const sub: Subscriber = { socket: ws, joinRef, topic, bindings };
        subscribers.add(sub);
        mine.add(sub);
        reply({ postgres_changes: bindings });
        return;
      }
      if (event === 'phx_leave') {
        for (const sub of mine) if (sub.topic === topic) subscribers.delete(sub);
        reply({});
      }
    });
    ws.on('close', () => {
      for (const sub of mine) subscribers.delete(sub);
    });
  }

  return {
    get connections() {
      return connections;
    },
    dropAll() {
      for (const client of wss.clients) client.terminate();
    },
    async close() {
      server.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await listener.query(`UNLISTEN ${CHANNEL}`).catch(() => undefined);
      listener.release();
    },
  };
}
