/** Commands about the queue as a whole: list, stats, capacity, watch, intake. */
import { effectiveCaps } from '../capacity/peak-hours';
import { validateQueueConfig } from '../capacity/live-config';
import { ensureIntakeSweep, runIntakeOnce } from '../jobs/intake-sweep';
import { JOB_STATUSES, PRIORITIES, RENDERERS, WORKFLOW_TYPE, jobIdFromWorkflowId } from '../shared/constants';
import type { JobStatus, Priority, Renderer } from '../shared/constants';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { CommandContext } from './context';
import { EXIT, UsageError } from './io';
import { intFlag, oneOf, parseFlags, stringFlag } from './parse';
import { duration, table, untilTime } from '../util/table';

interface ListedJob {
  jobId: string;
  status: string;
  priority: string | null;
  renderer: string | null;
  jobType: string | null;
  submittedAt: string;
}

interface ListFilter {
  status?: string;
  priority?: string;
  renderer?: string;
  limit: number;
  before?: string;
}

/** Temporal visibility can't sort by start time on every server, so read the matches and sort here. */
const VISIBILITY_SCAN_LIMIT = 5000;

async function listFromVisibility(ctx: CommandContext, filter: ListFilter): Promise<ListedJob[]> {
  const clauses = [`WorkflowType = '${WORKFLOW_TYPE.renderJob}'`];
  if (filter.status) clauses.push(`${SEARCH_ATTRIBUTES.renderStatus.name} = '${filter.status}'`);
  if (filter.priority) clauses.push(`${SEARCH_ATTRIBUTES.priority.name} = '${filter.priority}'`);
  if (filter.renderer) clauses.push(`${SEARCH_ATTRIBUTES.renderer.name} = '${filter.renderer}'`);
  if (filter.before) clauses.push(`StartTime < '${filter.before}'`);
  const jobs: ListedJob[] = [];
  for await (const info of (await ctx.client()).workflow.list({
    query: clauses.join(' AND '),
    pageSize: 500,
  })) {
    const attrs = info.typedSearchAttributes;
    jobs.push({
      jobId: jobIdFromWorkflowId(info.workflowId) ?? info.workflowId,
      status: attrs.get(SEARCH_ATTRIBUTES.renderStatus) ?? info.status.name.toLowerCase(),
      priority: attrs.get(SEARCH_ATTRIBUTES.priority) ?? null,
      renderer: attrs.get(SEARCH_ATTRIBUTES.renderer) ?? null,
      jobType: attrs.get(SEARCH_ATTRIBUTES.jobType) ?? null,
      submittedAt: info.startTime.toISOString(),
    });
    if (jobs.length >= VISIBILITY_SCAN_LIMIT) break;
  }
  return jobs.sort((a, b) => b.submittedAt.localeCompare(a.submittedAt)).slice(0, filter.limit);
}

async function listFromReadModel(ctx: CommandContext, filter: ListFilter): Promise<ListedJob[]> {
  const rows = await (
    await ctx.store()
  ).listJobs({
    ...(filter.status ? { status: filter.status as JobStatus } : {}),
    ...(filter.priority ? { priority: filter.priority as Priority } : {}),
    ...(filter.renderer ? { renderer: filter.renderer as Renderer } : {}),
    limit: Math.min(filter.limit, 500),
    ...(filter.before ? { beforeCreatedAt: filter.before } : {}),
  });
  return rows.map((row) => ({
    jobId: row.id,
    status: row.status,
    priority: row.priority,
    renderer: row.renderer,
    jobType: row.jobType,
    submittedAt: new Date(row.createdAt).toISOString(),
  }));
}

/**
 * Lists jobs newest first: from the read model when a database is configured (it also holds
 * rows the frontend inserted that intake has not started yet), else from Temporal's visibility
 * store through the search attributes the workflows keep.
 */
export async function listCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseFlags(ctx.args, {
    status: { type: 'string' },
    priority: { type: 'string' },
    renderer: { type: 'string' },
    limit: { type: 'string' },
    before: { type: 'string' },
  });
  const status = oneOf(values, 'status', JOB_STATUSES);
  const priority = oneOf(values, 'priority', PRIORITIES);
  const renderer = oneOf(values, 'renderer', RENDERERS);
  const limit = intFlag(values, 'limit', 1, 500) ?? 20;
  const beforeRaw = stringFlag(values, 'before');
  if (beforeRaw !== undefined && Number.isNaN(Date.parse(beforeRaw))) {
    throw new UsageError(`--before: expected an ISO 8601 time, got "${beforeRaw}"`);
  }
  const filter: ListFilter = {
    limit,
    ...(status ? { status } : {}),
    ...(priority ? { priority } : {}),
    ...(renderer ? { renderer } : {}),
    ...(beforeRaw ? { before: new Date(beforeRaw).toISOString() } : {}),
  };
  const source = ctx.hasStore() ? 'read-model' : 'temporal';
  const jobs =
    source === 'read-model' ? await listFromReadModel(ctx, filter) : await listFromVisibility(ctx, filter);
  const next = jobs.length === limit ? jobs[jobs.length - 1]!.submittedAt : null;
  const text =
    (jobs.length
      ? table(
          ['JOB', 'STATUS', 'PRIORITY', 'RENDERER', 'SUBMITTED'],
          jobs.map((j) => [
            j.jobId,
            j.status,
            j.priority,
            j.renderer,
            j.submittedAt.slice(0, 19).replace('T', ' '),
          ]),
        )
      : 'no jobs match') + (next ? `\nmore: render-queue list --before ${next}` : '');
  ctx.out.print(text, { jobs, next, source });
  return EXIT.ok;
}

export async function statsCommand(ctx: CommandContext): Promise<number> {
  parseFlags(ctx.args, {});
  const stats = await (await ctx.store()).getQueueStats();
  const text = [
    `jobs      ${JOB_STATUSES.map((s) => `${s} ${stats.byStatus[s]}`).join('  ')}`,
    `queued    ${PRIORITIES.map((p) => `${p} ${stats.queuedByPriority[p]}`).join('  ')}` +
      `  oldest ${duration(stats.oldestQueuedAgeSeconds)}`,
    `rendering ${RENDERERS.map((r) => `${r} ${stats.processingByRenderer[r]}`).join('  ')}`,
    `last hour completed ${stats.lastHour.completed}  failed ${stats.lastHour.failed}` +
      `  avg wait ${duration(stats.lastHour.avgWaitSeconds)}  avg render ${duration(stats.lastHour.avgRenderSeconds)}`,
    `caps      ${stats.caps.totalRenders} total, ${stats.caps.manimRenders} manim${stats.caps.peak ? ' (peak hours)' : ''}`,
  ].join('\n');
  ctx.out.print(text, stats);
  return EXIT.ok;
}

export async function capacityCommand(ctx: CommandContext): Promise<number> {
  parseFlags(ctx.args, {});
  const store = await ctx.store();
  const row = await store.readQueueConfig();
  const validation = validateQueueConfig(row);
  if (!validation.ok) {
    ctx.out.print(`job_queue_config is invalid: ${validation.reason}`, {
      valid: false,
      reason: validation.reason,
    });
    return EXIT.failure;
  }
  const config = validation.config;
  const caps = effectiveCaps(config, ctx.now?.() ?? new Date());
  const stats = await store.getQueueStats();
  const inFlight = stats.processingByRenderer;
  const total = inFlight.manim + inFlight.revideo + inFlight.orchestrator;
  const text = [
    `caps in force   ${caps.total} renders, ${caps.manim} manim` +
      (caps.peak
        ? ` (peak hours ${config.peakHourStart}-${config.peakHourEnd} ${config.timeZone}, x${config.peakWorkerMultiplier})`
        : ` (off-peak; peak ${config.peakHourStart}-${config.peakHourEnd} ${config.timeZone})`),
    `in flight       ${total} of ${caps.total}: manim ${inFlight.manim}/${caps.manim}, revideo ${inFlight.revideo}, ` +
      `orchestrator ${inFlight.orchestrator}`,
    `per attempt     timeout ${config.jobTimeoutMinutes} min, ${config.maxAttempts} attempts, ` +
      `${config.retryIntervalMinutes} min apart`,
    `note            caps apply per worker process; see README "Scaling workers"`,
  ].join('\n');
  ctx.out.print(text, { caps, config, inFlight: { ...inFlight, total } });
  return EXIT.ok;
}

export async function watchCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseFlags(ctx.args, { interval: { type: 'string' }, once: { type: 'boolean' } });
  const intervalMs = (intFlag(values, 'interval', 1, 3600) ?? 2) * 1000;
  const store = await ctx.store();
  for (;;) {
    const [stats, queued, processing] = await Promise.all([
      store.getQueueStats(),
      store.listJobs({ status: 'queued', limit: 200 }),
      store.listJobs({ status: 'processing', limit: 50 }),
    ]);
    const byPosition = [...queued]
      .sort((a, b) => (a.queuePosition ?? 1e9) - (b.queuePosition ?? 1e9))
      .slice(0, 15);
    const rows = [
      ...processing.map((j) => [
        j.id.slice(0, 8),
        'processing',
        j.priority,
        j.renderer,
        `try ${j.retryCount + 1}`,
        j.progress === null ? '-' : `${Math.round(j.progress * 100)}%`,
      ]),
      ...byPosition.map((j) => [
        j.id.slice(0, 8),
        'queued',
        j.priority,
        j.renderer,
        `#${j.queuePosition ?? '?'}`,
        `~${untilTime(j.estimatedStartAt)}`,
      ]),
    ];
    const text = [
      `${new Date().toISOString().slice(11, 19)}  queued ${stats.byStatus.queued}  rendering ${stats.byStatus.processing}` +
        `/${stats.caps.totalRenders}  done ${stats.byStatus.completed}  failed ${stats.byStatus.failed}`,
      rows.length
        ? table(['JOB', 'STATUS', 'PRIORITY', 'RENDERER', 'ATTEMPT/POS', 'PROGRESS/WAIT'], rows)
        : '(queue empty)',
    ].join('\n');
    if (ctx.isTTY && !ctx.out.json && !values.once) process.stdout.write('\x1b[2J\x1b[H');
    ctx.out.print(text, { stats, processing, queued: byPosition });
    if (values.once) return EXIT.ok;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function intakeCommand(ctx: CommandContext): Promise<number> {
  const { values } = parseFlags(ctx.args, { interval: { type: 'string' }, once: { type: 'boolean' } });
  const client = await ctx.client();
  if (values.once) {
    const result = await runIntakeOnce(client);
    ctx.out.print(
      `intake: claimed ${result.claimed}, started ${result.started}, already running ${result.alreadyRunning}, ` +
        `rejected ${result.rejected}`,
      result,
    );
    return EXIT.ok;
  }
  const intervalSeconds = intFlag(values, 'interval', 1, 3600) ?? 60;
  const workflowId = await ensureIntakeSweep(client, { intervalSeconds });
  ctx.out.print(`intake safety sweep ${workflowId} runs every ${intervalSeconds} s`, {
    workflowId,
    intervalSeconds,
  });
  return EXIT.ok;
}
