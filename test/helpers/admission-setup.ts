/**
 * What admission's tests start with: job workflows that run and take signals (no worker polls
 * their queue, so they never end until terminated, and a grant signalled to one is delivered, or,
 * terminated, is not), and an admission run with an empty queue.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { CapsConfig } from '../../src/capacity/peak-hours';
import { NO_DURATIONS } from '../../src/shared/admission-estimate';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import { DEFAULT_QUEUE_CONFIG, WORKFLOW_TYPE, renderJobWorkflowId } from '../../src/shared/constants';
import type { AdmissionInput, AdmissionOptions } from '../../src/workflows/admission';

export async function startJobStandIn(client: Client, jobId: string): Promise<void> {
  await client.workflow.start(WORKFLOW_TYPE.renderJob, {
    workflowId: renderJobWorkflowId(jobId),
    taskQueue: `nobody-polls-${randomUUID()}`,
  });
}

/** Ends the stand-ins still running (a test's clean-up: one already gone is no error). */
export async function terminateStandIns(client: Client, jobIds: string[]): Promise<void> {
  await Promise.all(
    jobIds.map((id) =>
      client.workflow
        .getHandle(renderJobWorkflowId(id))
        .terminate('test over')
        .catch(() => undefined),
    ),
  );
}

/** An admission run's input with an empty queue and these caps: a run of current code, started fresh for a test. */
export function emptyAdmissionInput(config: CapsConfig, options: AdmissionOptions): AdmissionInput {
  return {
    version: 1,
    state: {
      queue: new AdmissionQueue().encode(),
      config,
      durations: NO_DURATIONS,
      reconciledUntil: Date.now(),
      granted: 0,
      requestBatches: true,
    },
    options,
  };
}

/** Caps of `renders` at any hour, Manim included: small enough that any change to who holds and who waits shows. */
export function flatCaps(renders: number) {
  return {
    ...DEFAULT_QUEUE_CONFIG,
    maxConcurrentRenders: renders,
    maxManimRenders: renders,
    peakWorkerMultiplier: 1,
  };
}

/**
 * Admission's service activities for a test that watches admission alone: these caps, nothing
 * closed, nobody to re-register, nothing published; `overrides` replaces any of them.
 */
export function serviceStandIns<T extends object = object>(caps: ReturnType<typeof flatCaps>, overrides?: T) {
  return {
    readAdmissionConfig: async () => ({ ok: true, config: caps }),
    reconcileAdmission: async () => ({ closed: [] as string[], checkedAt: Date.now(), visibility: true }),
    announceAdmissionRestart: async () => ({ signalled: 0, rendering: 0, visibility: true }),
    publishQueuePositions: async () => ({ version: 0, written: 0, missing: 0 }),
    ...overrides,
  };
}
