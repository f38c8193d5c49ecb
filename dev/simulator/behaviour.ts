/**
 * How a simulated render behaves, chosen per job by `payload.simulate`, so one simulator serves
 * every test scenario and the demo without restarts.
 */
import { z } from 'zod';

export const SIMULATED_OUTCOMES = [
  /** Progresses through its steps, then `completed` with a video URL (the default). */
  'succeed',
  /** Ends `failed` with `retryable: true`. */
  'fail',
  /** `POST /render` answers 400 with a message. */
  'reject',
  /** `POST` is accepted, then every `GET /render/:id` is left unanswered (socket kept open). */
  'hang',
  /** `GET /render/:id` answers 200 with a body that is not JSON. */
  'malformed',
  /** Stays `rendering` forever, progress stuck halfway. */
  'never-finish',
  /** Ends `completed` with `videoUrl: 'not a url'`. */
  'bad-video-url',
  /** Ends `failed` with `retryable: false`. */
  'fail-permanently',
] as const;
export type SimulatedOutcome = (typeof SIMULATED_OUTCOMES)[number];

export const SimulateSchema = z
  .object({
    outcome: z.enum(SIMULATED_OUTCOMES).default('succeed'),
    /** The first N `POST /render` calls for this job id answer 500; later ones are accepted. */
    failTimes: z.number().int().min(0).max(1000).default(0),
    durationMs: z.number().int().min(0).max(3_600_000).optional(),
    steps: z.number().int().min(1).max(1000).optional(),
  })
  .strict();
export type Simulate = z.output<typeof SimulateSchema>;

export interface Behaviour {
  outcome: SimulatedOutcome;
  failTimes: number;
  durationMs: number;
  steps: number;
}

export function resolveBehaviour(
  simulate: Simulate,
  defaults: { durationMs: number; steps: number },
): Behaviour {
  return {
    outcome: simulate.outcome,
    failTimes: simulate.failTimes,
    durationMs: simulate.durationMs ?? defaults.durationMs,
    steps: simulate.steps ?? defaults.steps,
  };
}

/** The garbage `malformed` renders answer with: truncated JSON, as a crashed proxy might send. */
export const MALFORMED_BODY = '{"status": "rendering", "progress": ';
