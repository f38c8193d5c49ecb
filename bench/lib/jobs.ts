/**
 * The jobs every system runs: the same deterministic mix (seeded), so a difference between
 * systems is the scheduler's, not the workload's.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { submitJob } from '../../src/jobs/submit';
import type { Priority, Renderer } from '../../src/shared/constants';
import { renderQueueFor } from '../../src/shared/constants';
import type { RenderQueue } from '../../src/shared/constants';

export interface BenchJob {
  id: string;
  jobType: 'doubt' | 'concept_explainer' | 'solution_walkthrough';
  renderer: Renderer;
  priority: Priority;
  /** The simulator renders this job for this long (payload.simulate.durationMs). */
  durationMs: number;
  /** Extra simulate options (a held render for the crash scenario, for instance). */
  payload: { simulate: { durationMs: number; steps: number } };
}

export interface MixOptions {
  count: number;
  durationMs: number;
  /** Share of Manim jobs, 0..1. */
  manimShare?: number;
  /** Priorities drawn uniformly when true; all `medium` otherwise. */
  mixedPriorities?: boolean;
  seed?: number;
}

/** mulberry32: tiny, seedable, good enough to pick a workload. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRIORITY_ORDER: Priority[] = ['high', 'medium', 'low'];

export function jobMix(options: MixOptions): BenchJob[] {
  const random = seededRandom(options.seed ?? 42);
  const manimShare = options.manimShare ?? 0.3;
  const jobs: BenchJob[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const manim = random() < manimShare;
    const general = random() < 0.5 ? 'revideo' : 'orchestrator';
    const renderer: Renderer = manim ? 'manim' : general;
    const priority = options.mixedPriorities ? PRIORITY_ORDER[Math.floor(random() * 3)]! : 'medium';
    jobs.push(benchJob(renderer, priority, options.durationMs));
  }
  return jobs;
}

export function benchJob(renderer: Renderer, priority: Priority, durationMs: number): BenchJob {
  const jobType =
    renderer === 'manim' ? 'doubt' : renderer === 'revideo' ? 'concept_explainer' : 'solution_walkthrough';
  // One step for short renders: the simulator's tick timers then cost the same for every system.
  const steps = durationMs >= 1000 ? 5 : 1;
  return {
    id: randomUUID(),
    jobType,
    renderer,
    priority,
    durationMs,
    payload: { simulate: { durationMs, steps } },
  };
}

export function poolOf(job: Pick<BenchJob, 'renderer'>): RenderQueue {
  return renderQueueFor(job.renderer);
}

/** Submits a bench job through this project's API (submitJob), with its own id. */
export async function submitBenchJob(client: Client, job: BenchJob): Promise<void> {
  await submitJob(client, {
    id: job.id,
    jobType: job.jobType,
    priority: job.priority,
    renderer: job.renderer,
    payload: job.payload,
  });
}
