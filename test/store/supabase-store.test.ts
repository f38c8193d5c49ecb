/**
 * The Supabase adapter: the shared JobStore contract through supabase-js -> the PostgREST-subset
 * test server -> a fresh PostgreSQL database, then its behaviour when Supabase is unreachable.
 * Needs PostgreSQL (PGlite serves one connection; the server runs one transaction per request).
 */
import { randomUUID } from 'node:crypto';
import { renderJobWorkflowId } from '../../src/shared/constants';
import type { JobTransition } from '../../src/shared/job-schema';
import { JobStoreConstraintError } from '../../src/store/job-store';
import { openJobStore } from '../../src/store/open-store';
import { SupabaseJobStore } from '../../src/store/supabase-store';
import { postgresAvailable } from '../../dev/db';
import { openSupabaseTestTarget, signJwt } from '../helpers/postgrest-test-server';
import type { SupabaseTestTarget } from '../helpers/postgrest-test-server';
import { jobStoreContract } from './job-store.contract';

const withPostgres = postgresAvailable();

if (withPostgres) {
  jobStoreContract('supabase', () => openSupabaseTestTarget());
} else {
  describe.skip('JobStore contract (supabase): PostgreSQL not reachable', () => {
    test('needs PostgreSQL', () => undefined);
  });
}

function queued(jobId: string, seq = 1): JobTransition {
  return {
    jobId,
    seq,
    status: 'queued',
    workflowId: renderJobWorkflowId(jobId),
    attempt: 0,
    progress: null,
    error: null,
    result: null,
    startedAt: null,
    completedAt: null,
    job: { jobType: 'doubt', priority: 'high', renderer: 'manim', payload: {} },
  };
}

/** The rejection, asserted to be a retryable (plain) Error naming the operation and host, never the key. */
async function retryableFailure(promise: Promise<unknown>, operation: string, target: SupabaseTestTarget) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect(error).not.toBeInstanceOf(JobStoreConstraintError);
  const message = (error as Error).message;
  expect(message).toContain(`supabase ${operation} failed on ${new URL(target.server.url).host}`);
  expect(message).not.toContain(target.server.serviceRoleKey);
  expect(JSON.stringify(error)).not.toContain(target.server.serviceRoleKey);
  return message;
}

const TIMEOUT_MS = 400;

(withPostgres ? describe : describe.skip)('SupabaseJobStore when Supabase is unreachable', () => {
  let target: SupabaseTestTarget;

  beforeAll(async () => {
    target = await openSupabaseTestTarget({ timeoutMs: TIMEOUT_MS });
  });

  afterEach(() => target?.server.setDown(false));

  afterAll(async () => {
    await target?.close();
  });

  test('a 503 fails applyTransition with a retryable error, and it works again once Supabase is back', async () => {
    const jobId = randomUUID();
    target.server.setDown(true, 'status');
    const message = await retryableFailure(
      target.store.applyTransition(queued(jobId)),
      'applyTransition',
      target,
    );
    expect(message).toContain('upstream unavailable');

    target.server.setDown(false);
    await expect(target.store.applyTransition(queued(jobId))).resolves.toEqual({ applied: true });
    expect(await target.store.getJob(jobId)).toMatchObject({ id: jobId, status: 'queued' });
  });

  test('dropped connections fail applyTransition with a retryable error', async () => {
    target.server.setDown(true, 'reset');
    await retryableFailure(target.store.applyTransition(queued(randomUUID())), 'applyTransition', target);
  });

  test('a server that never answers fails applyTransition within the request timeout', async () => {
    target.server.setDown(true, 'hang');
    const started = Date.now();
    const message = await retryableFailure(
      target.store.applyTransition(queued(randomUUID())),
      'applyTransition',
      target,
    );
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1_500);
    expect(message).toMatch(/abort|timeout/i);
  });

  test('reads fail at once during an outage instead of retrying with backoff', async () => {
    // supabase-js retries GETs on 503 with 1 s, 2 s, 4 s delays; the adapter turns that off so the
    // caller (an activity with its own retry policy) decides.
    target.server.setDown(true, 'status');
    const started = Date.now();
    await retryableFailure(target.store.getJob(randomUUID()), 'getJob', target);
    await retryableFailure(target.store.readQueueConfig(), 'readQueueConfig', target);
    await retryableFailure(target.store.listJobs(), 'listJobs', target);
    expect(Date.now() - started).toBeLessThan(900);
  });

  test('a rejected key is a retryable error that does not reveal the key', async () => {
    const wrongKey = signJwt({ role: 'service_role' }, 'not-the-project-secret-000000');
    const store = new SupabaseJobStore({
      url: target.server.url,
      serviceRoleKey: wrongKey,
      timeoutMs: TIMEOUT_MS,
    });
    const error = await store.applyTransition(queued(randomUUID())).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(JobStoreConstraintError);
    expect(error!.message).toContain('PGRST301');
    expect(error!.message).not.toContain(wrongKey);
    await store.close();
  });

  test('openJobStore picks Supabase when its URL and key are set, over DATABASE_URL', async () => {
    const opened = await openJobStore({
      SUPABASE_URL: target.server.url,
      SUPABASE_SERVICE_ROLE_KEY: target.server.serviceRoleKey,
      DATABASE_URL: 'postgres://unused@127.0.0.1:1/none',
    });
    expect(opened).toMatchObject({
      kind: 'supabase',
      db: undefined,
      location: new URL(target.server.url).host,
    });
    expect(opened.store).toBeInstanceOf(SupabaseJobStore);
    await expect(opened.store.readQueueConfig()).resolves.toMatchObject({ maxConcurrentRenders: 10 });
    await opened.close();
  });

  test('openJobStore with a wrong Supabase key fails at open, naming the host but not the key', async () => {
    const wrongKey = signJwt({ role: 'service_role' }, 'not-the-project-secret-000000');
    const error = await openJobStore({
      SUPABASE_URL: target.server.url,
      SUPABASE_SERVICE_ROLE_KEY: wrongKey,
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toContain(`cannot open Supabase store ${new URL(target.server.url).host}`);
    expect(error?.message).not.toContain(wrongKey);
  });
});
