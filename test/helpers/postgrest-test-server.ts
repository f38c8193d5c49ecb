/**
 * A PostgREST-subset test server: the part of PostgREST's HTTP API that supabase-js uses for the
 * Supabase JobStore adapter and the row-level-security tests, served over a real database.
 * PostgREST itself can't be installed on our machines; this stands in for it in tests only.
 *
 * Like PostgREST, each request runs in one transaction with `SET LOCAL ROLE <jwt role>` and
 * `request.jwt.claims` set, so grants and RLS policies are enforced by the database itself.
 *
 * Served: POST /rest/v1/rpc/<fn>, GET /rest/v1/<table> (select, eq/neq/lt/lte/gt/gte/in/is,
 * order, limit, offset), POST /rest/v1/<table> (insert), PATCH /rest/v1/<table> (update).
 * Not served: embedding, aliases/casts in select, upsert, DELETE, count, ranges, other schemas.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { attachRealtime } from './realtime-test-server';
import type { RealtimeTestServer } from './realtime-test-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool as PgPool } from 'pg';
import type { Pool, PoolClient } from 'pg';
import { migrate } from '../../src/store/migrate';
import { SupabaseJobStore } from '../../src/store/supabase-store';
import { createTestDatabase } from '../../dev/db';

export const SUPABASE_ROLES = ['anon', 'authenticated', 'service_role'] as const;
export type SupabaseRole = (typeof SUPABASE_ROLES)[number];

// ---------------------------------------------------------------- HS256 JWTs (node:crypto only)

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

/** The claims of a valid, unexpired HS256 token; throws a message fit for a 401 otherwise. */
export function verifyJwt(
  token: string,
  secret: string,
  nowSeconds = Date.now() / 1000,
): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('PGRST301', 'JWT invalid: expected 3 parts');
  const [head, body, signature] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: unknown };
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new JwtError('PGRST301', 'JWT invalid: malformed JSON');
  }
  if (header.alg !== 'HS256') throw new JwtError('PGRST301', 'JWT invalid: algorithm must be HS256');
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new JwtError('PGRST301', 'JWT invalid: signature mismatch');
  }
  if (typeof claims !== 'object' || claims === null) throw new JwtError('PGRST301', 'JWT invalid: claims');
  if (typeof claims.exp === 'number' && claims.exp <= nowSeconds)
    throw new JwtError('PGRST303', 'JWT expired');
  return claims;
}

class JwtError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- roles, as a Supabase project has them

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Creates anon/authenticated/service_role when missing (roles are cluster-wide; parallel test
 * files may race, so a duplicate is fine) and lets the connecting user SET ROLE to them.
 */
export async function ensureSupabaseRoles(db: Pool | PoolClient): Promise<void> {
  for (const role of SUPABASE_ROLES) {
    const attrs = role === 'service_role' ? 'NOLOGIN BYPASSRLS' : 'NOLOGIN';
    try {
      await db.query(`DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} ${attrs}; END IF;
        END $$`);
    } catch (error) {
      // 42710 duplicate_object / 23505 on pg_authid: another test file created it first.
      const code = (error as { code?: string }).code;
      if (code !== '42710' && code !== '23505') throw error;
    }
    const { rows } = await db.query<{ member: boolean }>(
      `SELECT pg_has_role(current_user, $1, 'MEMBER') AS member`,
      [role],
    );
    if (!rows[0]?.member) await db.query(`GRANT ${role} TO ${quoteIdent(await currentUser(db))}`);
  }
}

async function currentUser(db: Pool | PoolClient): Promise<string> {
  const { rows } = await db.query<{ u: string }>('SELECT current_user AS u');
  return rows[0]!.u;
}

/**
 * The privileges a fresh Supabase project gives its API roles on `public`: usage, and ALL on
 * every table, sequence and function created later by the connecting user. Call it BEFORE the
 * migrations, as on Supabase, so a migration's REVOKEs and RLS policies are what restrict them.
 */
export async function grantSupabaseDefaults(db: Pool | PoolClient): Promise<void> {
  await ensureSupabaseRoles(db);
  const roles = SUPABASE_ROLES.join(', ');
  await db.query(`GRANT USAGE ON SCHEMA public TO ${roles}`);
  for (const kind of ['TABLES', 'SEQUENCES', 'FUNCTIONS']) {
    await db.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON ${kind} TO ${roles}`);
  }
  // Every Supabase project has Realtime's (empty) publication; migrations add their tables to it.
  const { rows } = await db.query(`SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime'`);
  if (rows.length === 0) await db.query('CREATE PUBLICATION supabase_realtime');
}

// ---------------------------------------------------------------- errors in PostgREST's shape

interface ApiError {
  status: number;
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
}

const apiError = (
  status: number,
  code: string,
  message: string,
  details: string | null = null,
): ApiError => ({
  status,
  code,
  message,
  details,
  hint: null,
});

function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && 'status' in value && 'code' in value;
}

/** PostgREST's SQLSTATE -> HTTP status table (docs: "Errors", "SQLSTATE to HTTP status"). */
export function httpStatusForSqlState(code: string, role: SupabaseRole): number {
  if (code === '42501') return role === 'anon' ? 401 : 403;
  if (code === '23503' || code === '23505') return 409;
  if (code === '42883' || code === '42P01') return 404;
  if (code === '25006') return 405;
  if (code === 'P0001') return 400;
  if (code.startsWith('08') || code.startsWith('53')) return 503;
  if (code.startsWith('0L') || code.startsWith('0P') || code.startsWith('28')) return 403;
  if (code.startsWith('54')) return 413;
  if (/^(09|25|2D|38|39|3B|40|55|57|58|F0|HV|P0|XX)/.test(code)) return 500;
  return 400;
}

function fromDbError(error: unknown, role: SupabaseRole): ApiError {
  const e = error as { code?: string; message?: string; detail?: string; hint?: string };
  const code = e.code ?? 'XX000';
  return {
    status: httpStatusForSqlState(code, role),
    code,
    message: e.message ?? String(error),
    details: e.detail ?? null,
    hint: e.hint ?? null,
  };
}

// ---------------------------------------------------------------- request parsing

const IDENT = /^[a-z_][a-z0-9_]*$/;

function ident(name: string, what: string): string {
  if (!IDENT.test(name)) throw apiError(400, 'PGRST100', `invalid ${what} name ${JSON.stringify(name)}`);
  return quoteIdent(name);
}

/** `a,b,c` (or `*`); no embedding, aliases or casts. */
function parseSelect(select: string | null): string {
  if (select === null || select.trim() === '*' || select.trim() === '') return '*';
  return select
    .split(',')
    .map((c) => ident(c.trim(), 'column'))
    .join(', ');
}

/** `in.(a,"b,c")` list items; double quotes protect commas, backslash escapes inside quotes. */
function parseInList(raw: string): string[] {
  if (!raw.startsWith('(') || !raw.endsWith(')'))
    throw apiError(400, 'PGRST100', `in filter needs (a,b): ${raw}`);
  const items: string[] = [];
  let current = '';
  let quoted = false;
  const body = raw.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (quoted && ch === '\\') current += body[++i] ?? '';
    else if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      items.push(current);
      current = '';
    } else current += ch;
  }
  if (body.length > 0) items.push(current);
  return items;
}

const COMPARISONS: Record<string, string> = { eq: '=', neq: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };
const RESERVED_PARAMS = new Set(['select', 'order', 'limit', 'offset', 'columns', 'on_conflict']);

/** Column filters from the query string into a WHERE clause, values always as parameters. */
function parseFilters(query: URLSearchParams, params: unknown[]): string {
  const clauses: string[] = [];
  for (const [key, raw] of query) {
    if (RESERVED_PARAMS.has(key)) continue;
    const column = ident(key, 'column');
    const dot = raw.indexOf('.');
    const op = dot < 0 ? raw : raw.slice(0, dot);
    const value = dot < 0 ? '' : raw.slice(dot + 1);
    const sqlOp = COMPARISONS[op];
    if (sqlOp) {
      params.push(value);
      clauses.push(`${column} ${sqlOp} $${params.length}`);
    } else if (op === 'in') {
      params.push(parseInList(value));
      // Text array compared as text: PostgREST casts the list to the column's type; text keeps it simple.
      clauses.push(`${column}::text = ANY($${params.length}::text[])`);
    } else if (op === 'is') {
      const literal = { null: 'NULL', true: 'TRUE', false: 'FALSE', unknown: 'UNKNOWN' }[value.toLowerCase()];
      if (!literal) throw apiError(400, 'PGRST100', `is filter takes null|true|false|unknown, got ${value}`);
      clauses.push(`${column} IS ${literal}`);
    } else {
      throw apiError(400, 'PGRST100', `unsupported filter operator "${op}" on ${key}`);
    }
  }
  return clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
}

function parseOrder(order: string | null): string {
  if (!order) return '';
  const terms = order.split(',').map((term) => {
    const [column, ...modifiers] = term.trim().split('.');
    let sql = ident(column ?? '', 'column');
    for (const modifier of modifiers) {
      const mapped = { asc: 'ASC', desc: 'DESC', nullsfirst: 'NULLS FIRST', nullslast: 'NULLS LAST' }[
        modifier
      ];
      if (!mapped) throw apiError(400, 'PGRST100', `unsupported order modifier "${modifier}"`);
      sql += ` ${mapped}`;
    }
    return sql;
  });
  return ` ORDER BY ${terms.join(', ')}`;
}

function parseCount(value: string | null, what: string): string {
  if (value === null) return '';
  if (!/^\d+$/.test(value)) throw apiError(400, 'PGRST100', `${what} must be a non-negative integer`);
  return ` ${what.toUpperCase()} ${Number(value)}`;
}

function readBody(req: IncomingMessage, limit = 1_000_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) reject(apiError(413, 'PGRST413', 'request body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw apiError(400, 'PGRST102', 'Empty or invalid json');
  }
}

// ---------------------------------------------------------------- the server

export interface PostgrestTestServerOptions {
  /** A pool on the test database; the server takes one connection per request. */
  db: Pool;
  /** Also serve the Realtime stand-in (test/helpers/realtime-test-server.ts). */
  realtime?: boolean;
  /** HS256 secret for the keys; random when omitted. */
  jwtSecret?: string;
  port?: number;
}

export type DownMode = 'status' | 'reset' | 'hang';

export interface PostgrestTestServer {
  /** Base URL, as SUPABASE_URL (the REST API is under /rest/v1). */
  url: string;
  serviceRoleKey: string;
  anonKey: string;
  /** A key for a signed-in user: role authenticated, sub = userId. */
  userKey(userId: string): string;
  /**
   * Simulates an outage: 'status' answers 503 (default), 'reset' drops connections, 'hang'
   * accepts requests and never answers (until setDown(false) or close()).
   */
  setDown(down: boolean, mode?: DownMode): void;
  /** Requests served so far, by "METHOD path". */
  requests: string[];
  /** Present when started with `realtime: true`. */
  realtime?: RealtimeTestServer;
  close(): Promise<void>;
}

interface RequestContext {
  role: SupabaseRole;
  claims: Record<string, unknown>;
}

interface Reply {
  status: number;
  body?: unknown;
}

export async function startPostgrestTestServer(
  options: PostgrestTestServerOptions,
): Promise<PostgrestTestServer> {
  const { db } = options;
  const jwtSecret = options.jwtSecret ?? randomBytes(32).toString('hex');
  await ensureSupabaseRoles(db);

  // Ten years, like Supabase's project keys.
  const exp = Math.floor(Date.now() / 1000) + 10 * 365 * 24 * 3600;
  const keyFor = (claims: Record<string, unknown>) =>
    signJwt({ iss: 'postgrest-test-server', exp, ...claims }, jwtSecret);
  const serviceRoleKey = keyFor({ role: 'service_role' });
  const anonKey = keyFor({ role: 'anon' });

  let down: DownMode | undefined;
  const hung = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const requests: string[] = [];

  const authenticate = (req: IncomingMessage): RequestContext => {
    const authorization = req.headers.authorization;
    const apikey = req.headers.apikey;
    const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
    const token = bearer ?? (typeof apikey === 'string' ? apikey : undefined);
    // The Supabase gateway refuses requests without an API key before PostgREST sees them.
    if (!token) throw apiError(401, 'PGRST301', 'No API key found in request');
    let claims: Record<string, unknown>;
    try {
      claims = verifyJwt(token, jwtSecret);
    } catch (error) {
      if (error instanceof JwtError) throw apiError(401, error.code, error.message);
      throw error;
    }
    const role = claims.role;
    if (!SUPABASE_ROLES.includes(role as SupabaseRole)) {
      throw apiError(401, 'PGRST301', `JWT role ${JSON.stringify(role)} is not allowed`);
    }
    return { role: role as SupabaseRole, claims };
  };

  /** One transaction per request, as the JWT's role with its claims visible to SQL. */
  const asRole = async <T>(ctx: RequestContext, fn: (client: PoolClient) => Promise<T>): Promise<T> => {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL statement_timeout = '10s'`);
        await client.query(`SET LOCAL ROLE ${ctx.role}`);
        await client.query(
          `SELECT set_config('request.jwt.claims', $1, true), set_config('request.jwt.claim.sub', $2, true),
                  set_config('request.jwt.claim.role', $3, true)`,
          [JSON.stringify(ctx.claims), typeof ctx.claims.sub === 'string' ? ctx.claims.sub : '', ctx.role],
        );
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw isApiError(error) ? error : fromDbError(error, ctx.role);
      }
    } finally {
      client.release();
    }
  };

  const route = async (req: IncomingMessage, url: URL): Promise<Reply> => {
    const ctx = authenticate(req);
    const profile = req.headers['accept-profile'] ?? req.headers['content-profile'];
    if (profile !== undefined && profile !== 'public') {
      throw apiError(406, 'PGRST106', 'The schema must be one of the following: public');
    }
    const wantsObject = (req.headers.accept ?? '').includes('application/vnd.pgrst.object+json');
    const prefer = String(req.headers.prefer ?? '');
    const path = url.pathname.replace(/^\/rest\/v1\/?/, '');
    const rpc = /^rpc\/([^/]+)$/.exec(path)?.[1];
    if (rpc !== undefined) {
      if (req.method !== 'POST')
        throw apiError(405, 'PGRST117', `Unsupported HTTP method ${req.method} for rpc`);
      return callFunction(ctx, rpc, await jsonBody(req), url.searchParams);
    }
    if (!/^[^/]+$/.test(path)) throw apiError(404, 'PGRST125', `Invalid path ${url.pathname}`);
    const table = path;
    if (!IDENT.test(table))
      throw apiError(404, 'PGRST205', `Could not find the table 'public.${table}' in the schema cache`);
    await requireTable(table);
    let reply: Reply;
    if (req.method === 'GET') reply = await select(ctx, table, url.searchParams);
    else if (req.method === 'POST')
      reply = await insert(ctx, table, url.searchParams, await jsonBody(req), prefer);
    else if (req.method === 'PATCH')
      reply = await update(ctx, table, url.searchParams, await jsonBody(req), prefer);
    else throw apiError(405, 'PGRST117', `Unsupported HTTP method ${req.method}`);
    if (wantsObject && Array.isArray(reply.body)) {
      if (reply.body.length !== 1) {
        throw apiError(
          406,
          'PGRST116',
          'JSON object requested, multiple (or no) rows returned',
          `The result contains ${reply.body.length} rows`,
        );
      }
      reply = { status: reply.status, body: reply.body[0] };
    }
    return reply;
  };

  /** PostgREST answers from its schema cache: an unknown table is a 404, whatever the role. */
  const requireTable = async (table: string) => {
    const { rows } = await db.query(
      `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`,
      [table],
    );
    if (rows.length === 0) {
      throw apiError(404, 'PGRST205', `Could not find the table 'public.${table}' in the schema cache`);
    }
  };

  const select = async (ctx: RequestContext, table: string, query: URLSearchParams): Promise<Reply> => {
    const params: unknown[] = [];
    const sql =
      `SELECT to_jsonb(t) AS r FROM (SELECT ${parseSelect(query.get('select'))} FROM ${ident(table, 'table')}` +
      `${parseFilters(query, params)}${parseOrder(query.get('order'))}` +
      `${parseCount(query.get('limit'), 'limit')}${parseCount(query.get('offset'), 'offset')}) t`;
    const rows = await asRole(ctx, (client) => client.query<{ r: unknown }>(sql, params));
    return { status: 200, body: rows.rows.map((row) => row.r) };
  };

  /** Body keys (or ?columns=) become the column list, so omitted columns take their defaults. */
  const bodyColumns = (query: URLSearchParams, rows: Array<Record<string, unknown>>): string[] => {
    const listed = query.get('columns');
    const names = listed
      ? listed.split(',').map((c) => c.trim().replace(/^"|"$/g, ''))
      : [...new Set(rows.flatMap((row) => Object.keys(row)))];
    return names.map((name) => ident(name, 'column'));
  };

  const returning = (query: URLSearchParams, prefer: string) =>
    /return=representation/.test(prefer) ? ` RETURNING ${parseSelect(query.get('select'))}` : '';

  const insert = async (
    ctx: RequestContext,
    table: string,
    query: URLSearchParams,
    body: unknown,
    prefer: string,
  ): Promise<Reply> => {
    const rows = (Array.isArray(body) ? body : [body]) as Array<Record<string, unknown>>;
    if (rows.some((row) => typeof row !== 'object' || row === null || Array.isArray(row))) {
      throw apiError(400, 'PGRST102', 'All object keys must match');
    }
    const columns = bodyColumns(query, rows).join(', ');
    const t = ident(table, 'table');
    const ret = returning(query, prefer);
    // json_populate_recordset converts each value to its column's type, as PostgREST does.
    const statement = `INSERT INTO ${t} (${columns}) SELECT ${columns} FROM json_populate_recordset(null::${t}, $1::json)`;
    const sql = ret ? `WITH t AS (${statement}${ret}) SELECT to_jsonb(t) AS r FROM t` : statement;
    const result = await asRole(ctx, (client) => client.query<{ r: unknown }>(sql, [JSON.stringify(rows)]));
    return { status: 201, body: ret ? result.rows.map((row) => row.r) : undefined };
  };

  const update = async (
    ctx: RequestContext,
    table: string,
    query: URLSearchParams,
    body: unknown,
    prefer: string,
  ): Promise<Reply> => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw apiError(400, 'PGRST102', 'PATCH body must be a JSON object');
    }
    const columns = bodyColumns(new URLSearchParams(), [body as Record<string, unknown>]);
    if (columns.length === 0) return { status: 204 };
    const t = ident(table, 'table');
    const params: unknown[] = [JSON.stringify(body)];
    const where = parseFilters(query, params);
    const ret = returning(query, prefer);
    const list = columns.join(', ');
    const statement = `UPDATE ${t} SET (${list}) = (SELECT ${list} FROM json_populate_record(null::${t}, $1::json))${where}`;
    const sql = ret ? `WITH t AS (${statement}${ret}) SELECT to_jsonb(t) AS r FROM t` : statement;
    const result = await asRole(ctx, (client) => client.query<{ r: unknown }>(sql, params));
    return ret ? { status: 200, body: result.rows.map((row) => row.r) } : { status: 204 };
  };

  const callFunction = async (
    ctx: RequestContext,
    name: string,
    body: unknown,
    query: URLSearchParams,
  ): Promise<Reply> => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw apiError(400, 'PGRST102', 'rpc arguments must be a JSON object of named arguments');
    }
    const args = body as Record<string, unknown>;
    const fn = await findFunction(name, Object.keys(args));
    const params: unknown[] = [];
    const named = Object.entries(args).map(([arg, value]) => {
      const type = fn.argTypes.get(arg)!;
      params.push(toParam(value, type));
      return `${ident(arg, 'argument')} := $${params.length}::${type}`;
    });
    const call = `${ident(name, 'function')}(${named.join(', ')})`;
    if (fn.returnsVoid) {
      await asRole(ctx, (client) => client.query(`SELECT ${call}`, params));
      return { status: 204 };
    }
    // A set of rows can be shaped like a table read (select, filters, order, limit), as in PostgREST.
    const shaped = fn.returnsSet && [...query.keys()].length > 0;
    const sql = shaped
      ? `SELECT to_jsonb(t) AS r FROM (SELECT ${parseSelect(query.get('select'))} FROM ${call} r` +
        `${parseFilters(query, params)}${parseOrder(query.get('order'))}` +
        `${parseCount(query.get('limit'), 'limit')}${parseCount(query.get('offset'), 'offset')}) t`
      : // For a scalar function the whole-row reference `r` is the value itself; for a row type, an object.
        `SELECT to_jsonb(r) AS r FROM ${call} r`;
    const result = await asRole(ctx, (client) => client.query<{ r: unknown }>(sql, params));
    const values = result.rows.map((row) => row.r);
    return { status: 200, body: fn.returnsSet ? values : (values[0] ?? null) };
  };

  interface FunctionInfo {
    argTypes: Map<string, string>;
    returnsSet: boolean;
    returnsVoid: boolean;
  }

  /** The function whose named IN arguments cover the body's keys and every argument without a default. */
  const findFunction = async (name: string, given: string[]): Promise<FunctionInfo> => {
    const notFound = () =>
      apiError(
        404,
        'PGRST202',
        `Could not find the function public.${name}(${[...given].sort().join(', ')}) in the schema cache`,
      );
    if (!IDENT.test(name)) throw notFound();
    const { rows } = await db.query<{
      names: string[] | null;
      types: string[];
      modes: string[] | null;
      defaults: number;
      retset: boolean;
      void: boolean;
    }>(
      `SELECT p.proargnames AS names,
              ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t) AS types,
              p.proargmodes::text[] AS modes, p.pronargdefaults AS defaults, p.proretset AS retset,
              p.prorettype = 'void'::regtype AS void
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname = $1 AND p.prokind = 'f'`,
      [name],
    );
    for (const row of rows) {
      // proargnames covers all arguments (OUT too); proargtypes only the IN ones, in order.
      const inNames = (row.names ?? []).filter(
        (_, i) => !row.modes || ['i', 'b', 'v'].includes(row.modes[i]!),
      );
      if (inNames.length !== row.types.length) continue;
      const required = inNames.slice(0, inNames.length - row.defaults);
      if (!given.every((arg) => inNames.includes(arg)) || !required.every((arg) => given.includes(arg)))
        continue;
      return {
        argTypes: new Map(inNames.map((arg, i) => [arg, row.types[i]!])),
        returnsSet: row.retset,
        returnsVoid: row.void,
      };
    }
    throw notFound();
  };

  const server = createServer((req, res) => {
    requests.push(`${req.method} ${(req.url ?? '').split('?')[0]}`);
    if (down === 'reset') {
      req.socket.destroy();
      return;
    }
    if (down === 'hang') {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    }
    if (down === 'status') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream unavailable (test outage)');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    route(req, url).then(
      (reply) => send(res, reply),
      (error: unknown) => {
        const e = isApiError(error)
          ? error
          : apiError(500, 'PGRST000', (error as Error)?.message ?? String(error));
        send(res, {
          status: e.status,
          body: { code: e.code, message: e.message, details: e.details, hint: e.hint },
        });
      },
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const realtime = options.realtime
    ? await attachRealtime(server, {
        db,
        verifyKey: (token) => {
          const role = verifyJwt(token, jwtSecret).role;
          if (!SUPABASE_ROLES.includes(role as SupabaseRole)) throw new Error('role not allowed');
        },
      })
    : undefined;

  return {
    url: `http://127.0.0.1:${port}`,
    serviceRoleKey,
    anonKey,
    userKey: (userId: string) => keyFor({ role: 'authenticated', sub: userId, aud: 'authenticated' }),
    requests,
    ...(realtime ? { realtime } : {}),
    setDown(isDown: boolean, mode: DownMode = 'status') {
      down = isDown ? mode : undefined;
      if (isDown && mode === 'reset') for (const socket of sockets) socket.destroy();
      if (!isDown) for (const res of hung) res.destroy();
    },
    async close() {
      await realtime?.close();
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    res.writeHead(reply.status).end();
    return;
  }
  res
    .writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8' })
    .end(JSON.stringify(reply.body));
}

/** A JSON value as a query parameter of the argument's SQL type. */
function toParam(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'json' || type === 'jsonb') return JSON.stringify(value);
  if (typeof value === 'object' && !Array.isArray(value)) return JSON.stringify(value);
  return value;
}

// ---------------------------------------------------------------- a whole Supabase stand-in for tests

export interface SupabaseTestTarget {
  server: PostgrestTestServer;
  store: SupabaseJobStore;
  /** Direct pool on the fresh test database (superuser: for arranging and checking rows). */
  db: Pool;
  close(): Promise<void>;
}

/**
 * A fresh PostgreSQL database set up as a Supabase project would be (API roles and their default
 * privileges first, then our migrations), the PostgREST-subset server over it, and the Supabase
 * adapter pointed at the server with its service-role key. Needs a reachable PostgreSQL.
 */
export async function openSupabaseTestTarget(
  options: { timeoutMs?: number; realtime?: boolean } = {},
): Promise<SupabaseTestTarget> {
  const database = await createTestDatabase();
  const pool = new PgPool({ connectionString: database.url, max: 10, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined); // an idle connection dropped at DROP DATABASE ... WITH (FORCE)
  let server: PostgrestTestServer | undefined;
  try {
    await grantSupabaseDefaults(pool);
    await migrate(pool);
    server = await startPostgrestTestServer({ db: pool, ...(options.realtime ? { realtime: true } : {}) });
    const store = new SupabaseJobStore({
      url: server.url,
      serviceRoleKey: server.serviceRoleKey,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    const opened = server;
    return {
      server: opened,
      store,
      db: pool,
      async close() {
        await store.close();
        await opened.close();
        await pool.end();
        await database.drop();
      },
    };
  } catch (error) {
    await server?.close();
    await pool.end().catch(() => undefined);
    await database.drop();
    throw error;
  }
}
