/**
 * The PostgREST-subset test server, driven through supabase-js as the frontend and the worker
 * drive Supabase: row-level security and grants (from supabase/migrations) enforced per key, and
 * the server's own PostgREST behaviour (JWTs, error shapes and statuses, filters, identifiers).
 * Needs PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import type { SupabaseClient, SupabaseClientOptions } from '@supabase/supabase-js';
import { postgresAvailable } from '../../dev/db';
import { openSupabaseTestTarget, signJwt, verifyJwt } from '../helpers/postgrest-test-server';
import type { SupabaseTestTarget } from '../helpers/postgrest-test-server';

type Transport = NonNullable<NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport']>;

/** Node 20 has no WebSocket; these clients never use realtime (see SupabaseJobStore). */
class NoRealtime {
  constructor() {
    throw new Error('realtime is not used in these tests');
  }
}

function client(url: string, apikey: string, bearer?: string): SupabaseClient {
  return createClient(url, apikey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: NoRealtime as unknown as Transport },
    global: bearer ? { headers: { Authorization: `Bearer ${bearer}` } } : {},
  });
}

describe('HS256 JWTs', () => {
  const secret = 'test-secret-for-jwt-unit-tests';

  test('a signed token verifies and returns its claims', () => {
    expect(verifyJwt(signJwt({ role: 'anon', sub: 'u1' }, secret), secret)).toEqual({
      role: 'anon',
      sub: 'u1',
    });
  });

  test('a token with a changed claim, another secret, or past its expiry is refused', () => {
    const [head, , signature] = signJwt({ role: 'anon' }, secret).split('.');
    const forged = `${head}.${Buffer.from(JSON.stringify({ role: 'service_role' })).toString('base64url')}.${signature}`;
    expect(() => verifyJwt(forged, secret)).toThrow('signature mismatch');
    expect(() => verifyJwt(signJwt({ role: 'anon' }, 'another-secret'), secret)).toThrow(
      'signature mismatch',
    );
    expect(() => verifyJwt(signJwt({ role: 'anon', exp: 1000 }, secret), secret)).toThrow('JWT expired');
    expect(() => verifyJwt('a.b', secret)).toThrow('JWT invalid');
  });
});

(postgresAvailable() ? describe : describe.skip)('PostgREST-subset test server over PostgreSQL', () => {
  let target: SupabaseTestTarget;
  let service: SupabaseClient;
  let anon: SupabaseClient;
  let alice: SupabaseClient;
  const aliceId = randomUUID();
  const bobId = randomUUID();
  let aliceJob: string;
  let bobJob: string;

  beforeAll(async () => {
    target = await openSupabaseTestTarget();
    const { url, serviceRoleKey, anonKey } = target.server;
    service = client(url, serviceRoleKey);
    anon = client(url, anonKey);
    // As the frontend does: the anon key as apikey, the signed-in user's JWT as the bearer.
    alice = client(url, anonKey, target.server.userKey(aliceId));
    aliceJob = (
      await target.store.insertQueuedJob({ jobType: 'doubt', userId: aliceId, payload: { q: 'a' } })
    ).id;
    bobJob = (await target.store.insertQueuedJob({ jobType: 'doubt', userId: bobId, payload: { q: 'b' } }))
      .id;
  });

  afterAll(async () => {
    await target?.close();
  });

  describe('row-level security (supabase/migrations)', () => {
    test('the anon key reads no one else’s job', async () => {
      const { data, error } = await anon.from('jobs').select('id').eq('id', bobJob);
      expect(error).toBeNull();
      expect(data).toEqual([]);
    });

    test('a signed-in user reads only their own jobs', async () => {
      const { data, error } = await alice.from('jobs').select('id,user_id');
      expect(error).toBeNull();
      expect(data).toEqual([{ id: aliceJob, user_id: aliceId }]);
      const other = await alice.from('jobs').select('id').eq('id', bobJob);
      expect(other.data).toEqual([]);
    });

    test('a user may insert their own queued job, but not one for another user', async () => {
      const own = await alice
        .from('jobs')
        .insert({ job_type: 'doubt', user_id: aliceId, payload: {} })
        .select('status');
      expect(own.error).toBeNull();
      expect(own.data).toEqual([{ status: 'queued' }]);

      const forged = await alice.from('jobs').insert({ job_type: 'doubt', user_id: bobId, payload: {} });
      expect(forged.error).toMatchObject({ code: '42501' });
      expect(forged.error!.message).toMatch(/row-level security/);
      expect(forged.status).toBe(403);
    });

    test('a user cannot insert a job with a status or result of their choosing', async () => {
      const { error, status } = await alice.from('jobs').insert({
        job_type: 'doubt',
        user_id: aliceId,
        payload: {},
        status: 'completed',
        result: 'https://x',
      });
      expect(error).toMatchObject({ code: '42501' });
      expect(status).toBe(403);
    });

    test('a user cannot update the status or result of their own job', async () => {
      const { error } = await alice
        .from('jobs')
        .update({ status: 'completed', result: 'https://evil/v.mp4' })
        .eq('id', aliceJob)
        .select('id');
      expect(error).toMatchObject({ code: '42501' });
      expect(await target.store.getJob(aliceJob)).toMatchObject({ status: 'queued', result: null });
    });

    test.each([
      [
        'apply_job_transition',
        {
          p_job_id: randomUUID(),
          p_seq: 1,
          p_status: 'queued',
          p_workflow_id: null,
          p_attempt: 0,
          p_progress: null,
          p_error: null,
          p_result: null,
          p_started_at: null,
          p_completed_at: null,
          p_job: null,
        },
      ],
      ['claim_intake_jobs', { p_limit: 1 }],
      ['mark_intake_rejected', { p_id: randomUUID(), p_error: 'x' }],
    ])('neither a user nor anon may call %s (permission denied)', async (fn, args) => {
      const asUser = await alice.rpc(fn, args);
      expect(asUser.error).toMatchObject({ code: '42501' });
      expect(asUser.status).toBe(403);
      // PostgREST answers 401 rather than 403 when the caller is not signed in.
      const asAnon = await anon.rpc(fn, args);
      expect(asAnon.error).toMatchObject({ code: '42501' });
      expect(asAnon.status).toBe(401);
    });

    test('the service key reads every job and calls the service functions', async () => {
      const { data, error } = await service.from('jobs').select('id').in('id', [aliceJob, bobJob]);
      expect(error).toBeNull();
      expect(data).toHaveLength(2);
      const stats = await service.rpc('get_queue_stats');
      expect(stats.error).toBeNull();
      expect(stats.data).toMatchObject({ byStatus: { queued: expect.any(Number) } });
    });
  });

  describe('PostgREST behaviour', () => {
    test('requests without a key or with a forged key get 401', async () => {
      const bare = await fetch(`${target.server.url}/rest/v1/jobs?select=id`);
      expect(bare.status).toBe(401);
      const forged = client(target.server.url, signJwt({ role: 'service_role' }, 'guessed-secret'));
      const { error, status } = await forged.from('jobs').select('id');
      expect(status).toBe(401);
      expect(error).toMatchObject({ code: 'PGRST301' });
    });

    test('unknown functions and tables are 404 with PostgREST codes', async () => {
      const fn = await service.rpc('no_such_function', { a: 1 });
      expect(fn.status).toBe(404);
      expect(fn.error).toMatchObject({ code: 'PGRST202' });
      const wrongArgs = await service.rpc('get_queue_stats', { p_unknown: 1 });
      expect(wrongArgs.error).toMatchObject({ code: 'PGRST202' });
      const table = await service.from('no_such_table').select('*');
      expect(table.status).toBe(404);
      expect(table.error).toMatchObject({ code: 'PGRST205' });
    });

    test('identifiers from the URL are validated, so SQL cannot be injected through them', async () => {
      const { url, serviceRoleKey } = target.server;
      const headers = { apikey: serviceRoleKey, Authorization: `Bearer ${serviceRoleKey}` };
      const attempts = [
        `/rest/v1/jobs?select=${encodeURIComponent('id from jobs; drop table jobs; --')}`,
        `/rest/v1/jobs?${encodeURIComponent('id = id or 1=1; --')}=eq.x`,
        `/rest/v1/jobs?order=${encodeURIComponent('id;drop table jobs')}`,
      ];
      for (const path of attempts) {
        const response = await fetch(`${url}${path}`, { headers });
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ code: 'PGRST100' });
      }
      const rpc = await fetch(
        `${url}/rest/v1/rpc/${encodeURIComponent('get_queue_stats();drop table jobs')}`,
        {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: '{}',
        },
      );
      expect(rpc.status).toBe(404);
      expect((await service.from('jobs').select('id').limit(1)).error).toBeNull();
    });

    test('database errors keep their SQLSTATE with PostgREST’s HTTP status', async () => {
      const badUuid = await service.from('jobs').select('id').eq('id', 'not-a-uuid');
      expect(badUuid.status).toBe(400);
      expect(badUuid.error).toMatchObject({ code: '22P02' });
      const duplicate = await service.from('jobs').insert({ id: aliceJob, job_type: 'doubt' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.error).toMatchObject({ code: '23505' });
      expect(duplicate.error!.message).toContain('jobs_pkey');
      const check = await service.from('jobs').insert({ job_type: 'doubt', priority: 'urgent' });
      expect(check.status).toBe(400);
      expect(check.error).toMatchObject({ code: '23514', details: expect.any(String), hint: null });
    });

    test('filters, order and limit select the rows PostgREST would', async () => {
      const ids = [aliceJob, bobJob];
      const byNeq = await service.from('jobs').select('id').in('id', ids).neq('user_id', aliceId);
      expect(byNeq.data).toEqual([{ id: bobJob }]);
      const byIs = await service.from('jobs').select('id').in('id', ids).is('workflow_id', null);
      expect(byIs.data).toHaveLength(2);
      const ordered = await service
        .from('jobs')
        .select('id,created_at')
        .in('id', ids)
        .order('created_at', { ascending: false })
        .limit(1);
      expect(ordered.data).toEqual([{ id: bobJob, created_at: expect.any(String) }]);
      const later = await service
        .from('jobs')
        .select('id')
        .in('id', ids)
        .gt('created_at', ordered.data![0]!.created_at);
      expect(later.data).toEqual([]);
    });

    test('single() returns one object and refuses zero rows with PGRST116', async () => {
      const one = await service.from('jobs').select('id').eq('id', aliceJob).single();
      expect(one.data).toEqual({ id: aliceJob });
      const none = await service.from('jobs').select('id').eq('id', randomUUID()).single();
      expect(none.status).toBe(406);
      expect(none.error).toMatchObject({ code: 'PGRST116' });
    });

    test('PATCH updates the filtered rows and returns them when asked', async () => {
      const { data, error } = await service
        .from('jobs')
        .update({ payload: { q: 'edited' } })
        .eq('id', bobJob)
        .select('id,payload');
      expect(error).toBeNull();
      expect(data).toEqual([{ id: bobJob, payload: { q: 'edited' } }]);
    });

    test('setDown answers 503 until it is lifted', async () => {
      target.server.setDown(true);
      const down = await service.from('jobs').select('id').limit(1).retry(false);
      expect(down.status).toBe(503);
      target.server.setDown(false);
      const up = await service.from('jobs').select('id').limit(1);
      expect(up.status).toBe(200);
    });
  });
});
