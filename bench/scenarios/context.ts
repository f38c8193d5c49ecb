/** What every scenario gets from the run: sizes, the systems that can run here, logging. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SystemFactory, SystemId } from '../systems/types';

export type Size = 'smoke' | 'quick' | 'full';

export interface Sizes {
  latencyJobs: number;
  latencySpacingMs: number;
  /** Old poller at 60 s: jobs per poll cycle (kept under the cap, so capacity stays free) and cycles. */
  oldLatencyPerCycle: number;
  oldLatencyCycles: number;
  efficiencyJobs: number;
  throughputJobs: number;
  /** false: crash figures come from each system's rule (smoke: a kill costs 20-60 s per system). */
  crashMeasured: boolean;
  resourcesJobs: number;
  /** This project only: jobs held in flight for the footprint's upper point (flat from resourcesJobs to this). */
  footprintMaxJobs: number;
  /** This project only: jobs waiting in admission before the drain. */
  admissionWaiting: number;
  /** Saturated run at realistic render lengths (5 s). */
  realisticJobs: number;
  /** Jobs through three worker processes of each system, one killed midway. */
  fleetJobs: number;
}

export const SIZES: Record<Size, Sizes> = {
  smoke: {
    latencyJobs: 8,
    latencySpacingMs: 150,
    oldLatencyPerCycle: 0,
    oldLatencyCycles: 0,
    efficiencyJobs: 30,
    throughputJobs: 30,
    crashMeasured: false,
    resourcesJobs: 30,
    footprintMaxJobs: 60,
    admissionWaiting: 100,
    realisticJobs: 10,
    fleetJobs: 12,
  },
  quick: {
    latencyJobs: 40,
    latencySpacingMs: 150,
    oldLatencyPerCycle: 8,
    oldLatencyCycles: 2,
    efficiencyJobs: 120,
    throughputJobs: 120,
    crashMeasured: true,
    resourcesJobs: 120,
    footprintMaxJobs: 600,
    admissionWaiting: 1000,
    realisticJobs: 40,
    fleetJobs: 100,
  },
  full: {
    latencyJobs: 250,
    latencySpacingMs: 150,
    oldLatencyPerCycle: 8,
    oldLatencyCycles: 5,
    efficiencyJobs: 1000,
    throughputJobs: 2000,
    crashMeasured: true,
    resourcesJobs: 1000,
    footprintMaxJobs: 5000,
    admissionWaiting: 10_000,
    realisticJobs: 150,
    fleetJobs: 200,
  },
};

export interface BenchContext {
  size: Size;
  sizes: Sizes;
  env: TestWorkflowEnvironment;
  /** Systems runnable here; a missing one (BullMQ without Redis) is reported as skipped. */
  factories: Partial<Record<SystemId, SystemFactory>>;
  /** This project fed the frontend's way (a row inserted, intake wakes): the latency scenario's like-for-like path. */
  insertFactories: Partial<Record<SystemId, SystemFactory>>;
  /** Why a system is missing. */
  unavailable: Partial<Record<SystemId, string>>;
  /** Prebuilt workflow bundle for worker processes (as production images ship it). */
  bundlePath: string;
  /** Set when PostgreSQL answers: worker processes need a database they can share. */
  postgres: boolean;
  log(msg: string, fields?: Record<string, unknown>): void;
}
