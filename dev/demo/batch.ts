/** The demo's realistic mixed batch, each job with the final state it must reach. */
import { randomUUID } from 'node:crypto';
import type { JobStatus, JobType, Priority } from '../../src/shared/constants';

export interface DemoJob {
  id: string;
  label: string;
  jobType: JobType;
  priority: Priority;
  payload: Record<string, unknown>;
  expected: JobStatus;
  /** Submitted by inserting the row as the frontend does, picked up by intake. */
  viaIntake?: boolean;
  /** Cancelled once its render starts. */
  cancel?: boolean;
}

const QUESTIONS = [
  'Why does ice float on water?',
  'Derive the quadratic formula',
  'What is the Krebs cycle?',
  'Explain Ohm’s law with an example',
  'How do vaccines train the immune system?',
  'Integrate x·sin(x) by parts',
  'Why is the sky blue?',
  'What causes the seasons?',
];
const TYPES: JobType[] = ['doubt', 'concept_explainer', 'solution_walkthrough', 'revision_summary'];
const PRIORITY_CYCLE: Priority[] = ['medium', 'low', 'high', 'medium', 'low', 'medium', 'high', 'low'];

export function demoBatch(size: number): DemoJob[] {
  const jobs: DemoJob[] = [];
  const make = (i: number, extra: Partial<DemoJob> & { simulate?: Record<string, unknown> }): DemoJob => {
    const { simulate, ...rest } = extra;
    return {
      id: randomUUID(),
      label: 'renders',
      jobType: TYPES[i % TYPES.length]!,
      priority: PRIORITY_CYCLE[i % PRIORITY_CYCLE.length]!,
      payload: {
        question: QUESTIONS[i % QUESTIONS.length],
        simulate: { durationMs: 2000 + ((i * 700) % 3000), steps: 5, ...simulate },
      },
      expected: 'completed',
      ...rest,
    };
  };
  const specials: Array<Partial<DemoJob> & { simulate?: Record<string, unknown> }> = [
    { label: 'fails once, retried', simulate: { failTimes: 1 } },
    { label: 'rejected (400)', simulate: { outcome: 'reject' }, expected: 'failed' },
    { label: 'cancelled', simulate: { durationMs: 20_000 }, cancel: true, expected: 'cancelled' },
    { label: 'fails every attempt', simulate: { failTimes: 99 }, expected: 'failed', priority: 'low' },
    { label: 'via frontend insert', viaIntake: true, priority: 'high' },
    { label: 'fails twice, retried', simulate: { failTimes: 2 } },
  ];
  for (let i = 0; i < size; i++) {
    const special = i % 2 === 1 ? specials[(i - 1) / 2] : undefined;
    jobs.push(make(i, special ?? {}));
  }
  return jobs;
}
