/**
 * The admin page in a real browser (Debian's Chromium, headless, through playwright-core) against
 * a running stack: the real dev server, workers and renderer simulators holding renders so the
 * test decides when each one ends. An operator logs in, watches jobs wait in admission order,
 * move to rendering and complete, and cancels, re-prioritises and re-runs jobs from the page,
 * all in one document (never reloaded). The screenshot in the README is taken here
 * (`UPDATE_SCREENSHOTS=1` writes docs/admin-page.png).
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Page } from 'playwright-core';
import { startAdminServer } from '../../src/admin/server';
import type { AdminServer } from '../../src/admin/server';
import { submitJob } from '../../src/jobs/submit';
import { JsonLogger } from '../../src/observability/logger';
import { admissionSnapshotQuery } from '../../src/shared/admission-messages';
import { AdmissionQueue } from '../../src/shared/admission-queue';
import { ADMISSION_WORKFLOW_ID } from '../../src/shared/constants';
import type { Priority } from '../../src/shared/constants';
import { chromiumAvailable, launchChromium } from '../../dev/browser';
import type { Browser } from '../../dev/browser';
import { startStack, watchRenders } from '../../dev/stack';
import type { RenderWatch, Stack } from '../../dev/stack';
import { devServerEnv, eventually } from '../../dev/temporal';

const TOKEN = `rq-browser-test-token-${randomUUID()}`;
const ROOT = join(__dirname, '..', '..');
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(ROOT, 'docs', 'admin-page.png')
    : join(tmpdir(), `admin-page-${process.pid}.png`);

const maybe = chromiumAvailable() ? describe : describe.skip;

maybe('the admin page in a browser', () => {
  let env: TestWorkflowEnvironment;
  let stack: Stack;
  let watch: RenderWatch;
  let admin: AdminServer;
  let browser: Browser;
  const logLines: string[] = [];
  const submitted: string[] = [];

  beforeAll(async () => {
    env = await devServerEnv();
    // Two renders at once, one of them Manim: small enough to fill with two held renders.
    stack = await startStack(env, {
      caps: { total: 2, manim: 1 },
      simulator: { defaultDurationMs: 200, progressSteps: 2 },
    });
    watch = watchRenders(stack.sims);
    admin = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      client: env.client,
      store: stack.store,
      namespace: env.namespace ?? 'default',
      temporalUiUrl: 'http://localhost:8233',
      logger: new JsonLogger('INFO', (line) => logLines.push(line)),
    });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    for (const sim of Object.values(stack?.sims ?? {})) sim.release();
    await Promise.all(
      submitted.map((jobId) =>
        env.client.workflow
          .getHandle(`render-job-${jobId}`)
          .result()
          .catch(() => undefined),
      ),
    );
    watch?.stop();
    await stack?.close();
    await env?.teardown();
  }, 120_000);

  async function submit(
    jobType: string,
    priority: Priority,
    simulate?: Record<string, unknown>,
  ): Promise<string> {
    const { jobId } = await submitJob(env.client, {
      jobType,
      priority,
      payload: { question: 'PAYLOAD-NEVER-ON-THE-PAGE', ...(simulate ? { simulate } : {}) },
    });
    submitted.push(jobId);
    return jobId;
  }

  const ids = (page: Page, section: string) =>
    page.$$eval(`#${section} tbody tr[data-job]`, (rows) => rows.map((r) => r.getAttribute('data-job')));

  /** Waits until the page's waiting list is `expected`, and checks that it is admission's own order. */
  async function waitingListIs(page: Page, expected: string[]): Promise<void> {
    await eventually(
      `the waiting list to read ${expected.map((id) => id.slice(0, 8)).join(', ')}`,
      async () => JSON.stringify(await ids(page, 'waiting')) === JSON.stringify(expected),
      15_000,
    );
    const snapshot = await env.client.workflow.getHandle(ADMISSION_WORKFLOW_ID).query(admissionSnapshotQuery);
    expect([...AdmissionQueue.decode(snapshot.queue).waitingInOrder()].map((e) => e.jobId)).toEqual(expected);
  }

  const rowStatus = async (jobId: string) => (await stack.store.getJob(jobId))?.status;

  test('an operator logs in, watches jobs wait in order, render and complete, and acts on them, without a reload', async () => {
    for (const sim of Object.values(stack.sims)) sim.hold();
    const page = await browser.context.newPage();
    const bodies: string[] = [];
    page.on('response', (response) => {
      if (!response.url().includes('/events'))
        void response.text().then(
          (t) => bodies.push(t),
          () => undefined,
        );
    });

    const login = await page.goto(admin.url);
    expect(login?.status()).toBe(401);
    await page.fill('input[name=token]', TOKEN);
    await page.fill('input[name=operator]', 'Asha');
    await Promise.all([page.waitForURL(admin.url), page.click('button[type=submit]')]);
    await page.waitForSelector('#live.on');
    // Marks this document: a reload or a navigation would lose it.
    await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));

    // A job its renderer refuses fails at once, with its error, in the failures.
    const rejected = await submit('concept_explainer', 'medium', { outcome: 'reject' });
    await page.waitForSelector(`#finished tr[data-job="${rejected}"]`, { timeout: 30_000 });
    expect(await page.textContent(`#finished tr[data-job="${rejected}"]`)).toMatch(/failed[^]*400/);

    // Two held renders fill the caps (total 2, Manim 1).
    const manimFiller = await submit('doubt', 'medium');
    const generalFiller = await submit('concept_explainer', 'medium');
    await watch.until('both fillers to render', (w) => w.current().total === 2);
    await page.waitForSelector(`#inflight tr[data-job="${manimFiller}"]`);
    await page.waitForSelector(`#inflight tr[data-job="${generalFiller}"]`);

    // Submitted jobs appear in admission order: priority first, then acceptance.
    const low = await submit('concept_explainer', 'low');
    const medium = await submit('solution_walkthrough', 'medium');
    const high = await submit('revision_summary', 'high');
    const highManim = await submit('doubt', 'high');
    await waitingListIs(page, [high, highManim, medium, low]);
    expect(await page.textContent('#waiting')).toContain('estimated start');

    // A new priority moves the job in the list at once; it keeps its acceptance time, so it
    // goes ahead of the high jobs accepted after it.
    await page.selectOption(`#waiting select[data-job="${low}"]`, 'high');
    await waitingListIs(page, [low, high, highManim, medium]);
    expect(await page.textContent('#status')).toContain(`moved to high priority`);

    // Cancel a waiting job: it leaves the list and its row ends cancelled.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click(`#waiting button[data-action=cancel][data-job="${medium}"]`);
    await waitingListIs(page, [low, high, highManim]);
    await eventually('the cancelled row', async () => (await rowStatus(medium)) === 'cancelled');
    await page.waitForSelector(`#finished tr.cancelled[data-job="${medium}"]`);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Cancel a running job: the renderer is told, and the freed slot goes to the head of the list,
    // which moves to rendering on the page.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click(`#inflight button[data-action=cancel][data-job="${generalFiller}"]`);
    await eventually('the renderer to be told', () =>
      stack.sims.revideo.ledger.some((c) => c.method === 'DELETE' && c.jobId === generalFiller),
    );
    await page.waitForSelector(`#inflight tr[data-job="${low}"]`, { timeout: 15_000 });
    await waitingListIs(page, [high, highManim]);

    // Released, it completes: it leaves rendering and the hour's completions count it.
    stack.sims.revideo.release(low);
    await page.waitForSelector(`#inflight tr[data-job="${low}"]`, { state: 'detached', timeout: 15_000 });
    await eventually('the completed row', async () => (await rowStatus(low)) === 'completed');
    await eventually('the summary to count the completion', async () =>
      /completed \(1 h\)\s*1\b/.test((await page.textContent('#summary')) ?? ''),
    );

    // Re-run the cancelled job from the failures list: it waits again.
    await page.click(`#finished button[data-action=retry][data-job="${medium}"]`);
    await page.waitForSelector(`#waiting tr[data-job="${medium}"]`, { timeout: 15_000 });
    expect(await page.textContent('#status')).toContain('started again');

    expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(true);

    // Each action is logged with who did it and what, never with the token.
    const actions = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'admin action')
      .map((l) => [l.operator, l.action, l.jobId, l.outcome]);
    expect(actions).toEqual([
      ['Asha', 'priority', low, 'changed'],
      ['Asha', 'cancel', medium, 'cancelled'],
      ['Asha', 'cancel', generalFiller, 'cancelled'],
      ['Asha', 'retry', medium, 'restarted'],
    ]);
    const everything = [...bodies, await page.content(), logLines.join('\n')].join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain('PAYLOAD-NEVER-ON-THE-PAGE');
    await page.close();
  });

  test('a request without the token is refused with 401, and the API answers without it', async () => {
    for (const [method, path] of [
      ['GET', ''],
      ['GET', 'api/queue'],
      ['GET', 'events'],
      ['POST', `api/jobs/${randomUUID()}/cancel`],
    ] as const) {
      const res = await fetch(admin.url + path, { method });
      expect([method, path, res.status]).toEqual([method, path, 401]);
      await res.body?.cancel();
    }
    const api = await fetch(`${admin.url}api/queue`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(api.status).toBe(200);
    const text = await api.text();
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('PAYLOAD-NEVER-ON-THE-PAGE');
  });
});
