/**
 * Starts one simulator per render backend, on the ports the backends use by default so a worker
 * with default configuration finds them; a taken default port falls back to a free one (the
 * returned URLs say where each one ended up).
 */
import { RENDERERS, type Renderer } from '../../src/shared/constants';
import { startRendererSimulator, type RendererSimulator } from './renderer-simulator';

export const DEFAULT_SIMULATOR_PORTS: Record<Renderer, number> = {
  manim: 5000,
  revideo: 5001,
  orchestrator: 8103,
};

export interface StartAllSimulatorsOptions {
  /** An explicit port is used as given (0 = free port); it does not fall back when taken. */
  ports?: Partial<Record<Renderer, number>>;
  host?: string;
  defaultDurationMs?: number;
  progressSteps?: number;
}

export interface AllSimulators {
  simulators: Record<Renderer, RendererSimulator>;
  urls: Record<Renderer, string>;
  close(): Promise<void>;
}

export async function startAllSimulators(options: StartAllSimulatorsOptions = {}): Promise<AllSimulators> {
  const started: RendererSimulator[] = [];
  try {
    for (const backend of RENDERERS) {
      const explicit = options.ports?.[backend];
      const common = {
        backend,
        host: options.host,
        defaultDurationMs: options.defaultDurationMs,
        progressSteps: options.progressSteps,
      };
      started.push(
        explicit !== undefined
          ? await startRendererSimulator({ ...common, port: explicit })
          : await startOnDefaultPort(common, DEFAULT_SIMULATOR_PORTS[backend]),
      );
    }
  } catch (error) {
    await Promise.all(started.map((sim) => sim.close()));
    throw error;
  }
  const simulators = Object.fromEntries(started.map((sim) => [sim.backend, sim])) as Record<
    Renderer,
    RendererSimulator
  >;
  const urls = Object.fromEntries(started.map((sim) => [sim.backend, sim.url])) as Record<Renderer, string>;
  return { simulators, urls, close: async () => void (await Promise.all(started.map((sim) => sim.close()))) };
}

async function startOnDefaultPort(
  options: Omit<Parameters<typeof startRendererSimulator>[0], 'port'>,
  port: number,
): Promise<RendererSimulator> {
  try {
    return await startRendererSimulator({ ...options, port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    return startRendererSimulator({ ...options, port: 0 });
  }
}
