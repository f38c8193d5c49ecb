/**
 * What admission sustains: a deep queue waiting behind full caps, then drained. This project only
 * (the peers have no admission authority: a job goes straight to their dispatch query or queue).
 *
 * Every slot is held while `admissionWaiting` jobs are submitted by 10 submitters; when admission
 * holds them all, the held renders end and the queue drains. The caps are raised (60 total, 24
 * Manim) so that they never bind: starts per second then shows what admission and the job
 * workflows around it sustain on this machine, not the caps. Starts are counted at the renderers.
 *
 * The worker is the shipped one, in a process of its own (where PostgreSQL answers).
 *
 * Admission's own share comes from its history in the same run: how long its workflow tasks ran
 * during the steady drain (its grant deliveries included), so the grants per second of admission
 * busy time say what it could hand out if the rest of the machine kept up.
 */
import type { Client } from '@temporalio/client';
import { ADMISSION_WORKFLOW_ID } from '../../src/shared/constants';
import { drive } from '../lib/drive';
import { jobMix } from '../lib/jobs';
import type { Column, ScenarioReport, SystemResult } from '../lib/report';
import { skipped } from '../lib/report';
import { round } from '../lib/stats';
import { temporalWorkerProcessSystem } from '../systems/temporal';
import { SYSTEM_IDS } from '../systems/types';
import type { SystemId } from '../systems/types';
import type { BenchContext } from './context';
import { fillersFor } from './saturation';

const CAPS = { total: 60, manim: 24 };
const RENDER_MS = 200;
const SUBMITTERS = 10;
/** The production variant: the render poll does not change what admission does. */
const MEASURED: SystemId = 'temporal-1s';

const COLUMNS: Column[] = [
  { key: 'waiting', label: 'jobs waiting' },
  { key: 'startsPerSecond', label: 'starts/s (steady)' },
  { key: 'submitsPerSecond', label: 'submits/s' },
  { key: 'drainS', label: 'drain s' },
  { key: 'admissionBusyShare', label: 'admission busy share' },
  { key: 'admissionGrantsPerBusyS', label: 'grants per admission-busy s' },
  { key: 'admissionEventsPerJob', label: 'admission events/job' },
];

/** Every run of the admission workflow so far. */
async function admissionRuns(client: Client) {
  const runs = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = '${ADMISSION_WORKFLOW_ID}'` })) {
    runs.push(run);
  }
  return runs;
}

const eventMs = (time: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  Number(time?.seconds ?? 0) * 1000 + Math.round((time?.nanos ?? 0) / 1e6);

/**
 * How long admission's workflow tasks ran (started → completed, its grant deliveries included)
 * within [from, to]: what admission itself costs in the drain, beside the job workflows' cost.
 */
async function admissionBusyMs(client: Client, from: number, to: number): Promise<number> {
  let busy = 0;
  for (const run of await admissionRuns(client)) {
    if (run.closeTime && run.closeTime.getTime() < from) continue;
    const history = await client.workflow.getHandle(ADMISSION_WORKFLOW_ID, run.runId).fetchHistory();
    let startedAt: number | undefined;
    for (const event of history.events ?? []) {
      if (event.workflowTaskStartedEventAttributes) startedAt = eventMs(event.eventTime);
      else if (event.workflowTaskCompletedEventAttributes && startedAt !== undefined) {
        const completedAt = eventMs(event.eventTime);
        busy += Math.max(0, Math.min(completedAt, to) - Math.max(startedAt, from));
        startedAt = undefined;
      }
    }
  }
  return busy;
}

/** Events of every admission run so far; the open run's from its history (visibility updates its length only at close). */
async function admissionEvents(client: Client): Promise<number> {
  let events = 0;
  for (const run of await admissionRuns(client)) {
    events += run.closeTime
      ? run.historyLength
      : ((await client.workflow.getHandle(ADMISSION_WORKFLOW_ID, run.runId).fetchHistory()).events?.length ??
        0);
  }
  return events;
}

export async function admissionScenario(ctx: BenchContext): Promise<ScenarioReport> {
  const waiting = ctx.sizes.admissionWaiting;
  const results = {} as Record<SystemId, SystemResult>;
  for (const id of SYSTEM_IDS) {
    if (id !== MEASURED) {
      results[id] = skipped(
        id === 'temporal-100ms'
          ? 'admission does the same work whatever the render poll: measured once, for the production variant'
          : 'no admission authority: jobs go straight to its dispatch query or queue',
      );
      continue;
    }
    // Ten thousand workflows in flight: in the shipped worker's own process where PostgreSQL lets
    // one share the run's database (as production runs it, and a crash of it is reported, not fatal
    // to the whole benchmark); in-process on PGlite.
    const factory = ctx.postgres
      ? temporalWorkerProcessSystem(ctx.env, id, ctx.bundlePath)
      : ctx.factories[id];
    if (!factory) {
      results[id] = skipped(ctx.unavailable[id] ?? 'not available');
      continue;
    }
    ctx.log('admission', { system: id, waiting });
    const jobs = jobMix({ count: waiting, durationMs: RENDER_MS, mixedPriorities: true, seed: 17 });
    const eventsBefore = await admissionEvents(ctx.env.client);
    const run = await drive(factory, jobs, {
      mode: 'held',
      fillers: fillersFor(CAPS, RENDER_MS),
      submitters: SUBMITTERS,
      caps: CAPS,
      timeoutMs: 120_000 + waiting * 200,
    });
    // Visibility records a closed run's length a moment after it closes.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const eventsAfter = await admissionEvents(ctx.env.client);
    const starts = jobs
      .map((job) => run.firstStart.get(job.id))
      .filter((at): at is number => at !== undefined)
      .sort((a, b) => a - b);
    // The steady part of the drain: from the 10th to the 90th percentile start.
    const from = Math.floor(starts.length * 0.1);
    const to = Math.floor(starts.length * 0.9) - 1;
    const steadyS = (starts[to]! - starts[from]!) / 1000;
    const busyMs = await admissionBusyMs(ctx.env.client, starts[from]!, starts[to]!);
    const submitted = jobs.map((j) => run.submitAt.get(j.id)!);
    const accepted = jobs.map((j) => run.acceptedAt.get(j.id)!);
    const submitS = (Math.max(...accepted) - Math.min(...submitted)) / 1000;
    results[id] = {
      method: 'measured',
      figures: {
        waiting,
        startsPerSecond: round((to - from) / steadyS, 1),
        submitsPerSecond: round(waiting / submitS, 1),
        drainS: round((Math.max(...starts) - run.t0) / 1000),
        admissionBusyShare: round(busyMs / 1000 / steadyS, 3),
        admissionGrantsPerBusyS: busyMs > 0 ? round((to - from) / (busyMs / 1000), 0) : null,
        // Fillers included: they were admitted in this run too.
        admissionEventsPerJob: round((eventsAfter - eventsBefore) / (waiting + CAPS.total), 2),
      },
    };
  }
  return {
    id: 'admission',
    title: `Admission under a deep queue (caps raised to ${CAPS.total}/${CAPS.manim} so they never bind)`,
    params: {
      waiting,
      workerProcess: ctx.postgres,
      renderMs: RENDER_MS,
      submitters: SUBMITTERS,
      caps: CAPS,
      manimShare: 0.3,
    },
    columns: COLUMNS,
    results,
    ratios: {},
  };
}
