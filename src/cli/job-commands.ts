/** Commands about one job: submit, status, cancel, retry. */
import { rerunJob } from '../jobs/rerun';
import { getJobAdmission } from '../jobs/admission';
import { cancelJob, changeJobPriority, getJobStatus, submitJob, validateSubmission } from '../jobs/submit';
import { untilTime } from '../util/table';
import { EXIT, UsageError } from './io';
import type { CommandContext } from './context';
import { jobIdArg, parseFlags, parsePayload, stringFlag } from './parse';

export async function submitCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseFlags(ctx.args, {
    type: { type: 'string' },
    priority: { type: 'string' },
    renderer: { type: 'string' },
    payload: { type: 'string' },
    id: { type: 'string' },
    user: { type: 'string' },
    file: { type: 'string' },
  });
  const file = stringFlag(values, 'file');
  if (file !== undefined) {
    const single = ['type', 'priority', 'renderer', 'payload', 'id', 'user'].filter(
      (f) => values[f] !== undefined,
    );
    if (single.length > 0) {
      throw new UsageError(`--file: give each job's fields in the file, not --${single.join(', --')}`);
    }
    const { submitFileCommand } = await import('./submit-file');
    return submitFileCommand(ctx, file);
  }
  const optional = (key: string, name: string) => {
    const value = stringFlag(values, name);
    return value === undefined ? {} : { [key]: value };
  };
  const submission = {
    ...optional('id', 'id'),
    jobType: stringFlag(values, 'type'),
    ...optional('priority', 'priority'),
    ...optional('renderer', 'renderer'),
    ...optional('userId', 'user'),
    payload: parsePayload(stringFlag(values, 'payload')),
  };
  validateSubmission(submission); // bad input exits 2 before any connection is made
  const outcome = await submitJob(await ctx.client(), submission);
  ctx.out.print(
    outcome.started ? outcome.jobId : `${outcome.jobId} (already submitted; nothing new started)`,
    { jobId: outcome.jobId, workflowId: outcome.workflowId, started: outcome.started },
  );
  return EXIT.ok;
}

export async function statusCommand(ctx: CommandContext): Promise<number> {
  const { positionals } = parseFlags(ctx.args, {});
  const jobId = jobIdArg(positionals, 'status');
  const client = await ctx.client();
  const view = await getJobStatus(client, jobId);
  if (!view) {
    ctx.out.print(`job ${jobId} not found`, { jobId, found: false });
    return EXIT.failure;
  }
  const s = view.state;
  // Waiting for a permit: where it stands in admission's queue, live.
  const waiting = s && (s.status === 'queued' || s.status === 'retrying');
  const queue = waiting ? await getJobAdmission(client, jobId).catch(() => null) : null;
  const place =
    queue?.state === 'waiting'
      ? `\n  position ${queue.position} (of ${queue.waitingTotal} waiting), starts in ~${untilTime(queue.estimatedStartAt)} (${queue.estimatedStartAt})`
      : '';
  const text = s
    ? `${jobId}  ${s.status}  attempt ${s.attempt}` +
      (s.progress !== null ? `  ${Math.round(s.progress * 100)}%` : '') +
      (s.status === 'retrying' && s.nextAttemptAt ? `\n  next attempt not before ${s.nextAttemptAt}` : '') +
      place +
      (s.result ? `\n  video: ${s.result}` : '') +
      (s.error ? `\n  error: ${s.error}` : '')
    : `${jobId}  workflow ${view.execution.toLowerCase()} (no worker answered the live query)`;
  ctx.out.print(text, { found: true, ...view, ...(queue?.state === 'waiting' ? { queue } : {}) });
  return EXIT.ok;
}

export async function priorityCommand(ctx: CommandContext): Promise<number> {
  const { positionals } = parseFlags(ctx.args, {});
  const jobId = jobIdArg(positionals, 'priority');
  const outcome = await changeJobPriority(await ctx.client(), jobId, positionals[1]);
  const text = {
    changed: `job ${jobId} moved to ${positionals[1]} priority`,
    'not-running': `job ${jobId} has already finished; its priority no longer matters`,
    'not-found': `job ${jobId} not found`,
  }[outcome];
  ctx.out.print(text, { jobId, outcome, priority: positionals[1] });
  return outcome === 'changed' ? EXIT.ok : EXIT.failure;
}

export async function cancelCommand(ctx: CommandContext): Promise<number> {
  const { positionals } = parseFlags(ctx.args, {});
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

export async function retryCommand(ctx: CommandContext): Promise<number> {
  const { positionals } = parseFlags(ctx.args, {});
  const jobId = jobIdArg(positionals, 'retry');
  // With a database configured, a row intake refused (and an operator fixed) can be re-run too.
  const store = ctx.hasStore() ? await ctx.store() : undefined;
  const result = await rerunJob(await ctx.client(), jobId, store ? { store } : {});
  switch (result.kind) {
    case 'restarted':
      ctx.out.print(`job ${jobId} started again (run ${result.generation + 1})`, {
        jobId,
        outcome: 'restarted',
        generation: result.generation,
        started: result.outcome.started,
      });
      return EXIT.ok;
    case 'requeued':
      ctx.out.print(`job ${jobId} queued again: intake validates it anew`, { jobId, outcome: 'requeued' });
      return EXIT.ok;
    case 'not-retryable':
      ctx.out.print(
        `job ${jobId} is ${result.status.toLowerCase()}; only failed or cancelled jobs can be retried`,
        {
          jobId,
          outcome: 'not-retryable',
          status: result.status,
        },
      );
      return EXIT.failure;
    case 'not-found':
      ctx.out.print(`job ${jobId} not found`, { jobId, outcome: 'not-found' });
      return EXIT.failure;
  }
}
