/**
 * The page's one script and its stylesheet, served as files (/admin.js, /admin.css) so the
 * content security policy can forbid every inline script and style.
 *
 * The script: live updates over server-sent events (each event carries the changed sections'
 * HTML, escaped by the server), relative times that count every second, and the actions, sent
 * with the custom header the server requires of cookie-authenticated POSTs (see auth.ts).
 */
export const CLIENT_SCRIPT = String.raw`'use strict';
(() => {
  const page = new URLSearchParams(location.search).get('page') || '1';
  const status = document.getElementById('status');
  const live = document.getElementById('live');
  const say = (text, bad) => {
    status.textContent = text;
    status.className = bad ? 'bad' : 'ok';
  };

  // Same format as the server's (src/util/table.ts duration).
  const pad = (n) => String(n).padStart(2, '0');
  const span = (s) =>
    s < 60 ? Math.round(s) + 's'
      : s < 3600 ? Math.floor(s / 60) + 'm' + pad(Math.round(s % 60)) + 's'
        : Math.floor(s / 3600) + 'h' + pad(Math.floor((s % 3600) / 60)) + 'm';
  const countTimes = () => {
    const now = Date.now();
    for (const el of document.querySelectorAll('time[data-rel]')) {
      const seconds = (Date.parse(el.dateTime) - now) / 1000;
      el.textContent = el.dataset.rel === 'ago' ? span(Math.max(0, -seconds)) : seconds > 0 ? 'in ' + span(seconds) : 'now';
    }
  };
  setInterval(countTimes, 1000);

  // A section whose priority menu is open keeps its update until the menu closes.
  const pending = {};
  const apply = (id, html) => {
    const el = document.getElementById(id);
    if (!el) return;
    if (el.contains(document.activeElement) && document.activeElement.tagName === 'SELECT') {
      pending[id] = html;
    } else {
      el.innerHTML = html;
      delete pending[id];
    }
  };
  const events = new EventSource('events?page=' + encodeURIComponent(page));
  events.addEventListener('update', (e) => {
    live.className = 'on';
    for (const [id, html] of Object.entries(JSON.parse(e.data))) apply(id, html);
    countTimes();
  });
  events.addEventListener('error', () => {
    live.className = 'off';
  });
  document.addEventListener('focusout', () =>
    setTimeout(() => {
      for (const id of Object.keys(pending)) apply(id, pending[id]);
      countTimes();
    }),
  );

  const act = async (jobId, action, body) => {
    let res;
    try {
      res = await fetch('api/jobs/' + encodeURIComponent(jobId) + '/' + action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-render-queue-admin': '1' },
        body: JSON.stringify(body || {}),
      });
    } catch (err) {
      return say(action + ' failed: ' + err.message, true);
    }
    const answer = await res.json().catch(() => ({}));
    say(answer.message || answer.error || res.status + ' ' + res.statusText, !res.ok);
    if (res.status === 401) location.reload();
  };
  document.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    if (!button) return;
    const { action, job } = button.dataset;
    if (action === 'cancel' && !confirm('Cancel job ' + job + '?')) return;
    act(job, action);
  });
  document.addEventListener('change', (e) => {
    const select = e.target.closest('select[data-action="priority"]');
    if (select) act(select.dataset.job, 'priority', { priority: select.value }).then(() => select.blur());
  });
})();
`;

export const STYLESHEET = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2430; background: #fafbfc; }
header { display: flex; align-items: center; gap: 1rem; border-bottom: 1px solid #d8dde4; }
header h1 { font-size: 1.3rem; margin: .6rem 0; flex: 1; }
header form { margin: 0; }
#live { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; background: #ccc; }
#live.on { background: #2e9b57; color: #fff; }
#live.off { background: #c0392b; color: #fff; }
#status { min-height: 1.4em; margin: .4rem 0; }
#status.ok { color: #2e7d32; }
#status.bad, .bad, .flag { color: #b3261e; }
.flag { font-weight: 600; }
.note, .empty { color: #66707c; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
h2 small { font-weight: normal; color: #66707c; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; margin: .6rem 0; }
.counts div { display: flex; flex-direction: column-reverse; }
.counts dt { font-size: .8rem; color: #66707c; }
.counts dd { margin: 0; font-size: 1.3rem; font-weight: 600; }
.meters { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: center; }
.meter { display: flex; gap: .4rem; align-items: center; }
.peak { color: #8a4b00; font-weight: 600; }
.offpeak { color: #66707c; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e6e9ee; vertical-align: top; }
th { font-size: .8rem; color: #66707c; font-weight: 600; }
td.error { max-width: 40rem; white-space: pre-wrap; word-break: break-word; }
button { white-space: nowrap; }
a.job { font-family: ui-monospace, monospace; }
.pager { display: flex; gap: 1rem; margin: .5rem 0; }
.pager span { color: #66707c; }
.login { max-width: 24rem; margin: 4rem auto; }
.login label { display: block; margin: .8rem 0; }
.login input { display: block; width: 100%; padding: .3rem; }
`;
