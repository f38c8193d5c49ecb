/**
 * Fleet-wide admission on the real dev server: one order across every renderer, the caps as
 * the renderers see them, queue positions that tell the truth, and permits that come back when
 * a job's workflow is terminated. What counts is what the renderer simulators saw.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { requestAdmission } from '../../src/activities/admission-client';
import { changeJobPriority, submitJob } from '../../src/jobs/submit';
import { ADMISSION_WORKFLOW_ID } from '../../src/shared/constants';
import type { Priority, RenderQueue } from '../../src/shared/constants';
import {
  admissionConfigChangedSignal,
  admissionSnapshotQuery,
  permitReleaseSignal,
} from '../../src/shared/admission-messages';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import type { PermitRequest } from '../../src/shared/admission-queue';
import type { JobRow } from '../../src/shared/job-schema';
import { devServerEnv, eventually } from '../../dev/temporal';
import { setFleetCaps } from '../../dev/db';
import { admissionIdle, admissionWaitingFor, startStack, watchRenders } from '../../dev/stack';
import type { RenderWatch, Stack } from '../../dev/stack';

let env: TestWorkflowEnvironment;
let stack: Stack;
let watch: RenderWatch;

const CAPS = { total: 4, manim: 2 };

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startStack(env, { caps: CAPS, simulator: { defaultDurationMs: 100, progressSteps: 2 } });
  watch = watchRenders(stack.sims);
});

afterAll(async () => {
  watch?.stop();
  await stack?.close();
  await env?.teardown();
});

/** Every job a test submitted: each test ends only when all of them have ended. */
const submitted: Job[] = [];

afterEach(async () => {
  for (const sim of Object.values(stack.sims)) sim.release();
  await Promise.all(
    submitted.splice(0).map((job) =>
      env.client.workflow
        .getHandle(job.workflowId)
        .result()
        .catch(() => undefined),
    ),
  );
  await admissionIdle(env.client);
  await setFleetCaps(stack.db, CAPS);
  await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(admissionConfigChangedSignal);
});

type JobType = 'doubt' | 'concept_explainer' | 'solution_walkthrough';
const POOL_OF: Record<JobType, RenderQueue> = {
  doubt: 'manim',
  concept_explainer: 'general',
  solution_walkthrough: 'general',
};

interface Job {
  jobId: string;
  workflowId: string;
  priority: Priority;
  jobType: JobType;
  label: string;
}

async function submit(jobType: JobType, priority: Priority, label = `${priority}-${jobType}`): Promise<Job> {
  const { jobId, workflowId } = await submitJob(env.client, { jobType, priority, payload: { label } });
  const job = { jobId, workflowId, priority, jobType, label };
  submitted.push(job);
  return job;
}

const holdAll = (): void => Object.values(stack.sims).forEach((sim) => sim.hold());
const startedIds = (): string[] => watch.starts.map((s) => s.jobId);
const inFlightIds = (): string[] => Object.values(stack.sims).flatMap((sim) => sim.stats().inFlightJobIds);

/** Submits `count` held fillers and waits until every one of them renders. */
async function fill(count: number, jobType: JobType = 'concept_explainer'): Promise<Job[]> {
  const fillers: Job[] = [];
  for (let i = 0; i < count; i += 1) fillers.push(await submit(jobType, 'medium', `filler-${i}`));
  await watch.until(`${count} fillers to render`, () =>
    fillers.every((f) => inFlightIds().includes(f.jobId)),
  );
  return fillers;
}

/** Frees the oldest render in flight, one at a time, until `jobs` have all started; returns their start order. */
async function releaseUntilStarted(jobs: Job[]): Promise<string[]> {
  // A job joins admission's queue in its workflow's first task, just after its submit returned:
  // admission can only order the jobs it has heard of, so release nothing before all are there.
  await admissionWaitingFor(
    env.client,
    jobs.map((j) => j.jobId),
  );
  const ids = new Set(jobs.map((j) => j.jobId));
  const order = () => startedIds().filter((id) => ids.has(id));
  while (order().length < jobs.length) {
    const before = order().length;
    const oldest = watch.starts.find((s) => inFlightIds().includes(s.jobId));
    if (!oldest) throw new Error('nothing in flight to release');
    for (const sim of Object.values(stack.sims)) sim.release(oldest.jobId);
    await watch.until('a waiting job to start', () => order().length > before, 15_000);
  }
  return order();
}

async function row(jobId: string): Promise<JobRow | null> {
  return stack.store.getJob(jobId);
}

test('with only general jobs, exactly the total cap renders at once: no slot is parked by an idle poller', async () => {
  holdAll();
  watch.resetPeak();
  const jobs: Job[] = [];
  for (let i = 0; i < 7; i += 1)
    jobs.push(await submit(i % 2 ? 'concept_explainer' : 'solution_walkthrough', 'medium'));
  await watch.until('the total cap to be reached', (w) => w.current().total === CAPS.total);
  // Give any over-admission time to show.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect(watch.current()).toMatchObject({ total: CAPS.total, manim: 0 });
  expect(watch.peak().total).toBe(CAPS.total);
});

test('Manim never exceeds its own cap, and a Manim job blocked by it does not block general jobs behind it', async () => {
  holdAll();
  watch.resetPeak();
  const manim = [await submit('doubt', 'high'), await submit('doubt', 'high'), await submit('doubt', 'high')];
  const general = await submit('concept_explainer', 'low');
  // With slots free, the first requests to reach admission are granted: which two Manim jobs
  // render depends on that race (submitting does not wait for admission), how many does not.
  const manimRendering = () => manim.filter((j) => inFlightIds().includes(j.jobId)).length;
  await watch.until(
    'two Manim jobs and the general job to render',
    () => manimRendering() === CAPS.manim && inFlightIds().includes(general.jobId),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(manimRendering()).toBe(CAPS.manim);
  expect(watch.peak().manim).toBe(CAPS.manim);
});

test('a freed slot goes to the highest priority across renderers: high orchestrator jobs start before earlier low Manim jobs', async () => {
  holdAll();
  await fill(CAPS.total);
  const low = [await submit('doubt', 'low', 'low-0'), await submit('doubt', 'low', 'low-1')];
  const high = [
    await submit('solution_walkthrough', 'high', 'high-0'),
    await submit('solution_walkthrough', 'high', 'high-1'),
  ];
  const order = await releaseUntilStarted([...low, ...high]);
  const label = (id: string) => [...low, ...high].find((j) => j.jobId === id)!.label;
  expect(order.map(label)).toEqual(['high-0', 'high-1', 'low-0', 'low-1']);
});

test('within a priority, jobs start in the order their submissions were accepted, with 10 concurrent submitters', async () => {
  holdAll();
  await fill(CAPS.total);
  const submitters = Array.from({ length: 10 }, () =>
    (async () => {
      const mine: Job[] = [];
      for (let i = 0; i < 2; i += 1)
        mine.push(await submit(i % 2 ? 'solution_walkthrough' : 'concept_explainer', 'medium'));
      return mine;
    })(),
  );
  const jobs = (await Promise.all(submitters)).flat();
  // Accepted time: when admission took the job into its queue (each submit asks it before returning).
  const accepted = new Map<string, number>();
  for (const job of jobs) {
    const entry = await eventually('the job to be in the queue', async () => {
      const snapshot = await env.client.workflow
        .getHandle(ADMISSION_WORKFLOW_ID)
        .query(admissionSnapshotQuery);
      return AdmissionQueue.decode(snapshot.queue).waitingEntry(job.jobId);
    });
    accepted.set(job.jobId, entry.acceptedAt);
  }
  const expected = [...jobs]
    .sort((a, b) => accepted.get(a.jobId)! - accepted.get(b.jobId)! || (a.jobId < b.jobId ? -1 : 1))
    .map((j) => j.jobId);
  // General jobs only, so no cap skips anyone: each freed slot goes to the head of the queue, and
  // starts follow acceptance exactly.
  const order = await releaseUntilStarted(jobs);
  expect(order).toEqual(expected);
  // The rows say so too: accepted_at is the order a frontend can show.
  const rows = await Promise.all(jobs.map((j) => row(j.jobId)));
  for (const r of rows) expect(Date.parse(r!.acceptedAt!)).toBe(accepted.get(r!.id));
});

test('requests sent while another is in flight reach admission together: 30 requests in 3 signals, each queued with the acceptance it carried', async () => {
  holdAll();
  await fill(CAPS.total);
  const admission = env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID);
  const { runId } = await admission.describe();
  const eventsBefore = (await admission.fetchHistory()).events?.length ?? 0;
  // Requests of jobs that have no workflow: given back below, before any could be granted.
  const requests: PermitRequest[] = Array.from({ length: 30 }, (_, i) => ({
    jobId: randomUUID(),
    renderer: 'revideo',
    priority: 'low',
    attempt: 1,
    acceptedAt: Date.now() + i,
  }));
  // A client of its own: requests are batched per client, and the workers' share env.client.
  const client = new Client({ connection: env.connection });
  try {
    await Promise.all(requests.map((request) => requestAdmission(client, request)));
    // Signals that land during a workflow task enter the history when it completes.
    const queue = await eventually('all 30 requests in the queue', async () => {
      const q = AdmissionQueue.decode((await admission.query(admissionSnapshotQuery)).queue);
      return requests.every((r) => q.waitingEntry(r.jobId)) ? q : undefined;
    });
    expect(requests.map((r) => queue.waitingEntry(r.jobId)?.acceptedAt)).toEqual(
      requests.map((r) => r.acceptedAt),
    );
    const events =
      (await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID, runId).fetchHistory()).events ?? [];
    const signals = events
      .slice(eventsBefore)
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)
      .filter((name) => name === 'permitRequest' || name === 'permitRequests');
    // Two go alone (two sends in flight at once); the 28 handed in meanwhile go in one signal.
    expect(signals).toEqual(['permitRequest', 'permitRequest', 'permitRequests']);
  } finally {
    for (const { jobId } of requests) {
      await admission.signal(permitReleaseSignal, { jobId, attempt: 1, outcome: 'withdrawn' });
    }
  }
});

test('queue_position 1 of each pool is the next job of that pool to start, and estimated starts follow the positions', async () => {
  holdAll();
  await fill(CAPS.total);
  const waiting = [
    await submit('doubt', 'low', 'm-low'),
    await submit('concept_explainer', 'medium', 'g-med'),
    await submit('doubt', 'high', 'm-high'),
    await submit('solution_walkthrough', 'low', 'g-low'),
    await submit('concept_explainer', 'high', 'g-high'),
  ];
  const poolOf = (jobId: string) => POOL_OF[waiting.find((j) => j.jobId === jobId)!.jobType];
  /** The rows of jobs still waiting once their positions match the queue: 1..n within each pool. */
  const publishedQueue = async () => {
    const notStarted = waiting.filter((j) => !startedIds().includes(j.jobId));
    const rows = (await Promise.all(notStarted.map((j) => row(j.jobId)))).filter(
      (r): r is JobRow => r !== null,
    );
    if (rows.length < notStarted.length) return undefined; // a first sync has not landed yet
    for (const pool of ['manim', 'general'] as const) {
      const inPool = rows.filter((r) => poolOf(r.id) === pool);
      const positions = inPool.map((r) => r.queuePosition ?? 0).sort((a, b) => a - b);
      if (positions.some((p, i) => p !== i + 1)) return undefined;
      if (inPool.some((r) => r.estimatedStartAt === null)) return undefined;
    }
    return rows;
  };
  while (waiting.some((j) => !startedIds().includes(j.jobId))) {
    const rows = await eventually('positions to match the queue', publishedQueue, 10_000);
    const heads = new Map(rows.filter((r) => r.queuePosition === 1).map((r) => [poolOf(r.id), r.id]));
    // A later place never has an earlier estimated start.
    for (const pool of ['manim', 'general'] as const) {
      const starts = rows
        .filter((r) => poolOf(r.id) === pool)
        .sort((a, b) => a.queuePosition! - b.queuePosition!)
        .map((r) => Date.parse(r.estimatedStartAt!));
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    }
    const before = startedIds().length;
    const oldest = watch.starts.find((s) => inFlightIds().includes(s.jobId))!;
    for (const sim of Object.values(stack.sims)) sim.release(oldest.jobId);
    await watch.until('the next start', () => startedIds().length > before);
    const next = startedIds()[before]!;
    // Whichever pool the next start came from, it was that pool's position 1.
    expect(heads.get(poolOf(next))).toBe(next);
  }
});

test('a change to job_queue_config takes effect without a restart; lowering a cap stops nothing that runs', async () => {
  holdAll();
  const jobs: Job[] = [];
  for (let i = 0; i < 7; i += 1) jobs.push(await submit('concept_explainer', 'medium'));
  await watch.until('the cap of 4', (w) => w.current().total === 4);
  await setFleetCaps(stack.db, { total: 6, manim: 2 });
  await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(admissionConfigChangedSignal);
  await watch.until('the raised cap of 6', (w) => w.current().total === 6);
  await setFleetCaps(stack.db, { total: 2, manim: 2 });
  await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).signal(admissionConfigChangedSignal);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect(watch.current().total).toBe(6);
  // Renders end; no new one starts until fewer than 2 run.
  for (const sim of Object.values(stack.sims)) sim.release();
  await eventually('every job to finish', async () => {
    const rows = await Promise.all(jobs.map((j) => row(j.jobId)));
    return rows.every((r) => r?.status === 'completed');
  });
});

test('terminating a job workflow frees its permit and its place, and its row ends failed with the reason', async () => {
  holdAll();
  const holder = await submit('concept_explainer', 'medium', 'holder');
  const fillers = await fill(CAPS.total - 1);
  const waiter = await submit('concept_explainer', 'medium', 'waiter');
  const next = await submit('concept_explainer', 'medium', 'next');
  await eventually('positions', async () => (await row(next.jobId))?.queuePosition === 2, 10_000);

  await env.client.workflow.getHandle(waiter.workflowId).terminate('operator removed it');
  await env.client.workflow.getHandle(holder.workflowId).terminate('operator stopped it');
  // Within a reconciliation round (15 s), well inside a minute: the holder's slot goes to `next`.
  await watch.until(
    'the job behind the terminated ones to start',
    () => inFlightIds().includes(next.jobId),
    60_000,
  );
  // The terminated holder's render was told to stop; the caps held at the renderer throughout.
  expect(stack.sims.revideo.ledger.some((c) => c.method === 'DELETE' && c.jobId === holder.jobId)).toBe(true);
  expect(watch.current().total).toBeLessThanOrEqual(CAPS.total);
  for (const [job, reason] of [
    [holder, 'operator stopped it'],
    [waiter, 'operator removed it'],
  ] as const) {
    const ended = await eventually(
      `${job.label}'s row to end`,
      async () => {
        const r = await row(job.jobId);
        return r?.status === 'failed' ? r : undefined;
      },
      60_000,
    );
    expect(ended.error).toContain(reason);
    expect(ended.queuePosition).toBeNull();
  }
  expect(fillers).toHaveLength(CAPS.total - 1);
}, 120_000);

test('an operator moves a waiting job to high priority: it starts next, keeps its acceptance time, and its row shows the new priority', async () => {
  holdAll();
  await fill(CAPS.total);
  const first = await submit('concept_explainer', 'medium', 'first');
  const second = await submit('concept_explainer', 'medium', 'second');
  const moved = await submit('concept_explainer', 'low', 'moved');
  const acceptedBefore = await eventually('the low job to be in the queue', async () => {
    const snapshot = await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery);
    return AdmissionQueue.decode(snapshot.queue).waitingEntry(moved.jobId)?.acceptedAt;
  });
  await expect(changeJobPriority(env.client, moved.jobId, 'urgent')).rejects.toThrow(/priority: /);
  expect(await changeJobPriority(env.client, moved.jobId, 'high')).toBe('changed');
  await eventually('the move to reach admission', async () => {
    const snapshot = await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery);
    const entry = AdmissionQueue.decode(snapshot.queue).waitingEntry(moved.jobId);
    return entry?.rank === 0 && entry.acceptedAt === acceptedBefore;
  });
  const order = await releaseUntilStarted([first, second, moved]);
  expect(order).toEqual([moved.jobId, first.jobId, second.jobId]);
  const movedRow = await eventually('the row to show high', async () => {
    const r = await row(moved.jobId);
    return r?.priority === 'high' ? r : undefined;
  });
  expect(movedRow.priority).toBe('high');
});
