/**
 * Signals, queries and result types of the renderJob workflow, shared by the workflow, the
 * render activity's progress reporter, the CLI and tests.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { JobStatus, Priority } from './constants';

/**
 * Sent by the render activity: `submitted` once the renderer accepted the render (with its id, so
 * the workflow can have it cancelled even when the activity is gone), then `progress` as it
 * advances. `started` is what activities sent before fleet-wide admission.
 */
export interface RenderProgress {
  attempt: number;
  phase: 'started' | 'submitted' | 'progress';
  progress: number | null;
  renderId?: string;
}

export interface AttemptRecord {
  attempt: number;
  /** Workflow (server) time the attempt started (its permit was granted), ISO 8601. */
  startedAt: string;
}

/** What `status` shows and the read model stores, as the workflow sees it now. */
export interface JobState {
  jobId: string;
  status: JobStatus;
  attempt: number;
  progress: number | null;
  error: string | null;
  result: string | null;
  attempts: AttemptRecord[];
  startedAt: string | null;
  completedAt: string | null;
  /** While `retrying`: when the next attempt may start (it then waits for a permit). */
  nextAttemptAt: string | null;
  /** When admission accepted the job into its queue (known from its first grant). */
  acceptedAt?: string | null;
  /** The job's priority now (an operator may have changed it since submission). */
  priority?: Priority;
}

/** A job's state before its first attempt, as both job workflows (legacy and current) begin. */
export function freshJobState(jobId: string): JobState {
  return {
    jobId,
    status: 'queued',
    attempt: 0,
    progress: null,
    error: null,
    result: null,
    attempts: [],
    startedAt: null,
    completedAt: null,
    nextAttemptAt: null,
  };
}

export interface RenderJobResult {
  jobId: string;
  videoUrl: string;
  attempts: number;
}

export const renderProgressSignal = defineSignal<[RenderProgress]>('renderProgress');
/**
 * An operator moves a job to another priority: a waiting job moves in admission's order at
 * once, keeping its acceptance time; later attempts ask with the new priority.
 */
export const changePrioritySignal = defineSignal<[{ priority: Priority }]>('changePriority');
export const jobStateQuery = defineQuery<JobState>('jobState');

/** Sets the intake safety sweep's interval, in seconds (a worker with another setting started). */
export const intakeSweepIntervalSignal = defineSignal<[number]>('intakeSweepInterval');
