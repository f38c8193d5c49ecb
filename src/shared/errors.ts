/**
 * Error type strings shared by activities (which raise them) and workflows (which list the
 * non-retryable ones). Matched by these explicit strings, never by class names that
 * minification could change.
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
} as const;

export const NON_RETRYABLE_RENDER_ERRORS: string[] = [
  RENDER_ERROR.rejected,
  RENDER_ERROR.failedPermanently,
  RENDER_ERROR.invalidPayload,
];
