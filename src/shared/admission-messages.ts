/**
 * What job workflows, workers and tools say to the admission workflow, and what it answers.
 * Shared by the workflows, the activities that send the requests, the CLI and tests.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Priority } from './constants';
import type { EncodedQueue, PermitRequest } from './admission-queue';
import type { RenderDurations } from './admission-estimate';

export interface PermitRelease {
  jobId: string;
  attempt: number;
  /** How the render ended; a completed render's duration feeds the start estimates. */
  outcome: 'completed' | 'failed' | 'cancelled' | 'withdrawn';
}

export interface PermitGrant {
  attempt: number;
  /** When admission accepted the job (epoch ms): later attempts ask with it, to keep their place. */
  acceptedAt: number;
}

export interface Reprioritize {
  jobId: string;
  priority: Priority;
}

/** A job asks for a permit for one render attempt (idempotent by job id and attempt). */
export const permitRequestSignal = defineSignal<[PermitRequest]>('permitRequest');
/**
 * Requests a worker process gathered while its previous signal was in flight, in arrival order
 * (activities/admission-client.ts): one signal, one history event, for many jobs.
 */
export const permitRequestsSignal = defineSignal<[PermitRequest[]]>('permitRequests');
/** A job gives its permit back, or leaves the queue, at the end of an attempt. */
export const permitReleaseSignal = defineSignal<[PermitRelease]>('permitRelease');
/** A worker saw `job_queue_config` change (or got SIGHUP): re-read it now. */
export const admissionConfigChangedSignal = defineSignal('admissionConfigChanged');
/** An operator moved a waiting job to another priority; it keeps its accepted time. */
export const reprioritizeSignal = defineSignal<[Reprioritize]>('reprioritize');

/** A grant that could not be delivered: the job's workflow no longer runs. */
export interface UndeliveredGrant {
  jobId: string;
  attempt: number;
  /**
   * Which of admission's deliveries this was (numbered within its run): the permit is reclaimed
   * only if it was the job's last delivery, since a later one went to a newer run of the job.
   * Absent from reports of older code, which reclaim by attempt alone.
   */
  delivery?: number;
  error: string;
}
/** What a grant delivery is handed: the grant for the job, and the delivery number it reports back if undelivered. */
export type GrantToDeliver = { jobId: string; delivery?: number } & PermitGrant;
/**
 * Sent by admission's grant delivery to admission itself: these grants found no running job, and
 * their permits are to be reclaimed (why a signal: workflows/admission.ts, `deliverGrants`).
 */
export const grantsUndeliveredSignal = defineSignal<[UndeliveredGrant[]]>('grantsUndelivered');

/** Sent by admission to a job workflow: its permit for `attempt` is granted. */
export const permitGrantedSignal = defineSignal<[PermitGrant]>('permitGranted');
/**
 * Sent by an admission workflow that started afresh (its state was lost, e.g. terminated by an
 * operator) to every running job: waiting jobs ask again, holders re-register their permit.
 */
export const admissionRestartedSignal = defineSignal('admissionRestarted');

export interface AdmissionCapsInForce {
  total: number;
  manim: number;
  peak: boolean;
}

/** Everything needed to publish positions and estimates, compactly (about 50 bytes a job). */
export interface AdmissionSnapshot {
  /** Workflow time of the snapshot, epoch ms. */
  now: number;
  /** Bumped on every change that can move a position or an estimate. */
  version: number;
  caps: AdmissionCapsInForce;
  queue: EncodedQueue;
  durations: RenderDurations;
}

export const admissionSnapshotQuery = defineQuery<AdmissionSnapshot>('admissionSnapshot');

export type JobAdmission =
  | { state: 'waiting'; attempt: number; position: number; estimatedStartAt: string; waitingTotal: number }
  | { state: 'holding'; attempt: number; grantedAt: string }
  | { state: 'unknown' };

/** One job's place in the queue, live (the CLI's `status`). */
export const jobAdmissionQuery = defineQuery<JobAdmission, [string]>('jobAdmission');
