/**
 * The admin page, server-rendered: the whole page for a GET, and the same sections as fragments
 * for live updates, so the first screen needs no script and updates patch exactly what changed.
 * Times are <time> elements the client script keeps counting; the text here is the start value.
 */
import { duration } from '../util/table';
import { PRIORITIES } from '../shared/constants';
import type { AdminView, FinishedJob, InFlightJob, WaitingJob } from './data';
import { workflowUrl } from './data';
import { html } from './html';
import type { Html } from './html';

/** A queue whose last job is expected to start further out than this is flagged as deep. */
const DEEP_QUEUE_MS = 15 * 60 * 1000;

export const SECTION_IDS = ['summary', 'inflight', 'waiting', 'finished'] as const;
export type SectionId = (typeof SECTION_IDS)[number];

function ago(isoTime: string | null, now: number): Html {
  if (!isoTime) return html`-`;
  return html`<time datetime="${isoTime}" data-rel="ago"
    >${duration((now - Date.parse(isoTime)) / 1000)}</time
  >`;
}

function until(isoTime: string | null, now: number): Html {
  if (!isoTime) return html`-`;
  const seconds = (Date.parse(isoTime) - now) / 1000;
  return html`<time datetime="${isoTime}" data-rel="until"
    >${seconds > 0 ? `in ${duration(seconds)}` : 'now'}</time
  >`;
}

function jobLink(view: AdminView, jobId: string): Html {
  return html`<a
    class="job"
    href="${workflowUrl(view.links, jobId)}"
    target="_blank"
    rel="noopener noreferrer"
    title="${jobId}: its workflow in the Temporal Web UI"
    >${jobId.slice(0, 8)}</a
  >`;
}

const percent = (value: number | null) => (value === null ? '-' : `${Math.round(value * 100)}%`);

function count(key: string, label: string, value: string | number, bad = false): Html {
  return html`<div class="${bad ? 'bad' : ''}">
    <dt>${label}</dt>
    <dd data-count="${key}">${value}</dd>
  </div>`;
}

function summary(view: AdminView, now: number): Html {
  const c = view.counts;
  const h = view.lastHour;
  const deep =
    view.waiting.lastEstimatedStartAt !== null &&
    Date.parse(view.waiting.lastEstimatedStartAt) - now > DEEP_QUEUE_MS;
  return html` ${view.admissionError
      ? html`<p class="flag">Admission is not answering: ${view.admissionError}</p>`
      : ''}
    ${view.storeError ? html`<p class="flag">The read model is not answering: ${view.storeError}</p>` : ''}
    ${view.hasStore
      ? ''
      : html`<p class="note">
          No database configured (DATABASE_URL or SUPABASE_URL): job details, failures and counts are not
          shown.
        </p>`}
    <dl class="counts">
      ${count('waiting', 'waiting', view.waiting.total)}
      ${count('inflight', 'rendering', view.inFlight.total)}
      ${c ? count('retrying', 'retrying', c.retrying) : ''}
      ${h
        ? [
            count('completed', 'completed (1 h)', h.completed),
            count('failed', 'failed (1 h)', h.failed, h.failed > 0),
            count('rate', 'completion rate (1 h)', percent(h.completionRate)),
            count(
              'times',
              'avg wait / render (1 h)',
              `${duration(h.avgWaitSeconds)} / ${duration(h.avgRenderSeconds)}`,
            ),
          ]
        : ''}
    </dl>
    ${deep
      ? html`<p class="flag">
          Deep queue: the last waiting job is expected to start
          ${until(view.waiting.lastEstimatedStartAt, now)}.
        </p>`
      : ''}`;
}

function meter(label: string, used: number, cap: number | null): Html {
  // <progress>, not a styled bar: the content security policy allows no inline styles.
  return html`<div class="meter">
    <span>${label}</span><b>${used}${cap === null ? '' : ` / ${cap}`}</b> ${cap === null
      ? ''
      : html`<progress value="${Math.min(used, cap)}" max="${cap}"></progress>`}
  </div>`;
}

function inFlightRow(view: AdminView, job: InFlightJob, now: number): Html {
  return html`<tr data-job="${job.jobId}">
    <td>${jobLink(view, job.jobId)}</td>
    <td>${job.renderer}</td>
    <td>${job.priority ?? '-'}</td>
    <td>${job.jobType ?? '-'}</td>
    <td>${job.attempt}</td>
    <td>${percent(job.progress)}</td>
    <td>${ago(job.grantedAt, now)}</td>
    <td><button type="button" data-action="cancel" data-job="${job.jobId}">cancel</button></td>
  </tr>`;
}

function inFlight(view: AdminView, now: number): Html {
  const caps = view.caps;
  return html` <h2>Rendering</h2>
    <div class="meters">
      ${meter('total', view.inFlight.total, caps?.total ?? null)}
      ${meter('manim', view.inFlight.manim, caps?.manim ?? null)}
      ${meter('revideo + orchestrator', view.inFlight.general, null)}
      ${caps
        ? html`<span class="${caps.peak ? 'peak' : 'offpeak'}"
            >${caps.peak ? 'peak hours: total cap raised' : 'off-peak caps'}</span
          >`
        : ''}
    </div>
    ${view.inFlight.jobs.length
      ? html`<table>
          <thead>
            <tr>
              <th>job</th>
              <th>renderer</th>
              <th>priority</th>
              <th>type</th>
              <th>attempt</th>
              <th>progress</th>
              <th>running for</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${view.inFlight.jobs.map((j) => inFlightRow(view, j, now))}
          </tbody>
        </table>`
      : html`<p class="empty">Nothing is rendering.</p>`}`;
}

function prioritySelect(job: WaitingJob): Html {
  return html`<select data-action="priority" data-job="${job.jobId}" aria-label="priority of ${job.jobId}">
    ${PRIORITIES.map(
      (p) => html`<option value="${p}" ${p === job.priority ? html` selected` : ''}>${p}</option>`,
    )}
  </select>`;
}

function waitingRow(view: AdminView, job: WaitingJob, now: number): Html {
  return html`<tr data-job="${job.jobId}" data-priority="${job.priority}">
    <td>${job.order}</td>
    <td>${jobLink(view, job.jobId)}</td>
    <td>${prioritySelect(job)}</td>
    <td>${job.renderer}</td>
    <td>${job.jobType ?? '-'}</td>
    <td>${job.position}</td>
    <td>${until(job.estimatedStartAt, now)}</td>
    <td>${ago(job.acceptedAt, now)}</td>
    <td>${job.attempt}</td>
    <td><button type="button" data-action="cancel" data-job="${job.jobId}">cancel</button></td>
  </tr>`;
}

function pager(view: AdminView): Html {
  const { page, pages } = view.waiting;
  if (pages <= 1) return html``;
  const link = (to: number, label: string) =>
    to >= 1 && to <= pages && to !== page
      ? html`<a href="?page=${to}">${label}</a>`
      : html`<span>${label}</span>`;
  return html`<nav class="pager">
    ${link(1, '« first')} ${link(page - 1, '‹ previous')} <span>page ${page} of ${pages}</span> ${link(
      page + 1,
      'next ›',
    )}
    ${link(pages, 'last »')}
  </nav>`;
}

function waiting(view: AdminView, now: number): Html {
  const w = view.waiting;
  return html` <h2>
      Waiting, in admission order
      <small>${w.total} (manim ${w.manim}, revideo + orchestrator ${w.general})</small>
    </h2>
    ${w.jobs.length
      ? html`<table>
            <thead>
              <tr>
                <th>#</th>
                <th>job</th>
                <th>priority</th>
                <th>renderer</th>
                <th>type</th>
                <th title="within its slot pool: 1 starts next">position</th>
                <th>estimated start</th>
                <th>age</th>
                <th>attempt</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${w.jobs.map((j) => waitingRow(view, j, now))}
            </tbody>
          </table>
          ${pager(view)}`
      : html`<p class="empty">No job is waiting.</p>`}`;
}

function finishedRow(view: AdminView, job: FinishedJob, now: number): Html {
  return html`<tr data-job="${job.jobId}" class="${job.status}">
    <td>${jobLink(view, job.jobId)}</td>
    <td>${job.status}</td>
    <td>${job.jobType}</td>
    <td>${job.renderer}</td>
    <td>${job.priority}</td>
    <td>${job.attempts}</td>
    <td class="error">${job.error ?? '-'}</td>
    <td>${ago(job.finishedAt, now)}</td>
    <td><button type="button" data-action="retry" data-job="${job.jobId}">re-run</button></td>
  </tr>`;
}

function finished(view: AdminView, now: number): Html {
  if (!view.hasStore) return html``;
  return html` <h2>Last failed and cancelled</h2>
    ${view.finished.length
      ? html`<table>
          <thead>
            <tr>
              <th>job</th>
              <th>status</th>
              <th>type</th>
              <th>renderer</th>
              <th>priority</th>
              <th>attempts</th>
              <th>error</th>
              <th>ended</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${view.finished.map((j) => finishedRow(view, j, now))}
          </tbody>
        </table>`
      : html`<p class="empty">No failures.</p>`}`;
}

function sections(view: AdminView, now: number): Record<SectionId, Html> {
  return {
    summary: summary(view, now),
    inflight: inFlight(view, now),
    waiting: waiting(view, now),
    finished: finished(view, now),
  };
}

/** Each live section's inner HTML, by element id. */
export function renderSections(view: AdminView, now: number): Record<SectionId, string> {
  const built = sections(view, now);
  return Object.fromEntries(SECTION_IDS.map((id) => [id, built[id].text])) as Record<SectionId, string>;
}

function layout(title: string, body: Html, script: boolean): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        <link rel="stylesheet" href="admin.css" />
        ${script ? html`<script src="admin.js" defer></script>` : ''}
      </head>
      <body>
        ${body}
      </body>
    </html>`.text;
}

export function renderPage(view: AdminView, now: number, operator: string): string {
  const built = sections(view, now);
  const section = (id: SectionId) => html`<section id="${id}">${built[id]}</section>`;
  return layout(
    'render-queue admin',
    html`<header>
        <h1>render-queue</h1>
        <span id="live" title="live updates">live</span>
        <span class="who">${operator}</span>
        <form method="post" action="logout"><button type="submit">log out</button></form>
      </header>
      <p id="status" role="status" aria-live="polite"></p>
      ${section('summary')}${section('inflight')}${section('waiting')}${section('finished')}`,
    true,
  );
}

export function renderLogin(message?: string): string {
  return layout(
    'render-queue admin: log in',
    html`<main class="login">
      <h1>render-queue admin</h1>
      ${message ? html`<p class="flag">${message}</p>` : ''}
      <form method="post" action="login">
        <label
          >Operator token
          <input type="password" name="token" autocomplete="current-password" required autofocus
        /></label>
        <label>Your name, for the action log <input type="text" name="operator" maxlength="64" /></label>
        <button type="submit">log in</button>
      </form>
    </main>`,
    false,
  );
}
