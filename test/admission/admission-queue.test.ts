/**
 * The admission order and its estimates, as pure logic: which job gets the next permit, what a
 * waiting job's position and estimated start are, and that the compact encoding carried across
 * continue-as-new loses nothing.
 */
import fc from 'fast-check';
import { AdmissionQueue, requestProblem } from '../../src/shared/admission-queue';
import type { PermitRequest } from '../../src/shared/admission-queue';
import { NO_DURATIONS, estimateAdmissionQueue, observeDuration } from '../../src/shared/admission-estimate';
import { PRIORITIES, RENDERERS } from '../../src/shared/constants';
import type { Priority, Renderer } from '../../src/shared/constants';

const T0 = Date.parse('2026-12-01T10:00:00Z');

/** A fresh job id; the label only names the job where it is made. */
const id = (_label: string): string => crypto.randomUUID();

function req(
  jobId: string,
  renderer: Renderer,
  priority: Priority,
  acceptedAt: number,
  attempt = 1,
): PermitRequest {
  return { jobId, renderer, priority, acceptedAt, attempt };
}

describe('dispatch', () => {
  test('grants in priority order across renderers, then by acceptance, up to the total cap', () => {
    const q = new AdmissionQueue();
    const lowManim = id('lowM');
    const medRevideo = id('medR');
    const highOrch = id('highO');
    const highManimLater = id('highM');
    q.request(req(lowManim, 'manim', 'low', T0), T0);
    q.request(req(medRevideo, 'revideo', 'medium', T0 + 1), T0);
    q.request(req(highOrch, 'orchestrator', 'high', T0 + 2), T0);
    q.request(req(highManimLater, 'manim', 'high', T0 + 3), T0);
    const granted = q.dispatch({ total: 3, manim: 4 }, T0 + 10).map((h) => h.jobId);
    expect(granted).toEqual([highOrch, highManimLater, medRevideo]);
    expect(q.waitingCount).toBe(1);
    expect(q.dispatch({ total: 3, manim: 4 }, T0 + 10)).toEqual([]);
  });

  test('a Manim job blocked only by the Manim cap is skipped, never blocks the jobs behind it', () => {
    const q = new AdmissionQueue();
    const m = [id('m1'), id('m2'), id('m3')];
    const g = id('g1');
    m.forEach((jobId, i) => q.request(req(jobId, 'manim', 'high', T0 + i), T0));
    q.request(req(g, 'revideo', 'low', T0 + 10), T0);
    const granted = q.dispatch({ total: 10, manim: 2 }, T0).map((h) => h.jobId);
    expect(granted).toEqual([m[0], m[1], g]);
    expect(q.manimHolderCount).toBe(2);
    // When a Manim permit frees, the waiting Manim job is next.
    q.release(m[0]!, 1);
    expect(q.dispatch({ total: 10, manim: 2 }, T0).map((h) => h.jobId)).toEqual([m[2]]);
  });

  test('lowering a cap revokes nothing; grants resume once the count is under the new cap', () => {
    const q = new AdmissionQueue();
    const jobs = Array.from({ length: 6 }, (_, i) => id(`j${i}`));
    jobs.forEach((jobId, i) => q.request(req(jobId, 'revideo', 'medium', T0 + i), T0));
    expect(q.dispatch({ total: 4, manim: 4 }, T0)).toHaveLength(4);
    expect(q.dispatch({ total: 2, manim: 2 }, T0)).toEqual([]);
    expect(q.holderCount).toBe(4);
    q.release(jobs[0]!, 1);
    q.release(jobs[1]!, 1);
    expect(q.dispatch({ total: 2, manim: 2 }, T0)).toEqual([]);
    q.release(jobs[2]!, 1);
    expect(q.dispatch({ total: 2, manim: 2 }, T0).map((h) => h.jobId)).toEqual([jobs[4]]);
  });

  test('a retried attempt rejoins at its original place: its accepted time does not change', () => {
    const q = new AdmissionQueue();
    const first = id('first');
    const second = id('second');
    q.request(req(first, 'revideo', 'medium', T0), T0);
    q.request(req(second, 'revideo', 'medium', T0 + 1000), T0);
    expect(q.dispatch({ total: 1, manim: 1 }, T0).map((h) => h.jobId)).toEqual([first]);
    // Attempt 1 failed: the permit goes back, and the job asks again for attempt 2 later.
    q.release(first, 1);
    expect(q.dispatch({ total: 1, manim: 1 }, T0).map((h) => h.jobId)).toEqual([second]);
    q.request(req(first, 'revideo', 'medium', T0, 2), T0 + 300_000);
    const third = id('third');
    q.request(req(third, 'revideo', 'medium', T0 + 2000), T0 + 300_000);
    q.release(second, 1);
    expect(q.dispatch({ total: 1, manim: 1 }, T0).map((h) => [h.jobId, h.attempt])).toEqual([[first, 2]]);
  });
});

describe('idempotency', () => {
  test('a repeated request changes nothing; a holder asking again is told it holds', () => {
    const q = new AdmissionQueue();
    const a = id('a');
    expect(q.request(req(a, 'manim', 'high', T0), T0)).toEqual({ kind: 'waiting' });
    expect(q.request(req(a, 'manim', 'high', T0), T0)).toEqual({ kind: 'waiting' });
    expect(q.waitingCount).toBe(1);
    q.dispatch({ total: 1, manim: 1 }, T0 + 5);
    expect(q.request(req(a, 'manim', 'high', T0), T0 + 9)).toMatchObject({
      kind: 'holding',
      holder: { jobId: a, attempt: 1, grantedAt: T0 + 5, acceptedAt: T0 },
    });
    expect(q.holderCount).toBe(1);
    expect(q.waitingCount).toBe(0);
  });

  test('a release counts once; a release of an older attempt leaves a newer permit alone', () => {
    const q = new AdmissionQueue();
    const a = id('a');
    q.request(req(a, 'revideo', 'high', T0, 2), T0);
    q.dispatch({ total: 1, manim: 1 }, T0);
    expect(q.release(a, 1)).toBeUndefined();
    expect(q.holderCount).toBe(1);
    expect(q.release(a, 2)).toMatchObject({ jobId: a, attempt: 2 });
    expect(q.release(a, 2)).toBeUndefined();
    expect(q.holderCount).toBe(0);
  });

  test('a request for a later attempt replaces a permit whose release never arrived', () => {
    const q = new AdmissionQueue();
    const a = id('a');
    q.request(req(a, 'manim', 'high', T0, 1), T0);
    q.dispatch({ total: 5, manim: 5 }, T0);
    q.request(req(a, 'manim', 'high', T0, 2), T0);
    expect(q.holderCount).toBe(0);
    expect(q.manimHolderCount).toBe(0);
    expect(q.waitingEntry(a)).toMatchObject({ attempt: 2 });
  });

  test('re-registration after a fresh admission run counts as held, whatever the caps', () => {
    const q = new AdmissionQueue();
    const jobs = [id('h1'), id('h2'), id('h3')];
    for (const jobId of jobs) q.request({ ...req(jobId, 'manim', 'high', T0), holding: true }, T0);
    expect(q.manimHolderCount).toBe(3);
    const waiting = id('w');
    q.request(req(waiting, 'manim', 'high', T0), T0);
    expect(q.dispatch({ total: 10, manim: 2 }, T0)).toEqual([]);
  });
});

describe('reprioritize and forget', () => {
  test('moving a waiting job to a higher priority keeps its accepted time and moves it ahead', () => {
    const q = new AdmissionQueue();
    const jobs = [id('a'), id('b'), id('c')];
    jobs.forEach((jobId, i) => q.request(req(jobId, 'revideo', 'low', T0 + i), T0));
    expect(q.reprioritize(jobs[2]!, 'high')).toBe(true);
    expect([...q.waitingInOrder()].map((e) => e.jobId)).toEqual([jobs[2], jobs[0], jobs[1]]);
    expect(q.waitingEntry(jobs[2]!)).toMatchObject({ acceptedAt: T0 + 2, rank: 0 });
    expect(q.reprioritize(id('nobody'), 'high')).toBe(false);
  });

  test('forgetting a job drops its permit or its place', () => {
    const q = new AdmissionQueue();
    const holder = id('h');
    const waiter = id('w');
    q.request(req(holder, 'manim', 'high', T0), T0);
    q.request(req(waiter, 'manim', 'high', T0 + 1), T0);
    q.dispatch({ total: 1, manim: 1 }, T0);
    expect(q.forget(holder)).toEqual({ held: true, waited: false });
    expect(q.forget(waiter)).toEqual({ held: false, waited: true });
    expect(q.manimHolderCount).toBe(0);
    expect(q.waitingCount).toBe(0);
  });
});

describe('encoding for continue-as-new', () => {
  const arbitraryRequest = fc.record({
    jobId: fc.uuid(),
    renderer: fc.constantFrom(...RENDERERS),
    priority: fc.constantFrom(...PRIORITIES),
    acceptedAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    attempt: fc.integer({ min: 1, max: 1000 }),
  });

  test('decode(encode(queue)) has the same waiting order and the same holders', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryRequest, { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        (requests, cap) => {
          const q = new AdmissionQueue();
          for (const r of requests) q.request(r, T0);
          q.dispatch({ total: cap, manim: Math.max(1, cap >> 1) }, T0 + 7);
          const copy = AdmissionQueue.decode(q.encode());
          expect([...copy.waitingInOrder()]).toEqual([...q.waitingInOrder()]);
          expect(copy.holdersList().sort((a, b) => a.jobId.localeCompare(b.jobId))).toEqual(
            q.holdersList().sort((a, b) => a.jobId.localeCompare(b.jobId)),
          );
          expect(copy.manimHolderCount).toBe(q.manimHolderCount);
        },
      ),
    );
  });

  test('10,000 waiting jobs encode well under the 2 MB payload limit', () => {
    const q = new AdmissionQueue();
    for (let i = 0; i < 10_000; i += 1) {
      q.request(req(crypto.randomUUID(), RENDERERS[i % 3]!, PRIORITIES[i % 3]!, T0 + i), T0);
    }
    const encoded = q.encode();
    expect(encoded.waiting.length).toBeLessThan(600_000);
  });

  test('a corrupt encoding is refused, not half-read', () => {
    expect(() => AdmissionQueue.decode({ waiting: 'x'.repeat(10), holders: '' })).toThrow(/multiple of/);
  });

  test('a request the queue could not encode is named at the door, by field; a good one passes', () => {
    const good = req(id('good'), 'manim', 'high', T0);
    expect(requestProblem(good)).toBeUndefined();
    expect(requestProblem({ ...good, jobId: 'job-1' })).toBe('jobId: must be a uuid');
    expect(requestProblem({ ...good, renderer: 'blender' as Renderer })).toMatch(
      /^renderer: unknown "blender"/,
    );
    expect(requestProblem({ ...good, priority: 'urgent' as Priority })).toMatch(/^priority: /);
    expect(requestProblem({ ...good, attempt: 0 })).toMatch(/^attempt: /);
    expect(requestProblem({ ...good, attempt: 1.5 })).toMatch(/^attempt: /);
    expect(requestProblem({ ...good, acceptedAt: Number.NaN })).toMatch(/^acceptedAt: /);
    expect(requestProblem({ ...good, acceptedAt: 36 ** 9 })).toMatch(/^acceptedAt: /);
    // What passes the door encodes.
    const q = new AdmissionQueue();
    q.request(good, T0);
    expect(() => q.encode()).not.toThrow();
  });
});

describe('positions and estimated starts', () => {
  const minute = 60_000;
  const durations = { manim: 2 * minute, revideo: minute, orchestrator: minute };

  test('a position counts the waiting jobs of the same slot pool ahead, in admission order', () => {
    const q = new AdmissionQueue();
    const m1 = id('m1');
    const r1 = id('r1');
    const m2 = id('m2');
    const o1 = id('o1');
    q.request(req(m1, 'manim', 'high', T0), T0);
    q.request(req(r1, 'revideo', 'high', T0 + 1), T0);
    q.request(req(m2, 'manim', 'medium', T0 + 2), T0);
    q.request(req(o1, 'orchestrator', 'low', T0 + 3), T0);
    const estimates = estimateAdmissionQueue(q, { total: 1, manim: 1 }, durations, T0);
    expect(estimates.map((e) => [e.jobId, e.position])).toEqual([
      [m1, 1],
      [r1, 1],
      [m2, 2],
      [o1, 2],
    ]);
  });

  test('estimates replay the admission rule: slots free as renders end, Manim waits for a Manim slot', () => {
    // Caps 2 total, 1 Manim. In flight: a Manim render granted 1 min ago (ends in 1 min).
    const q = new AdmissionQueue();
    const busy = id('busy');
    q.request(req(busy, 'manim', 'high', T0 - 5 * minute), T0 - minute);
    q.dispatch({ total: 2, manim: 1 }, T0 - minute);
    const m1 = id('m1');
    const r1 = id('r1');
    const r2 = id('r2');
    q.request(req(m1, 'manim', 'high', T0), T0);
    q.request(req(r1, 'revideo', 'medium', T0 + 1), T0);
    q.request(req(r2, 'revideo', 'medium', T0 + 2), T0);
    const byId = new Map(
      estimateAdmissionQueue(q, { total: 2, manim: 1 }, durations, T0).map((e) => [
        e.jobId,
        e.estimatedStartAt - T0,
      ]),
    );
    // The free total slot goes to r1 at once: m1 is ahead but its Manim slot is busy.
    expect(byId.get(r1)).toBe(0);
    // At +1 min the Manim render ends (m1 takes its slots) and so does r1 (r2 takes its slot).
    expect(byId.get(m1)).toBe(minute);
    expect(byId.get(r2)).toBe(minute);
  });

  test('a render past its average duration is expected to end a tenth of it later', () => {
    const q = new AdmissionQueue();
    const late = id('late');
    q.request(req(late, 'revideo', 'high', T0 - 10 * minute), T0 - 10 * minute);
    q.dispatch({ total: 1, manim: 1 }, T0 - 10 * minute);
    const next = id('next');
    q.request(req(next, 'revideo', 'high', T0), T0);
    const [estimate] = estimateAdmissionQueue(q, { total: 1, manim: 1 }, durations, T0);
    expect(estimate!.estimatedStartAt - T0).toBe(minute / 10);
  });

  test('without any completed render a renderer is assumed to take a minute', () => {
    expect(observeDuration(NO_DURATIONS, 'manim', 30_000)).toMatchObject({ manim: 30_000, revideo: null });
    const q = new AdmissionQueue();
    const a = id('a');
    const b = id('b');
    q.request(req(a, 'revideo', 'high', T0), T0);
    q.request(req(b, 'revideo', 'high', T0 + 1), T0);
    const estimates = estimateAdmissionQueue(q, { total: 1, manim: 1 }, NO_DURATIONS, T0);
    expect(estimates.map((e) => e.estimatedStartAt - T0)).toEqual([0, 60_000]);
  });

  test('estimates never decrease along a pool, and the first job of an idle queue starts now', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ renderer: fc.constantFrom(...RENDERERS), priority: fc.constantFrom(...PRIORITIES) }),
          { maxLength: 80 },
        ),
        fc.integer({ min: 1, max: 15 }),
        fc.integer({ min: 1, max: 6 }),
        (jobs, total, manim) => {
          const q = new AdmissionQueue();
          jobs.forEach((j, i) => q.request(req(crypto.randomUUID(), j.renderer, j.priority, T0 + i), T0));
          const estimates = estimateAdmissionQueue(q, { total, manim }, durations, T0);
          expect(estimates).toHaveLength(jobs.length);
          for (const pool of ['manim', 'general'] as const) {
            const starts = estimates
              .filter((e) => (e.renderer === 'manim') === (pool === 'manim'))
              .map((e) => e.estimatedStartAt);
            expect(starts).toEqual([...starts].sort((a, b) => a - b));
          }
          if (estimates.length > 0) expect(Math.min(...estimates.map((e) => e.estimatedStartAt))).toBe(T0);
        },
      ),
    );
  });
});
