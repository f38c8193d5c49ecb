/**
 * Every failure type the project raises, spelled once. Matched by these explicit strings, never
 * by class names that minification could change.
 */

/** A job workflow's own failure: its render failed for good (after retries, or at once). */
export const RENDER_JOB_FAILED = 'RenderJobFailed';
/** A job workflow's own failure: its input is not a job (no attempt can succeed). */
export const INVALID_JOB_INPUT = 'InvalidJobInput';
/** The admission workflow's own failure: started with an input version it does not know. */
export const INVALID_ADMISSION_INPUT = 'InvalidAdmissionInput';

/**
 * Error type strings shared by activities (which raise them) and workflows (which classify
 * them). Matched by these explicit strings, never by class names that minification could change.
 */
export const RENDER_ERROR = {
  /** The renderer answered 4xx: the request itself is wrong, retrying cannot fix it. */
  rejected: 'RendererRejected',
  /** The renderer reported a failure it marked `retryable: false`. */
  failedPermanently: 'RenderFailedPermanently',
  /** The renderer reported a failure that a new attempt may fix. */
  failed: 'RenderFailed',
  /** Network error, timeout or 5xx: the renderer may be back on the next attempt. */
  unavailable: 'RendererUnavailable',
  /** The renderer's answer did not match the contract: retryable, it is usually a bad deploy. */
  badResponse: 'RendererBadResponse',
  /** Our own input failed validation: no attempt can succeed. */
  invalidPayload: 'InvalidPayload',
  /** Anything else the render activity did not expect (a bug): counts as a failed attempt. */
  unexpected: 'RenderUnexpectedError',
  /**
   * The worker running the render went away (shutdown past its grace, or its heartbeats were
   * lost): not a render failure. Temporal retries it at once on another worker, which resumes
   * the same render.
   */
  workerLost: 'RenderWorkerLost',
} as const;

/** Failures no attempt can fix: the job fails at once. */
export const NON_RETRYABLE_RENDER_ERRORS: string[] = [
  RENDER_ERROR.rejected,
  RENDER_ERROR.failedPermanently,
  RENDER_ERROR.invalidPayload,
];

/**
 * Failures that use one of the job's attempts: the job waits the retry interval, then rejoins
 * the queue. Temporal must not retry these itself (its retries are for lost workers only).
 */
export const ATTEMPT_FAILURE_RENDER_ERRORS: string[] = [
  RENDER_ERROR.failed,
  RENDER_ERROR.unavailable,
  RENDER_ERROR.badResponse,
  RENDER_ERROR.unexpected,
];

/** A read-model write the database refused on its rules: retrying the same write cannot help. */
export const READ_MODEL_REJECTED = 'ReadModelRejected';
