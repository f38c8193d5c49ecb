/** What a scenario needs from a system under test, whichever it is. */
import type { Renderer } from '../../src/shared/constants';
import type { BenchJob } from '../lib/jobs';
import type { BenchDb } from '../lib/infra';

export const SYSTEM_IDS = [
  'temporal-1s',
  'temporal-100ms',
  'old-poller-60s',
  'old-poller-1s',
  'bullmq',
] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

export const SYSTEM_LABELS: Record<SystemId, string> = {
  'temporal-1s': 'this project (render poll 1 s, production default)',
  'temporal-100ms': 'this project (render poll 100 ms)',
  'old-poller-60s': 'old poller (60 s interval, as run today)',
  'old-poller-1s': 'old poller (1 s interval, at its best)',
  bullmq: 'BullMQ (Redis)',
};

/** The two variants of this project, compared against each peer. */
export const PROJECT_IDS: SystemId[] = ['temporal-1s', 'temporal-100ms'];
export const PEER_IDS: SystemId[] = ['old-poller-60s', 'old-poller-1s', 'bullmq'];

export interface StartContext {
  urls: Record<Renderer, string>;
  /** Its job_queue_config holds the run's caps. */
  db: BenchDb;
}

export interface SystemRun {
  /** Accepts a job the way this system's clients submit one; resolves once it is accepted. */
  submit(job: BenchJob): Promise<void>;
  /** Resolves once the system's own queue holds these submitted jobs (beyond their rows). */
  ready(jobIds: readonly string[]): Promise<void>;
  stop(): Promise<void>;
  /** Throws once the system can no longer finish jobs (a worker process it runs died): fail now, not at the timeout. */
  assertAlive?(): void;
  /**
   * When the system decided each job may start, epoch ms, where deciding and starting are apart
   * (this project: its permit's grant reached the job's workflow). Systems that decide as they
   * start have none.
   */
  decisions?(jobIds: readonly string[]): Promise<DecisionStages>;
  /** This project: admission's continue-as-new handovers that ended after `sinceMs` (epoch ms). */
  handovers?(sinceMs: number): Promise<AdmissionHandover[]>;
}

/** One admission run that continued as new, read from its history. */
export interface AdmissionHandover {
  /** A signal raced the task that continued as new: the server failed it, and the run was replayed. */
  raced: boolean;
  /** From the first workflow task past the run's history limit to the continue-as-new. */
  closingMs: number;
  /** The longest wait for a workflow task to complete over that stretch (a replay shows here). */
  longestTaskMs: number;
}

export interface SystemFactory {
  id: SystemId;
  start(ctx: StartContext): Promise<SystemRun>;
}

/**
 * Where a job's start went between the decision and the renderer (this project), epoch ms per job
 * id: the grant reached the job's workflow, the workflow scheduled its render activity, a worker
 * picked that activity up. Jobs without a stage in their history are left out of its map.
 */
export interface DecisionStages {
  granted: Map<string, number>;
  scheduled: Map<string, number>;
  pickedUp: Map<string, number>;
}
