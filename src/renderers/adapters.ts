/**
 * One adapter per render backend. They share the contract and differ only where the backends do:
 * - manim, revideo: the contract request as is.
 * - orchestrator: it runs multi-step pipelines and needs to be told which one; the pipeline is
 *   named after the job type, sent in a `pipeline` field next to the payload (the simulator's
 *   orchestrator rejects a request without it, like the real service).
 */
import { RENDERERS, type Renderer } from '../shared/constants';
import type { RenderRequest } from './contract';
import { RendererClient, type RendererAdapter } from './http-client';

export interface RendererAdapterOptions {
  requestTimeoutMs?: number;
  cancelTimeoutMs?: number;
}

export function orchestratorRequest(request: RenderRequest): RenderRequest {
  return { ...request, pipeline: request.jobType };
}

const ENCODERS: Record<Renderer, ((request: RenderRequest) => RenderRequest) | undefined> = {
  manim: undefined,
  revideo: undefined,
  orchestrator: orchestratorRequest,
};

export function createRendererAdapter(
  renderer: Renderer,
  baseUrl: string,
  options: RendererAdapterOptions = {},
): RendererAdapter {
  return new RendererClient({ name: renderer, baseUrl, ...options, encodeRequest: ENCODERS[renderer] });
}

export function createRenderers(
  urls: Record<Renderer, string>,
  options: RendererAdapterOptions = {},
): Record<Renderer, RendererAdapter> {
  const entries = RENDERERS.map((renderer) => [
    renderer,
    createRendererAdapter(renderer, urls[renderer], options),
  ]);
  return Object.fromEntries(entries) as Record<Renderer, RendererAdapter>;
}
