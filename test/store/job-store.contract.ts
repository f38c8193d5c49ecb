/**
 * The JobStore contract: one suite every adapter must pass (direct PGlite/Postgres in
 * job-store.contract.test.ts, Supabase over the PostgREST-subset test server in
 * supabase-store.test.ts). The rules are in SQL, so these tests are the specification of
 * apply_job_transition as every transport sees it.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_QUEUE_CONFIG, renderJobWorkflowId } from '../../src/shared/constants';
import type { JobTransition } from '../../src/shared/job-schema';
import { JobStoreConstraintError } from '../../src/store/job-store';
import { migrate } from '../../src/store/migrate';
import type { JobStore } from '../../src/store/job-store';
import type { Queryable } from '../../src/store/migrate';

/** A store under test plus a direct handle on its database (for re-running migrations). */
export interface ContractTarget {
  store: JobStore;
  db: Queryable;
  close(): Promise<void>;
}

const GENERATION = 1_000_000;

function transition(
  jobId: string,
  seq: number,
  status: JobTransition['status'],
  overrides: Partial<JobTransition> = {},
): JobTransition {
  return {
    jobId,
    seq,
    status,
    workflowId: renderJobWorkflowId(jobId),
    attempt: 1,
    progress: null,
    error: null,
    result: null,
    startedAt: null,
    completedAt: null,
    job: { jobType: 'doubt', priority: 'high', renderer: 'manim', payload: { question: 'why?' } },
    ...overrides,
  };
}

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function jobStoreContract(name: string, open: () => Promise<ContractTarget>): void {
  describe(`JobStore contract (${name})`, () => {
    let opened: ContractTarget;

    beforeAll(async () => {
      opened = await open();
    });

    afterAll(async () => {
      await opened?.close();
    });

    test('the first transition creates the row from the job it carries', async () => {
      const jobId = randomUUID();
      const userId = randomUUID();
      const t = transition(jobId, 1, 'queued', {
        job: { jobType: 'doubt', priority: 'high', renderer: 'manim', payload: { question: 'why?' }, userId },
      });
      await expect(opened.store.applyTransition(t)).resolves.toEqual({ applied: true });

      const row = await opened.store.getJob(jobId);
      expect(row).toMatchObject({
        id: jobId,
        userId,
        jobType: 'doubt',
        priority: 'high',
        renderer: 'manim',
        status: 'queued',
        payload: { question: 'why?' },
        retryCount: 0,
        syncSeq: 1,
        workflowId: renderJobWorkflowId(jobId),
        // Positions come from admission (publishQueuePositions), never from a write of the job itself.
        queuePosition: null,
        estimatedStartAt: null,
        nextAttemptAt: null,
      });
      expect(typeof row!.syncSeq).toBe('number');
      expect(new Date(row!.createdAt).toISOString()).toBe(row!.createdAt);
    });

    test('getJob returns null for an unknown id and rejects a malformed one naming the field', async () => {
      await expect(opened.store.getJob(randomUUID())).resolves.toBeNull();
      await expect(opened.store.getJob('not-a-uuid')).rejects.toThrow('jobId must be a uuid');
    });

    test('getJobs reads many rows in one call, leaving unknown ids out and refusing malformed ones', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      await opened.store.applyTransition(transition(a, 1, 'queued'));
      await opened.store.applyTransition(transition(b, 1, 'processing', { progress: 0.5 }));
      const rows = await opened.store.getJobs([a, randomUUID(), b]);
      expect(rows.map((r) => [r.id, r.status]).sort()).toEqual(
        [
          [a, 'queued'],
          [b, 'processing'],
        ].sort(),
      );
      await expect(opened.store.getJobs([])).resolves.toEqual([]);
      await expect(opened.store.getJobs([a, 'nope'])).rejects.toThrow('jobIds[] must be a uuid');
      await expect(opened.store.getJobs(Array.from({ length: 501 }, () => a))).rejects.toThrow(
        'jobIds: at most 500',
      );
    });

    test('stale transitions (equal or lower seq) are ignored and report applied=false', async () => {
      const jobId = randomUUID();
      await opened.store.applyTransition(transition(jobId, 5, 'processing', { progress: 0.2 }));

      await expect(opened.store.applyTransition(transition(jobId, 5, 'completed'))).resolves.toEqual({
        applied: false,
      });
      await expect(
        opened.store.applyTransition(transition(jobId, 3, 'failed', { error: 'late' })),
      ).resolves.toEqual({
        applied: false,
      });
      expect(await opened.store.getJob(jobId)).toMatchObject({
        status: 'processing',
        syncSeq: 5,
        error: null,
        progress: expect.closeTo(0.2, 5),
      });
    });

    test('status never moves backwards within a generation, even with a higher seq', async () => {
      const running = randomUUID();
      await opened.store.applyTransition(transition(running, 1, 'processing'));
      await expect(opened.store.applyTransition(transition(running, 2, 'queued'))).resolves.toEqual({
        applied: false,
      });
      expect(await opened.store.getJob(running)).toMatchObject({ status: 'processing', syncSeq: 1 });

      const done = randomUUID();
      await opened.store.applyTransition(transition(done, 1, 'processing'));
      await opened.store.applyTransition(transition(done, 2, 'completed', { result: 'https://cdn/v.mp4' }));
      for (const [seq, status] of [
        [3, 'processing'],
        [4, 'queued'],
        [5, 'failed'],
        [6, 'cancelled'],
      ] as const) {
        await expect(opened.store.applyTransition(transition(done, seq, status))).resolves.toEqual({
          applied: false,
        });
      }
      expect(await opened.store.getJob(done)).toMatchObject({
        status: 'completed',
        syncSeq: 2,
        result: 'https://cdn/v.mp4',
      });
    });

    test('a newer run generation resets a failed job to queued and old-run writes stay ignored', async () => {
      const jobId = randomUUID();
      const started = '2026-01-01T10:00:00.000Z';
      const ended = '2026-01-01T10:05:00.000Z';
      await opened.store.applyTransition(transition(jobId, 1, 'processing', { startedAt: started }));
      await opened.store.applyTransition(
        transition(jobId, 2, 'failed', { attempt: 3, error: 'renderer crashed', completedAt: ended }),
      );

      const retry = transition(jobId, GENERATION + 1, 'queued', { attempt: 0, job: undefined });
      await expect(opened.store.applyTransition(retry)).resolves.toEqual({ applied: true });
      expect(await opened.store.getJob(jobId)).toMatchObject({
        status: 'queued',
        syncSeq: GENERATION + 1,
        retryCount: 0,
        error: null,
        result: null,
        progress: null,
        startedAt: null,
        completedAt: null,
      });

      // A late write of the first run cannot undo the retry.
      await expect(
        opened.store.applyTransition(transition(jobId, 3, 'failed', { error: 'late' })),
      ).resolves.toEqual({
        applied: false,
      });
      expect((await opened.store.getJob(jobId))!.status).toBe('queued');
    });

    test('retry_count is attempt - 1, never negative', async () => {
      const jobId = randomUUID();
      const counts: number[] = [];
      for (const [seq, attempt] of [
        [1, 0],
        [2, 1],
        [3, 2],
        [4, 3],
      ] as const) {
        await opened.store.applyTransition(
          transition(jobId, seq, seq === 1 ? 'queued' : 'processing', { attempt }),
        );
        counts.push((await opened.store.getJob(jobId))!.retryCount);
      }
      expect(counts).toEqual([0, 0, 1, 2]);
    });

    test('the last error stays visible through later attempts and on failed; completed clears it', async () => {
      const failing = randomUUID();
      await opened.store.applyTransition(transition(failing, 1, 'processing', { attempt: 1, progress: 0.4 }));
      await opened.store.applyTransition(
        transition(failing, 2, 'processing', { attempt: 2, error: 'attempt 1 timed out' }),
      );
      await opened.store.applyTransition(transition(failing, 3, 'processing', { attempt: 2, progress: 0.5 }));
      expect(await opened.store.getJob(failing)).toMatchObject({
        error: 'attempt 1 timed out',
        progress: 0.5,
        retryCount: 1,
      });
      await opened.store.applyTransition(
        transition(failing, 4, 'failed', { attempt: 3, error: 'attempt 3 crashed' }),
      );
      await opened.store.applyTransition(transition(failing, 5, 'failed', { attempt: 3 }));
      expect(await opened.store.getJob(failing)).toMatchObject({
        status: 'failed',
        error: 'attempt 3 crashed',
      });

      const recovering = randomUUID();
      await opened.store.applyTransition(
        transition(recovering, 1, 'processing', { attempt: 2, error: 'flaky' }),
      );
      await opened.store.applyTransition(
        transition(recovering, 2, 'completed', { attempt: 2, result: 'https://cdn/ok.mp4' }),
      );
      expect(await opened.store.getJob(recovering)).toMatchObject({
        status: 'completed',
        error: null,
        result: 'https://cdn/ok.mp4',
        progress: 1,
      });
    });

    test('retrying shows the last error and when the next attempt may start; processing clears that time', async () => {
      const jobId = randomUUID();
      const next = '2026-12-01T10:05:00.000Z';
      const accepted = '2026-12-01T09:59:59.000Z';
      await opened.store.applyTransition(
        transition(jobId, 1, 'processing', { attempt: 1, acceptedAt: accepted }),
      );
      await opened.store.applyTransition(
        transition(jobId, 2, 'retrying', { attempt: 1, error: 'RenderFailed: boom', nextAttemptAt: next }),
      );
      expect(await opened.store.getJob(jobId)).toMatchObject({
        status: 'retrying',
        retryCount: 0,
        error: 'RenderFailed: boom',
        nextAttemptAt: next,
        // Kept: later writes of the run need not repeat it, and cannot move it.
        acceptedAt: accepted,
      });
      // retrying and processing alternate; neither goes back to queued.
      await opened.store.applyTransition(
        transition(jobId, 3, 'processing', { attempt: 2, acceptedAt: '2026-12-01T10:30:00.000Z' }),
      );
      expect(await opened.store.getJob(jobId)).toMatchObject({
        status: 'processing',
        retryCount: 1,
        error: 'RenderFailed: boom',
        nextAttemptAt: null,
        acceptedAt: accepted,
      });
      await expect(
        opened.store.applyTransition(transition(jobId, 4, 'queued', { attempt: 2 })),
      ).resolves.toEqual({
        applied: false,
      });
      await opened.store.applyTransition(
        transition(jobId, 5, 'retrying', { attempt: 2, nextAttemptAt: next }),
      );
      await opened.store.applyTransition(
        transition(jobId, 6, 'failed', { attempt: 3, error: 'RenderFailed: again' }),
      );
      expect(await opened.store.getJob(jobId)).toMatchObject({
        status: 'failed',
        nextAttemptAt: null,
        retryCount: 2,
      });
    });

    test('published positions reach waiting rows only, changed rows only, and leave rows that stopped waiting', async () => {
      const [a, b, c, running] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      for (const jobId of [a, b, c]) await opened.store.applyTransition(transition(jobId, 1, 'queued'));
      await opened.store.applyTransition(transition(running, 1, 'processing'));
      const at = (minutes: number) =>
        new Date(Date.parse('2026-12-01T10:00:00Z') + minutes * 60_000).toISOString();
      const missing = randomUUID();
      await expect(
        opened.store.publishQueuePositions([
          { jobId: a, position: 1, estimatedStartAt: at(0) },
          { jobId: b, position: 2, estimatedStartAt: at(1) },
          { jobId: c, position: 3, estimatedStartAt: at(2) },
          { jobId: running, position: 4, estimatedStartAt: at(3) },
          { jobId: missing, position: 5, estimatedStartAt: at(4) },
        ]),
      ).resolves.toMatchObject({ written: 3, missing: 1 });
      expect(await opened.store.getJob(b)).toMatchObject({ queuePosition: 2, estimatedStartAt: at(1) });
      expect(await opened.store.getJob(running)).toMatchObject({
        queuePosition: null,
        estimatedStartAt: null,
      });

      // a started: it leaves the list; b and c move up; nothing else is written.
      await expect(
        opened.store.publishQueuePositions([
          { jobId: b, position: 1, estimatedStartAt: at(1) },
          { jobId: c, position: 2, estimatedStartAt: at(2) },
        ]),
      ).resolves.toEqual({ written: 2, cleared: 1, missing: 0 });
      expect(await opened.store.getJob(a)).toMatchObject({ queuePosition: null, estimatedStartAt: null });
      await expect(
        opened.store.publishQueuePositions([
          { jobId: b, position: 1, estimatedStartAt: at(1) },
          { jobId: c, position: 2, estimatedStartAt: at(2) },
        ]),
      ).resolves.toEqual({ written: 0, cleared: 0, missing: 0 });

      // A job that starts loses its position in the same write as its status.
      await opened.store.applyTransition(transition(b, 2, 'processing'));
      expect(await opened.store.getJob(b)).toMatchObject({ status: 'processing', queuePosition: null });
      await expect(opened.store.publishQueuePositions([])).resolves.toMatchObject({ cleared: 1 });
      expect(await opened.store.getJob(c)).toMatchObject({ queuePosition: null });
    });

    test('a job that goes from waiting straight to its retry wait loses its position; once it asks again, later retrying writes keep the new one', async () => {
      const jobId = randomUUID();
      const at = '2026-12-01T10:10:00.000Z';
      await opened.store.applyTransition(transition(jobId, 1, 'queued'));
      await opened.store.publishQueuePositions([{ jobId, position: 1, estimatedStartAt: at }]);
      // Its first render was refused at submit, so no `processing` came between.
      await opened.store.applyTransition(
        transition(jobId, 2, 'retrying', {
          attempt: 1,
          error: 'RendererUnavailable: 500',
          nextAttemptAt: at,
        }),
      );
      expect(await opened.store.getJob(jobId)).toMatchObject({
        status: 'retrying',
        queuePosition: null,
        estimatedStartAt: null,
      });
      // After the interval it waits again, at a published position.
      await opened.store.publishQueuePositions([{ jobId, position: 2, estimatedStartAt: at }]);
      await opened.store.applyTransition(
        transition(jobId, 3, 'retrying', {
          attempt: 1,
          error: 'RendererUnavailable: 500',
          nextAttemptAt: at,
        }),
      );
      expect(await opened.store.getJob(jobId)).toMatchObject({ status: 'retrying', queuePosition: 2 });
    });

    test('a transition for a missing job without job fields fails with a clear error', async () => {
      const jobId = randomUUID();
      const error = await opened.store
        .applyTransition(transition(jobId, 1, 'processing', { job: undefined }))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(JobStoreConstraintError);
      expect((error as Error).message).toContain(`job ${jobId} does not exist`);
    });

    test('an invalid transition is rejected before the database, naming the field', async () => {
      await expect(opened.store.applyTransition(transition(randomUUID(), 0, 'queued'))).rejects.toThrow(
        /invalid job transition: seq:/,
      );
      await expect(
        opened.store.applyTransition({
          ...transition(randomUUID(), 1, 'queued'),
          status: 'done' as 'queued',
        }),
      ).rejects.toThrow(/status:/);
    });

    test('database refusals become JobStoreConstraintErrors that name the field', async () => {
      const cases: Array<[Parameters<typeof opened.store.insertQueuedJob>[0], string, string | undefined]> = [
        [{ jobType: 'nope', payload: {} }, 'job_type "nope" is not a known job type', 'jobs_job_type_fkey'],
        // With a renderer given the trigger has nothing to look up: the foreign key itself refuses.
        [
          { jobType: 'nope', renderer: 'manim', payload: {} },
          'job_type "nope" is not a known job type',
          'jobs_job_type_fkey',
        ],
        [
          { jobType: 'doubt', priority: 'urgent', payload: {} },
          'priority must be one of high, medium, low',
          'jobs_priority_check',
        ],
        [
          { jobType: 'doubt', renderer: 'blender', payload: {} },
          'renderer must be one of manim, revideo, orchestrator',
          'jobs_renderer_check',
        ],
        [
          { jobType: 'doubt', payload: [1, 2] as unknown as Record<string, unknown> },
          'payload must be a JSON object',
          'jobs_payload_check',
        ],
        [{ jobType: 'doubt', id: 'abc', payload: {} }, 'id must be a uuid', undefined],
      ];
      for (const [row, message, constraint] of cases) {
        const error = await opened.store.insertQueuedJob(row).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(JobStoreConstraintError);
        expect((error as JobStoreConstraintError).message).toContain(message);
        expect((error as JobStoreConstraintError).constraint).toBe(constraint);
      }

      const id = randomUUID();
      await opened.store.insertQueuedJob({ id, jobType: 'doubt', payload: {} });
      await expect(opened.store.insertQueuedJob({ id, jobType: 'doubt', payload: {} })).rejects.toThrow(
        'a job with this id already exists',
      );
    });

    test('a plain insert gets its renderer from the job type, medium priority and queued status', async () => {
      const row = await opened.store.insertQueuedJob({
        jobType: 'solution_walkthrough',
        payload: { step: 1 },
      });
      expect(row).toMatchObject({
        jobType: 'solution_walkthrough',
        renderer: 'orchestrator',
        priority: 'medium',
        status: 'queued',
        syncSeq: 0,
        workflowId: null,
        payload: { step: 1 },
      });
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);

      // The service's first write updates the frontend's row and leaves its job fields alone.
      await expect(
        opened.store.applyTransition(transition(row.id, 1, 'processing', { attempt: 1 })),
      ).resolves.toEqual({ applied: true });
      expect(await opened.store.getJob(row.id)).toMatchObject({
        status: 'processing',
        renderer: 'orchestrator',
        priority: 'medium',
        workflowId: renderJobWorkflowId(row.id),
      });
    });

    test('readQueueConfig returns the seeded defaults as numbers and HH:MM', async () => {
      await expect(opened.store.readQueueConfig()).resolves.toEqual(DEFAULT_QUEUE_CONFIG);
    });

    test('running the migrations again applies nothing and keeps the data', async () => {
      const row = await opened.store.insertQueuedJob({ jobType: 'doubt', payload: {} });
      await expect(migrate(opened.db)).resolves.toEqual([]);
      await expect(migrate(opened.db)).resolves.toEqual([]);
      expect(await opened.store.getJob(row.id)).toMatchObject({ id: row.id, status: 'queued' });
    });

    test('concurrent transitions (5 jobs x 20 shuffled seqs) each end in the highest seq state', async () => {
      // Five jobs at once so writers of one job really overlap on the pool's connections.
      const jobIds = Array.from({ length: 5 }, () => randomUUID());
      const writes = shuffle(
        jobIds.flatMap((jobId) =>
          Array.from({ length: 20 }, (_, i) => i + 1).map((seq) =>
            seq === 20
              ? transition(jobId, seq, 'completed', { result: `https://cdn/${jobId}.mp4`, progress: 1 })
              : transition(jobId, seq, 'processing', { progress: seq / 20 }),
          ),
        ),
      );
      const outcomes = await Promise.all(writes.map((write) => opened.store.applyTransition(write)));
      expect(outcomes.filter((o) => o.applied).length).toBeGreaterThanOrEqual(jobIds.length);
      for (const jobId of jobIds) {
        expect(await opened.store.getJob(jobId)).toMatchObject({
          status: 'completed',
          syncSeq: 20,
          result: `https://cdn/${jobId}.mp4`,
          progress: 1,
        });
      }
    });

    describe('listJobs', () => {
      let fresh: ContractTarget;
      const ids: Record<string, string> = {};

      beforeAll(async () => {
        fresh = await open();
        const rows = [
          { key: 'a', jobType: 'doubt', priority: 'high' },
          { key: 'b', jobType: 'concept_explainer', priority: 'low' },
          { key: 'c', jobType: 'doubt', priority: 'low' },
          { key: 'd', jobType: 'solution_walkthrough', priority: 'high' },
        ];
        for (const { key, ...row } of rows) {
          ids[key] = (await fresh.store.insertQueuedJob({ ...row, payload: {} })).id;
          await sleep(3); // distinct milliseconds, so paging by createdAt is exact
        }
        await fresh.store.applyTransition(transition(ids.c!, 1, 'processing', { job: undefined }));
      });

      afterAll(async () => {
        await fresh?.close();
      });

      const keysOf = (rows: Array<{ id: string }>) =>
        rows.map((row) => Object.keys(ids).find((key) => ids[key] === row.id));

      test('lists newest first', async () => {
        expect(keysOf(await fresh.store.listJobs())).toEqual(['d', 'c', 'b', 'a']);
      });

      test('filters by status, priority and renderer together', async () => {
        expect(keysOf(await fresh.store.listJobs({ priority: 'low' }))).toEqual(['c', 'b']);
        expect(keysOf(await fresh.store.listJobs({ status: 'queued', priority: 'low' }))).toEqual(['b']);
        expect(keysOf(await fresh.store.listJobs({ renderer: 'manim' }))).toEqual(['c', 'a']);
        expect(await fresh.store.listJobs({ status: 'failed' })).toEqual([]);
      });

      test('pages with limit and beforeCreatedAt', async () => {
        const first = await fresh.store.listJobs({ limit: 2 });
        expect(keysOf(first)).toEqual(['d', 'c']);
        const next = await fresh.store.listJobs({ limit: 2, beforeCreatedAt: first[1]!.createdAt });
        expect(keysOf(next)).toEqual(['b', 'a']);
      });

      test('rejects a bad filter naming the field', async () => {
        await expect(fresh.store.listJobs({ limit: 0 })).rejects.toThrow(/limit:/);
        await expect(fresh.store.listJobs({ status: 'done' as 'queued' })).rejects.toThrow(/status:/);
      });

      test('getQueueStats counts jobs by status, queued by priority and processing by renderer', async () => {
        const stats = await fresh.store.getQueueStats();
        expect(stats.byStatus).toEqual({
          queued: 3,
          processing: 1,
          retrying: 0,
          completed: 0,
          failed: 0,
          cancelled: 0,
        });
        expect(stats.queuedByPriority).toEqual({ high: 2, medium: 0, low: 1 });
        expect(stats.processingByRenderer).toEqual({ manim: 1, revideo: 0, orchestrator: 0 });
        expect(stats.caps.totalRenders).toBeGreaterThanOrEqual(1);
      });
    });

    describe('intake of frontend-inserted rows', () => {
      let fresh: ContractTarget;

      beforeAll(async () => {
        fresh = await open();
      });

      afterAll(async () => {
        await fresh?.close();
      });

      test('claims unowned queued rows in dispatch order, once; marks them started or rejected', async () => {
        const low = await fresh.store.insertQueuedJob({ jobType: 'doubt', priority: 'low', payload: {} });
        await sleep(3);
        const high = await fresh.store.insertQueuedJob({ jobType: 'doubt', priority: 'high', payload: {} });
        await sleep(3);
        const medium = await fresh.store.insertQueuedJob({
          jobType: 'doubt',
          priority: 'medium',
          payload: {},
        });

        expect((await fresh.store.claimIntakeJobs(2)).map((row) => row.id)).toEqual([high.id, medium.id]);
        // Claimed rows are skipped by the next run until the claim expires.
        expect((await fresh.store.claimIntakeJobs(10)).map((row) => row.id)).toEqual([low.id]);

        await expect(fresh.store.markIntakeStarted(high.id, renderJobWorkflowId(high.id))).resolves.toBe(
          true,
        );
        await expect(fresh.store.markIntakeStarted(high.id, renderJobWorkflowId(high.id))).resolves.toBe(
          false,
        );
        expect(await fresh.store.getJob(high.id)).toMatchObject({ workflowId: renderJobWorkflowId(high.id) });

        await expect(fresh.store.markIntakeRejected(medium.id, 'payload.question is required')).resolves.toBe(
          true,
        );
        expect(await fresh.store.getJob(medium.id)).toMatchObject({
          status: 'failed',
          error: 'payload.question is required',
        });
        // A row a workflow owns is never failed from intake.
        await expect(fresh.store.markIntakeRejected(high.id, 'late')).resolves.toBe(false);
        expect((await fresh.store.getJob(high.id))!.status).toBe('queued');
      });

      test('intake calls reject bad input naming the field', async () => {
        await expect(fresh.store.claimIntakeJobs(0)).rejects.toThrow(/limit/);
        await expect(fresh.store.markIntakeStarted('nope', 'wf')).rejects.toThrow('jobId must be a uuid');
        await expect(fresh.store.markIntakeStarted(randomUUID(), '')).rejects.toThrow(
          /workflowId is required/,
        );
      });
    });
  });
}
