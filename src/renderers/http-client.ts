/**
 * HTTP client for the render contract. Turns every way a call can go wrong into an
 * `ApplicationFailure` with one of the explicit type strings of src/shared/errors.ts, because
 * the workflow's retry policy decides by type string: a 4xx is the request's fault and no retry
 * can fix it; a 5xx, a timeout or a bad answer may be gone on the next attempt.
 *
 * Messages name the backend, the method and the URL path, never the host (a base URL may carry
 * credentials) nor any header.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { LIMITS } from '../shared/constants';
import { RENDER_ERROR } from '../shared/errors';
import { describeZodError } from '../shared/job-schema';
import {
  HealthResponseSchema,
  RenderStatusResponseSchema,
  SubmitResponseSchema,
  type HealthResponse,
  type RenderRequest,
  type RenderStatusResponse,
  type SubmitResponse,
} from './contract';

export interface RendererClientOptions {
  /** Backend name used in every error message, e.g. `manim`. */
  name: string;
  /** Base URL, e.g. `http://localhost:5000`; a path prefix is kept. */
  baseUrl: string;
  /** Per-request timeout; defaults to LIMITS.rendererRequestTimeoutMs. */
  requestTimeoutMs?: number;
  /** Timeout of the best-effort DELETE; short because it runs while a cancellation is pending. */
  cancelTimeoutMs?: number;
  /** Turns the contract request into the backend's wire body (adapters differ here). */
  encodeRequest?: (request: RenderRequest) => unknown;
}

/** What the render activity needs from a backend; implemented by RendererClient. */
export interface RendererAdapter {
  readonly name: string;
  submit(request: RenderRequest, signal?: AbortSignal): Promise<SubmitResponse>;
  status(renderId: string, signal?: AbortSignal): Promise<RenderStatusResponse>;
  cancel(renderId: string): Promise<boolean>;
  health(signal?: AbortSignal): Promise<HealthResponse>;
}

export const DEFAULT_CANCEL_TIMEOUT_MS = 5_000;
const MAX_MESSAGE_CHARS = 300;

interface RawResponse {
  httpStatus: number;
  text: string;
}

interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
}

export class RendererClient implements RendererAdapter {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly requestTimeoutMs: number;
  private readonly cancelTimeoutMs: number;
  private readonly encodeRequest: (request: RenderRequest) => unknown;

  constructor(options: RendererClientOptions) {
    this.name = options.name;
    this.baseUrl = parseBaseUrl(options.name, options.baseUrl);
    this.requestTimeoutMs = positive(
      'requestTimeoutMs',
      options.requestTimeoutMs,
      LIMITS.rendererRequestTimeoutMs,
    );
    this.cancelTimeoutMs = positive('cancelTimeoutMs', options.cancelTimeoutMs, DEFAULT_CANCEL_TIMEOUT_MS);
    this.encodeRequest = options.encodeRequest ?? ((request) => request);
  }

  async submit(request: RenderRequest, signal?: AbortSignal): Promise<SubmitResponse> {
    const call: Call = { method: 'POST', path: '/render' };
    const raw = await this.send(call, this.requestTimeoutMs, signal, this.encodeRequest(request));
    this.throwOnHttpError(call, raw);
    return this.parse(call, raw, SubmitResponseSchema);
  }

  async status(renderId: string, signal?: AbortSignal): Promise<RenderStatusResponse> {
    const call: Call = { method: 'GET', path: `/render/${encodeURIComponent(renderId)}` };
    const raw = await this.send(call, this.requestTimeoutMs, signal);
    if (raw.httpStatus === 404) {
      // The renderer no longer knows the render (typically it restarted and lost its state).
      // Not the request's fault: a new attempt submits a fresh render, so this stays retryable.
      throw failure(
        RENDER_ERROR.failed,
        `${this.name} lost the render (404, ${describe(call)}): ${extractMessage(raw.text)}`,
        false,
        call,
        raw.httpStatus,
      );
    }
    this.throwOnHttpError(call, raw);
    return this.parse(call, raw, RenderStatusResponseSchema);
  }

  /** Best effort: never throws, returns whether the renderer acknowledged the cancellation. */
  async cancel(renderId: string): Promise<boolean> {
    const call: Call = { method: 'DELETE', path: `/render/${encodeURIComponent(renderId)}` };
    try {
      const raw = await this.send(call, this.cancelTimeoutMs, undefined);
      return raw.httpStatus >= 200 && raw.httpStatus < 300;
    } catch {
      return false;
    }
  }

  async health(signal?: AbortSignal): Promise<HealthResponse> {
    const call: Call = { method: 'GET', path: '/health' };
    const raw = await this.send(call, this.requestTimeoutMs, signal);
    this.throwOnHttpError(call, raw);
    return this.parse(call, raw, HealthResponseSchema);
  }

  private async send(call: Call, timeoutMs: number, signal: AbortSignal | undefined, body?: unknown) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const response = await fetch(this.baseUrl + call.path, {
        method: call.method,
        headers: body === undefined ? { accept: 'application/json' } : jsonHeaders,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: combined,
      });
      // Reading the body is covered by the same signal, so a renderer that stalls mid-body times out too.
      return { httpStatus: response.status, text: await response.text() } satisfies RawResponse;
    } catch (error) {
      // A cancellation is not an outage: hand the caller its own abort reason back unchanged.
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) {
        throw failure(
          RENDER_ERROR.unavailable,
          `${this.name} did not answer ${describe(call)} within ${timeoutMs} ms`,
          false,
          call,
        );
      }
      throw failure(
        RENDER_ERROR.unavailable,
        `${this.name} is unreachable (${describe(call)}): ${networkReason(error)}`,
        false,
        call,
      );
    }
  }

  private throwOnHttpError(call: Call, raw: RawResponse): void {
    const { httpStatus } = raw;
    if (httpStatus >= 200 && httpStatus < 300) return;
    const message = extractMessage(raw.text);
    if (httpStatus >= 400 && httpStatus < 500) {
      const what = call.path === '/render' ? 'the render' : describe(call);
      const where = call.path === '/render' ? `, ${describe(call)}` : '';
      throw failure(
        RENDER_ERROR.rejected,
        `${this.name} rejected ${what} (${httpStatus}${where}): ${message}`,
        true,
        call,
        httpStatus,
      );
    }
    if (httpStatus >= 500) {
      throw failure(
        RENDER_ERROR.unavailable,
        `${this.name} failed (${httpStatus}, ${describe(call)}): ${message}`,
        false,
        call,
        httpStatus,
      );
    }
    throw failure(
      RENDER_ERROR.badResponse,
      `${this.name} answered ${describe(call)} with unexpected HTTP status ${httpStatus}`,
      false,
      call,
      httpStatus,
    );
  }

  private parse<T>(call: Call, raw: RawResponse, schema: z.ZodType<T>): T {
    let json: unknown;
    try {
      json = JSON.parse(raw.text);
    } catch {
      throw failure(
        RENDER_ERROR.badResponse,
        `${this.name} sent malformed JSON (${describe(call)}): ${JSON.stringify(truncate(raw.text, 80))}`,
        false,
        call,
        raw.httpStatus,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw failure(
        RENDER_ERROR.badResponse,
        `${this.name} sent a response that breaks the render contract (${describe(call)}): ${describeZodError(parsed.error)}`,
        false,
        call,
        raw.httpStatus,
      );
    }
    return parsed.data;
  }
}

const jsonHeaders = { 'content-type': 'application/json', accept: 'application/json' };

function describe(call: Call): string {
  return `${call.method} ${call.path}`;
}

function failure(type: string, message: string, nonRetryable: boolean, call: Call, httpStatus?: number) {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable,
    details: [{ method: call.method, path: call.path, httpStatus: httpStatus ?? null }],
  });
}

/** The renderer's own words, from `{error}`, `{message}` or `{detail}`, else the raw text. */
function extractMessage(text: string): string {
  let message = text;
  try {
    const json: unknown = JSON.parse(text);
    if (json && typeof json === 'object') {
      const record = json as Record<string, unknown>;
      const found = [record.error, record.message, record.detail].find((v) => typeof v === 'string');
      if (typeof found === 'string') message = found;
    }
  } catch {
    // not JSON: keep the raw text
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message ? truncate(message, MAX_MESSAGE_CHARS) : '(no message)';
}

function networkReason(error: unknown): string {
  // undici reports `fetch failed` and puts the useful part (ECONNREFUSED, ...) in `cause`.
  // Duck-typed: errors from fetch may come from another realm (jest, vm), failing instanceof.
  const err = (error ?? {}) as { message?: unknown; cause?: { code?: unknown; message?: unknown } };
  if (typeof err.cause?.code === 'string') return err.cause.code;
  if (typeof err.cause?.message === 'string') return truncate(err.cause.message, MAX_MESSAGE_CHARS);
  return typeof err.message === 'string' ? truncate(err.message, MAX_MESSAGE_CHARS) : 'unknown network error';
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function parseBaseUrl(name: string, baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new Error(`${name} renderer base URL is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${name} renderer base URL must be http(s), got ${url.protocol}`);
  }
  return baseUrl.replace(/\/+$/, '');
}

function positive(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${field} must be a positive number of ms`);
  return value;
}
