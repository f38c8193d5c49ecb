/**
 * Custom search attributes, so an operator can filter jobs in the Temporal Web UI
 * (e.g. `RenderStatus = "failed" AND Renderer = "manim"`). Registered on every server we start.
 */
import { defineSearchAttributeKey } from '@temporalio/common';

export const SEARCH_ATTRIBUTES = {
  jobId: defineSearchAttributeKey('JobId', 'KEYWORD'),
  jobType: defineSearchAttributeKey('JobType', 'KEYWORD'),
  priority: defineSearchAttributeKey('Priority', 'KEYWORD'),
  renderer: defineSearchAttributeKey('Renderer', 'KEYWORD'),
  renderStatus: defineSearchAttributeKey('RenderStatus', 'KEYWORD'),
} as const;

export const SEARCH_ATTRIBUTE_KEYS = Object.values(SEARCH_ATTRIBUTES);

/** `--search-attribute` flags for `temporal server start-dev` and `temporal operator`. */
export function searchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}
