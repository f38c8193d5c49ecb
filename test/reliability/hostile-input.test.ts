/**
 * Hostile input, property-based (fast-check), through every entry point: the submission schema,
 * the library on a real dev server, the CLI (in-process and as a process), and intake of rows
 * inserted with plain SQL. Each invalid input is refused with a message naming the field (or,
 * valid but hostile, stored as plain data); nothing crashes; no workflow starts for a refused one.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import fc from 'fast-check';
import { main } from '../../src/cli';
import { runIntakeOnce } from '../../src/jobs/intake-sweep';
import { InvalidSubmissionError, submitJob, validateSubmission } from '../../src/jobs/submit';
import { JOB_TYPE_NAME } from '../../src/shared/job-schema';
import {
  JOB_TYPES,
  LIMITS,
  PRIORITIES,
  RENDERERS,
  WORKFLOW_TASK_QUEUE,
  WORKFLOW_TYPE,
  renderJobWorkflowId,
} from '../../src/shared/constants';
import type { renderJob } from '../../src/workflows/render-job';
import { runCli } from '../helpers/cli';
import { devServerEnv, eventually } from '../../dev/temporal';
import {
  UUID_RE,
  deepPayload,
  hostileButValidPayload,
  hostileText,
  invalidSubmission,
  namesField,
  nonObjectPayload,
  notOneOf,
  oversizedPayload,
  storableText,
  unstorablePayload,
} from './helpers/hostile';
import { startReliabilityStack } from './helpers/reliability-stack';
import type { ReliabilityStack } from './helpers/reliability-stack';

/** Totals for docs/RELIABILITY.md; each section adds what it tried. */
const tried = { schema: 0, library: 0, cliInProcess: 0, cliProcess: 0, intake: 0 };
/** Every renderJob workflow this file means to start; anything else is a refused input that got through. */
const meantToStart = new Set<string>();

let env: TestWorkflowEnvironment;
let stack: ReliabilityStack;
const savedAddress = process.env.TEMPORAL_ADDRESS;

beforeAll(async () => {
  env = await devServerEnv();
  stack = await startReliabilityStack(env, { simulator: { defaultDurationMs: 100, progressSteps: 1 } });
  process.env.TEMPORAL_ADDRESS = env.address;
});

afterAll(async () => {
  if (savedAddress === undefined) delete process.env.TEMPORAL_ADDRESS;
  else process.env.TEMPORAL_ADDRESS = savedAddress;
  await stack?.close();
  await env?.teardown();
  process.stderr.write(`${JSON.stringify({ msg: 'hostile inputs tried', ...tried })}\n`);
});

async function renderJobIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of env.client.workflow.list({ query: `WorkflowType = 'renderJob'` }))
    ids.push(wf.workflowId);
  return ids;
}

describe('the submission schema', () => {
  test('every generated invalid submission is refused with an InvalidSubmissionError naming the field', () => {
    fc.assert(
      fc.property(invalidSubmission, ({ input, field }) => {
        tried.schema++;
        let error: unknown;
        try {
          validateSubmission(input);
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(InvalidSubmissionError);
        const message = (error as Error).message;
        expect(namesField(message, field)).toBe(true);
        // Never echoes a payload back: an error stays short whatever came in.
        expect(message.length).toBeLessThan(300 + field.length);
      }),
      { numRuns: 400 },
    );
  });

  test('the payload limit is exact: LIMITS.maxPayloadBytes bytes pass, one more byte is refused', () => {
    const overhead = JSON.stringify({ text: '' }).length;
    const atLimit = { text: 'x'.repeat(LIMITS.maxPayloadBytes - overhead) };
    expect(Buffer.byteLength(JSON.stringify(atLimit))).toBe(LIMITS.maxPayloadBytes);
    expect(() => validateSubmission({ jobType: 'doubt', payload: atLimit })).not.toThrow();
    const over = { text: `${atLimit.text}x` };
    expect(() => validateSubmission({ jobType: 'doubt', payload: over })).toThrow(
      `payload: payload is ${LIMITS.maxPayloadBytes + 1} bytes; the limit is ${LIMITS.maxPayloadBytes}`,
    );
    // Multi-byte characters count as the bytes they take, not as one.
    const euros = { text: '€'.repeat(Math.ceil(LIMITS.maxPayloadBytes / 3)) };
    expect(() => validateSubmission({ jobType: 'doubt', payload: euros })).toThrow(/payload is \d+ bytes/);
  });
});

describe('the library (submitJob) on the dev server', () => {
  test('invalid submissions are refused before anything reaches Temporal', async () => {
    await fc.assert(
      fc.asyncProperty(invalidSubmission, async ({ input, field }) => {
        tried.library++;
        const error = await submitJob(env.client, input).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error).toBeInstanceOf(InvalidSubmissionError);
        expect(namesField((error as Error).message, field)).toBe(true);
      }),
      { numRuns: 100 },
    );
    expect(await renderJobIds()).toEqual([]);
  });

  test('valid submissions with hostile text are stored exactly, as data', async () => {
    await fc.assert(
      fc.asyncProperty(hostileButValidPayload, async (payload) => {
        const { jobId, workflowId } = await submitJob(env.client, { jobType: 'concept_explainer', payload });
        meantToStart.add(workflowId);
        const row = await eventually('row to be written', () => stack.store.getJob(jobId), 15_000, 50);
        expect(row.payload).toEqual(payload);
      }),
      { numRuns: 25 },
    );
    const { rows } = await stack.db!.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs`);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(25);
  });

  test('a payload key named __proto__ is dropped by validation and pollutes no prototype', async () => {
    const payload = JSON.parse('{"__proto__": {"polluted": true}, "question": "Why?"}') as Record<
      string,
      unknown
    >;
    const { jobId, workflowId } = await submitJob(env.client, { jobType: 'concept_explainer', payload });
    meantToStart.add(workflowId);
    const row = await eventually('row to be written', () => stack.store.getJob(jobId), 15_000, 50);
    expect(row.payload).toEqual({ question: 'Why?' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(row.payload)).toBe(Object.prototype);
  });

  test('a workflow started around the library with an oversized payload fails itself and renders nothing', async () => {
    const jobId = randomUUID();
    const handle = await env.client.workflow.start<typeof renderJob>(WORKFLOW_TYPE.renderJob, {
      workflowId: renderJobWorkflowId(jobId),
      taskQueue: WORKFLOW_TASK_QUEUE.low,
      args: [
        {
          version: 1,
          jobId,
          jobType: 'doubt',
          priority: 'low',
          renderer: 'manim',
          payload: { text: 'x'.repeat(LIMITS.maxPayloadBytes + 1) },
        },
      ],
    });
    meantToStart.add(handle.workflowId);
    await expect(handle.result()).rejects.toMatchObject({
      cause: expect.objectContaining({
        type: 'InvalidJobInput',
        message: expect.stringMatching(/^invalid job: payload: payload is \d+ bytes; the limit is 65536$/),
      }),
    });
    expect(stack.sims.manim.ledger.some((call) => call.jobId === jobId)).toBe(false);
    expect(await stack.store.getJob(jobId)).toBeNull();
  });
});

test('a workflow started around the library with a NUL in its payload still ends; the read model refuses the row instead of retrying for hours', async () => {
  const jobId = randomUUID();
  const handle = await env.client.workflow.start<typeof renderJob>(WORKFLOW_TYPE.renderJob, {
    workflowId: renderJobWorkflowId(jobId),
    taskQueue: WORKFLOW_TASK_QUEUE.low,
    args: [
      {
        version: 1,
        jobId,
        jobType: 'concept_explainer',
        priority: 'low',
        renderer: 'revideo',
        payload: { note: 'a\u0000b' },
      },
    ],
  });
  meantToStart.add(handle.workflowId);
  // Before the fix the sync activity retried the database's refusal for LIMITS.syncScheduleToCloseHours.
  await expect(handle.result()).resolves.toMatchObject({ jobId });
  expect(await stack.store.getJob(jobId)).toBeNull();
}, 30_000);

/** Runs the CLI's main() in this process with its stdout and stderr captured. */
async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const validFlags: Record<string, string> = { type: 'doubt', payload: '{"question":"Why?"}' };

/** One CLI flag broken in one way; `field` is what the error must name. */
const invalidCliCase: fc.Arbitrary<{ argv: string[]; field: RegExp }> = fc
  .oneof(
    hostileText
      .filter((s) => !JOB_TYPE_NAME.test(s))
      .map((v) => ({ flags: { type: v }, field: /^jobType: / })),
    fc
      .stringMatching(JOB_TYPE_NAME)
      .filter((s) => !(JOB_TYPES as readonly string[]).includes(s))
      .map((v) => ({ flags: { type: v }, field: /^renderer: / })),
    notOneOf(PRIORITIES).map((v) => ({ flags: { priority: v }, field: /^priority: / })),
    notOneOf(RENDERERS).map((v) => ({ flags: { renderer: v }, field: /^renderer: / })),
    hostileText.filter((s) => !UUID_RE.test(s)).map((v) => ({ flags: { id: v }, field: /^id: / })),
    hostileText.filter((s) => !UUID_RE.test(s)).map((v) => ({ flags: { user: v }, field: /^userId: / })),
    fc
      .string({ maxLength: 30 })
      .filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      })
      .map((v) => ({ flags: { payload: v }, field: /^payload: not valid JSON/ })),
    nonObjectPayload.map((v) => ({ flags: { payload: JSON.stringify(v) }, field: /^payload: / })),
    fc
      .oneof(oversizedPayload, deepPayload)
      .map((v) => ({ flags: { payload: JSON.stringify(v) }, field: /^payload: payload is / })),
    unstorablePayload.map(({ payload }) => ({
      flags: { payload: JSON.stringify(payload) },
      field: /^payload\./,
    })),
    fc
      .stringMatching(/^[a-z][a-z-]{0,12}$/)
      .filter((f) => !['type', 'priority', 'renderer', 'payload', 'id', 'user', 'json', 'help'].includes(f))
      .map((flag) => ({ flags: { [flag]: 'x' }, field: new RegExp(`--${flag}`) })),
  )
  .map(({ flags, field }) => ({
    argv: ['submit', ...Object.entries({ ...validFlags, ...flags }).map(([k, v]) => `--${k}=${v}`)],
    field,
  }));

describe('the CLI', () => {
  test('in-process: invalid submits exit 2 with one line naming the field, and start nothing', async () => {
    await fc.assert(
      fc.asyncProperty(invalidCliCase, fc.boolean(), async ({ argv, field }, json) => {
        tried.cliInProcess++;
        const result = await runMain(json ? [...argv, '--json'] : argv);
        expect(result.code).toBe(2);
        const lines = result.stderr.split('\n').filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(lines[0]!.replace(/^render-queue submit: /, '')).toMatch(field);
        if (json) expect(JSON.parse(result.stdout)).toMatchObject({ exitCode: 2, error: expect.any(String) });
        else expect(result.stdout).toBe('');
      }),
      { numRuns: 120 },
    );
    expect((await renderJobIds()).sort()).toEqual([...meantToStart].sort());
  });

  test('in-process: job ids that are not uuids and bad list filters exit 2 with one printable line naming the argument', async () => {
    const id = hostileText.filter((s) => !UUID_RE.test(s) && !s.startsWith('-') && s !== '');
    const argCase = fc.oneof(
      fc
        .tuple(fc.constantFrom('status', 'cancel', 'retry'), id)
        .map(([command, v]) => ({ argv: [command, v], names: /^jobId: / })),
      notOneOf(['queued', 'processing', 'completed', 'failed', 'cancelled']).map((v) => ({
        argv: ['list', `--status=${v}`],
        names: /^--status: /,
      })),
      hostileText
        .filter((s) => !/^\s*\d+\s*$/.test(s))
        .map((v) => ({ argv: ['list', `--limit=${v}`], names: /^--limit: / })),
    );
    await fc.assert(
      fc.asyncProperty(argCase, async ({ argv, names }) => {
        tried.cliInProcess++;
        const result = await runMain(argv);
        expect(result.code).toBe(2);
        const lines = result.stderr.split('\n').filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(lines[0]!.replace(/^render-queue \w+: /, '')).toMatch(names);
        // No raw control character reaches the terminal (no newlines, no escape sequences).
        // eslint-disable-next-line no-control-regex -- finding control characters is the point
        expect(lines[0]).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      }),
      { numRuns: 100 },
    );
  });

  test('as a process: a payload over the limit, an SQL-looking type and a control-character id exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['submit', '--type', 'doubt', '--payload', JSON.stringify({ text: 'x'.repeat(100_000) })],
        /payload: payload is 100011 bytes; the limit is 65536/,
      ],
      [['submit', "--type=doubt'; DROP TABLE jobs; --", '--payload', '{}'], /jobType: /],
      [['status', 'abc\u001b[2J\ndef'], /jobId: /],
    ];
    for (const [argv, field] of cases) {
      tried.cliProcess++;
      const result = await runCli(argv, { TEMPORAL_ADDRESS: env.address });
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(field);
    }
    const { rows } = await stack.db!.query<{ ok: boolean }>(
      `SELECT to_regclass('public.jobs') IS NOT NULL AS ok`,
    );
    expect(rows[0]!.ok).toBe(true);
  });

  test('no workflow exists but the ones this file meant to start', async () => {
    expect((await renderJobIds()).sort()).toEqual([...meantToStart].sort());
  });
});

type IntakeRow =
  | { kind: 'db-refused'; values: Record<string, unknown>; field: RegExp }
  | { kind: 'invalid'; values: Record<string, unknown> }
  | { kind: 'valid'; values: Record<string, unknown> };

const row = (values: Record<string, unknown>) => ({
  job_type: 'doubt',
  priority: 'medium',
  payload: { q: 'x' },
  ...values,
});

const intakeRow: fc.Arbitrary<IntakeRow> = fc.oneof(
  storableText
    .filter((s) => !(JOB_TYPES as readonly string[]).includes(s))
    .map((v) => ({ kind: 'db-refused' as const, values: row({ job_type: v }), field: /job_type|job type/ })),
  storableText
    .filter((s) => !(PRIORITIES as readonly string[]).includes(s))
    .map((v) => ({
      kind: 'db-refused' as const,
      values: row({ priority: v }),
      field: /jobs_priority_check/,
    })),
  storableText
    .filter((s) => !(RENDERERS as readonly string[]).includes(s))
    .map((v) => ({
      kind: 'db-refused' as const,
      values: row({ renderer: v }),
      field: /jobs_renderer_check/,
    })),
  nonObjectPayload.map((v) => ({
    kind: 'db-refused' as const,
    values: row({ payload: v }),
    field: /jobs_payload_check/,
  })),
  unstorablePayload.map(({ payload }) => ({
    kind: 'db-refused' as const,
    values: row({ payload }),
    field: /Unicode|json/,
  })),
  storableText.map((v) => ({
    kind: 'db-refused' as const,
    values: row({ user_id: `${v}-not-a-uuid` }),
    field: /uuid/,
  })),
  fc
    .oneof(oversizedPayload, deepPayload)
    .map((payload) => ({ kind: 'invalid' as const, values: row({ payload }) })),
  hostileButValidPayload.map((payload) => ({
    kind: 'valid' as const,
    values: row({ payload, job_type: 'concept_explainer' }),
  })),
);

describe('intake of rows inserted with SQL', () => {
  test('rows the database accepts but the schema refuses are failed with the reason; the rest render; none crash intake', async () => {
    const seed = Date.now();
    const rows = fc.sample(intakeRow, { numRuns: 90, seed });
    const inserted: Array<{ id: string; kind: 'invalid' | 'valid' }> = [];
    for (const generated of rows) {
      const id = randomUUID();
      const v = generated.values;
      const insert = stack.db!.query(
        `INSERT INTO jobs (id, job_type, priority, renderer, payload, user_id) VALUES ($1, $2, $3, $4, $5::jsonb, $6)`,
        [
          id,
          v.job_type,
          v.priority,
          v.renderer ?? null,
          JSON.stringify(v.payload),
          v.user_id ?? randomUUID(),
        ],
      );
      if (generated.kind === 'db-refused') {
        tried.intake++;
        const error = (await insert.then(
          () => undefined,
          (err: unknown) => err,
        )) as { message?: string; constraint?: string } | undefined;
        expect(error).toBeDefined();
        expect(`${error!.message} ${error!.constraint ?? ''}`).toMatch(generated.field);
        expect(await stack.store.getJob(id)).toBeNull();
      } else {
        await insert;
        if (generated.kind === 'invalid') tried.intake++;
        inserted.push({ id, kind: generated.kind });
      }
    }
    for (;;) {
      const run = await runIntakeOnce(env.client);
      if (run.claimed === 0) break;
    }
    for (const { id, kind } of inserted) {
      const stored = (await stack.store.getJob(id))!;
      if (kind === 'invalid') {
        expect({ seed, status: stored.status, workflowId: stored.workflowId }).toEqual({
          seed,
          status: 'failed',
          workflowId: null,
        });
        expect(stored.error).toMatch(
          /^invalid job: payload: payload is (\d+ bytes; the limit is 65536|nested deeper than 16 levels)$/,
        );
        await expect(
          env.client.workflow.getHandle(renderJobWorkflowId(id)).describe(),
        ).rejects.toBeInstanceOf(WorkflowNotFoundError);
      } else {
        expect({ seed, workflowId: stored.workflowId }).toEqual({
          seed,
          workflowId: renderJobWorkflowId(id),
        });
        meantToStart.add(renderJobWorkflowId(id));
      }
    }
    expect((await renderJobIds()).sort()).toEqual([...meantToStart].sort());
  });
});
