/**
 * Who may use the admin page, and how a browser proves it without ever holding the token.
 *
 * - Scripts send `Authorization: Bearer <ADMIN_TOKEN>` with every request.
 * - A browser posts the token once, through the login form. The answer sets a random session id
 *   in an HttpOnly, SameSite=Strict cookie: the token never travels back to the browser, and no
 *   script on the page can read the cookie.
 * - A POST that relies on the cookie must also carry the `X-Render-Queue-Admin` header (CSRF): a
 *   cross-site form cannot set a header, and a cross-site fetch that sets one needs a CORS
 *   preflight this server never grants. SameSite=Strict keeps the cookie off cross-site requests
 *   as well: two independent guards, so the cookie alone never authorises an action.
 * - Tokens are compared as SHA-256 digests with timingSafeEqual: equal lengths, constant time,
 *   so the answer's timing says nothing about how much of a guess was right.
 * - Without ADMIN_TOKEN (allowed on a loopback address only), a request is served only when its
 *   Host header names the loopback address, so a web page cannot reach the server through DNS
 *   rebinding.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../config/env';

export const SESSION_COOKIE = 'rq_admin_session';
export const ACTION_HEADER = 'x-render-queue-admin';
const SESSION_TTL_MS = 12 * 3600 * 1000;
const MAX_SESSIONS = 1000;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Constant-time comparison of a presented token with the configured one. */
export function tokenMatches(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export function tokenDigest(token: string): Buffer {
  return digest(token);
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** Serving beyond this machine without a token would hand every job to anyone who can connect. */
export function assertSafeBind(host: string, token: string | undefined): void {
  if (!token && !isLoopbackHost(host)) {
    throw new ConfigError(
      `ADMIN_TOKEN must be set to serve the admin page on ${host} (a non-loopback address); ` +
        'without it, bind 127.0.0.1',
    );
  }
}

/** Host header without its port: `[::1]:8090` -> `[::1]`, `localhost:8090` -> `localhost`. */
function hostName(header: string | undefined): string {
  if (!header) return '';
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':')[0]!;
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return cookies;
}

/** A name for the log, from the login form or `X-Operator`: short and printable, or nothing. */
export function operatorName(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const name = raw.trim();
  return /^[\w .@+-]{1,64}$/.test(name) ? name : undefined;
}

interface Session {
  operator: string;
  expiresAt: number;
}

/** Browser sessions in memory: a restart of the admin process asks operators to log in again. */
export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(operator: string): string {
    // Oldest first (Map keeps insertion order): a flood of logins cannot grow memory.
    while (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, { operator, expiresAt: this.now() + SESSION_TTL_MS });
    return id;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.byId.get(id);
    if (session && session.expiresAt <= this.now()) {
      this.byId.delete(id);
      return undefined;
    }
    return session;
  }

  end(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  cookie(id: string): string {
    return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
  }

  static clearedCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }
}

export type Identity =
  | { ok: true; operator: string; via: 'bearer' | 'session' | 'open'; sessionId?: string }
  | { ok: false; reason: string };

export class Gate {
  private readonly expected: Buffer | undefined;
  readonly sessions: Sessions;

  constructor(token: string | undefined, sessions = new Sessions()) {
    this.expected = token ? tokenDigest(token) : undefined;
    this.sessions = sessions;
  }

  get open(): boolean {
    return this.expected === undefined;
  }

  checkToken(given: string): boolean {
    return this.expected !== undefined && tokenMatches(given, this.expected);
  }

  /** Who sent this request, or why it is refused. `X-Operator` names a script's operator. */
  identify(req: IncomingMessage): Identity {
    const named = operatorName(req.headers['x-operator']);
    if (!this.expected) {
      return isLoopbackHost(hostName(req.headers.host))
        ? { ok: true, operator: named ?? 'operator', via: 'open' }
        : { ok: false, reason: 'this admin page answers only to localhost without ADMIN_TOKEN' };
    }
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const match = /^Bearer (\S+)$/.exec(auth);
      return match && this.checkToken(match[1]!)
        ? { ok: true, operator: named ?? 'operator', via: 'bearer' }
        : { ok: false, reason: 'the bearer token is not the operator token' };
    }
    const sessionId = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    const session = this.sessions.get(sessionId);
    if (session) return { ok: true, operator: session.operator, via: 'session', sessionId: sessionId! };
    return { ok: false, reason: 'log in with the operator token' };
  }
}

/**
 * CSRF guard for POSTs: a cookie-authenticated action needs the custom header; any POST whose
 * Origin is another site is refused whatever it carries.
 */
export function actionAllowed(req: IncomingMessage, identity: Identity & { ok: true }): string | null {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost = '';
    try {
      originHost = new URL(origin).host;
    } catch {
      // unparseable: treated as foreign below
    }
    if (originHost !== req.headers.host) return `requests from ${origin} are not accepted`;
  }
  if (identity.via === 'bearer') return null;
  return req.headers[ACTION_HEADER] === '1' ? null : `the ${ACTION_HEADER} header is required`;
}
