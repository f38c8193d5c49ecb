/** The `render-queue` commands. Each returns an exit code; errors are thrown and classified by main. */
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { cancelJob, getJobStatus, submitJob, validateSubmission } from '../client/submit';
import { EXIT, UsageError } from './io';
import type { Output } from './io';

export interface CommandContext {
  args: string[];
  out: Output;
  client: () => Promise<Client>;
}

export const USAGE = `render-queue: run video render jobs as durable Temporal workflows

Usage:
  render-queue submit --type <jobType> [--priority high|medium|low] [--renderer manim|revideo|orchestrator]
                      --payload '<json object>' [--id <uuid>] [--user <uuid>] [--json]
  render-queue status <jobId> [--json]
  render-queue cancel <jobId> [--json]

Examples:
  render-queue submit --type doubt --priority high --payload '{"question":"Why is the sky blue?"}'
  render-queue status 6f1c2f5e-1f7a-4f55-9d59-1f0e6f2f3a10 --json

Environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default).
Exit codes: 0 ok, 1 failure (including an unreachable server), 2 bad input (nothing was started).`;

type StringOptions = Record<string, { type: 'string' }>;

function parse(args: string[], options: StringOptions): { values: Record<string, string | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { ...options, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    const values: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(parsed.values)) if (typeof value === 'string') values[key] = value;
    return { values, positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function parsePayload(text: string | undefined): unknown {
  if (text === undefined) throw new UsageError('payload: required (--payload \'{"key":"value"}\')');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`payload: not valid JSON (${(err as Error).message})`);
  }
}

export async function submitCommand(ctx: CommandContext): Promise<number> {
  const { values } = parse(ctx.args, {
    type: { type: 'string' },
    priority: { type: 'string' },
    renderer: { type: 'string' },
    payload: { type: 'string' },
    id: { type: 'string' },
    user: { type: 'string' },
  });
  const submission = {
    ...(values.id !== undefined ? { id: values.id } : {}),
    jobType: values.type,
    ...(values.priority !== undefined ? { priority: values.priority } : {}),
    ...(values.renderer !== undefined ? { renderer: values.renderer } : {}),
    ...(values.user !== undefined ? { userId: values.user } : {}),
    payload: parsePayload(values.payload),
  };
  validateSubmission(submission); // bad input exits 2 before any connection is made
  const outcome = await submitJob(await ctx.client(), submission);
  ctx.out.print(
    outcome.started ? outcome.jobId : `${outcome.jobId} (already submitted; nothing new started)`,
    { jobId: outcome.jobId, workflowId: outcome.workflowId, started: outcome.started },
  );
  return EXIT.ok;
}

function jobIdArg(positionals: string[], command: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`jobId: required (render-queue ${command} <jobId>)`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    throw new UsageError(`jobId: "${id}" is not a uuid`);
  }
  return id;
}

export async function statusCommand(ctx: CommandContext): Promise<number> {
  const { positionals } = parse(ctx.args, {});
  const jobId = jobIdArg(positionals, 'status');
  const view = await getJobStatus(await ctx.client(), jobId);
  if (!view) {
    ctx.out.print(`job ${jobId} not found`, { jobId, found: false });
    return EXIT.failure;
  }
  const s = view.state;
  const text = s
    ? `${jobId}  ${s.status}  attempt ${s.attempt}` +
      (s.progress !== null ? `  ${Math.round(s.progress * 100)}%` : '') +
      (s.result ? `\n  video: ${s.result}` : '') +
      (s.error ? `\n  error: ${s.error}` : '')
    : `${jobId}  workflow ${view.execution.toLowerCase()} (no worker answered the live query)`;
  ctx.out.print(text, { found: true, ...view });
  return EXIT.ok;
}

export async function cancelCommand(ctx: CommandContext): Promise<number> {
  const { positionals } = parse(ctx.args, {});
  const jobId = jobIdArg(positionals, 'cancel');
  const outcome = await cancelJob(await ctx.client(), jobId);
  const text = {
    cancelled: `cancellation requested for ${jobId}`,
    'not-running': `job ${jobId} has already finished; nothing to cancel`,
    'not-found': `job ${jobId} not found`,
  }[outcome];
  ctx.out.print(text, { jobId, outcome });
  return outcome === 'cancelled' ? EXIT.ok : EXIT.failure;
}

export const COMMANDS: Record<string, (ctx: CommandContext) => Promise<number>> = {
  submit: submitCommand,
  status: statusCommand,
  cancel: cancelCommand,
};
