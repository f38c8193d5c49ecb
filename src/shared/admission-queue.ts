/**
 * The admission order and the permits in flight, as pure data structures: the admission
 * workflow keeps one of these, and the publisher of queue positions reads a snapshot of it.
 * Pure (no I/O, no clock): bundled into the workflow sandbox.
 *
 * Order: (priority rank, accepted time, job id), across every renderer. Waiting jobs are kept
 * in two sorted lists, one per slot pool (Manim; general = Revideo and the orchestrator),
 * because the pools are what the caps distinguish: a freed total slot goes to whichever pool's
 * head comes first in the global order, and a Manim job blocked only by the Manim cap is
 * skipped without blocking the general jobs behind it.
 */
import { PRIORITIES, RENDERERS, renderQueueFor } from './constants';
import type { Priority, RenderQueue, Renderer } from './constants';

export interface PermitRequest {
  jobId: string;
  renderer: Renderer;
  priority: Priority;
  /**
   * When admission accepted the job, epoch ms, as its first grant told it; absent on a job's
   * first request, which admission stamps with its own time of arrival. Never changes while the
   * job waits or retries, so a retried attempt rejoins at its original place.
   */
  acceptedAt?: number;
  /** The render attempt (1-based) that needs the permit. */
  attempt: number;
  /**
   * Re-registration after the admission workflow started afresh: the job already holds a permit
   * from the lost run and is rendering. Registered as a holder whatever the caps.
   */
  holding?: boolean;
}

export interface WaitingEntry {
  jobId: string;
  renderer: Renderer;
  /** Index in PRIORITIES: 0 = high. */
  rank: number;
  acceptedAt: number;
  attempt: number;
}

export interface HolderEntry {
  jobId: string;
  renderer: Renderer;
  attempt: number;
  grantedAt: number;
  /** Its place in the queue, told to the job with the grant so later attempts keep it. */
  acceptedAt: number;
}

/** A permit granted at `now` to the job `entry` names, keeping its place in the queue. */
function holderOf(
  entry: Pick<HolderEntry, 'jobId' | 'renderer' | 'attempt'>,
  now: number,
  acceptedAt: number,
): HolderEntry {
  return { jobId: entry.jobId, renderer: entry.renderer, attempt: entry.attempt, grantedAt: now, acceptedAt };
}

export interface AdmissionCaps {
  total: number;
  manim: number;
}

export type RequestOutcome =
  /** Granted earlier (the same or a later attempt): the caller repeats the grant, nothing else. */
  { kind: 'holding'; holder: HolderEntry } | { kind: 'waiting' };

export const priorityRank = (priority: Priority): number => PRIORITIES.indexOf(priority);

/**
 * What is wrong with a request, naming the field; undefined when admission can hold it. A request
 * the queue cannot encode would break every later snapshot and continue-as-new, so it is refused
 * at the door.
 */
export function requestProblem(req: PermitRequest): string | undefined {
  if (typeof req?.jobId !== 'string' || req.jobId.length !== ID) return 'jobId: must be a uuid';
  if (!RENDERERS.includes(req.renderer)) return `renderer: unknown "${String(req.renderer)}"`;
  if (!PRIORITIES.includes(req.priority)) return `priority: unknown "${String(req.priority)}"`;
  if (!Number.isInteger(req.attempt) || req.attempt < 1 || req.attempt >= 36 ** ATTEMPT) {
    return 'attempt: must be a whole number from 1';
  }
  if (
    req.acceptedAt !== undefined &&
    !(Number.isInteger(req.acceptedAt) && req.acceptedAt >= 0 && req.acceptedAt < 36 ** TIME)
  ) {
    return 'acceptedAt: must be epoch milliseconds';
  }
  return undefined;
}

/** The admission order: higher priority first, then earlier acceptance, then job id. */
export function compareWaiting(a: WaitingEntry, b: WaitingEntry): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.acceptedAt !== b.acceptedAt) return a.acceptedAt - b.acceptedAt;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/** Index of the first entry not before `entry` (binary search). */
function lowerBound(list: WaitingEntry[], entry: WaitingEntry): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareWaiting(list[mid]!, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class AdmissionQueue {
  private readonly pools: Record<RenderQueue, WaitingEntry[]> = { manim: [], general: [] };
  private readonly waitingById = new Map<string, WaitingEntry>();
  private readonly holders = new Map<string, HolderEntry>();
  private manimHeld = 0;

  get waitingCount(): number {
    return this.waitingById.size;
  }

  get holderCount(): number {
    return this.holders.size;
  }

  get manimHolderCount(): number {
    return this.manimHeld;
  }

  holder(jobId: string): HolderEntry | undefined {
    return this.holders.get(jobId);
  }

  waitingEntry(jobId: string): WaitingEntry | undefined {
    return this.waitingById.get(jobId);
  }

  /**
   * Idempotent by job id and attempt: a repeated request changes nothing, a request for a later
   * attempt replaces what the job had (a release that never arrived), and `holding` registers a
   * permit that a lost admission run had granted.
   */
  request(req: PermitRequest, now: number): RequestOutcome {
    const held = this.holders.get(req.jobId);
    if (held && held.attempt >= req.attempt) return { kind: 'holding', holder: held };
    if (held) this.dropHolder(held);
    if (req.holding) {
      this.withdraw(req.jobId);
      const holder = holderOf(req, now, req.acceptedAt ?? now);
      this.addHolder(holder);
      return { kind: 'holding', holder };
    }
    const existing = this.waitingById.get(req.jobId);
    if (existing && existing.attempt >= req.attempt) return { kind: 'waiting' };
    if (existing) this.withdraw(req.jobId);
    this.insert({
      jobId: req.jobId,
      renderer: req.renderer,
      rank: priorityRank(req.priority),
      acceptedAt: req.acceptedAt ?? now,
      attempt: req.attempt,
    });
    return { kind: 'waiting' };
  }

  /**
   * The job is done with `attempt` (or anything before it): its permit, or its place in the
   * queue if it was still waiting, is given back. Returns what was removed; undefined when
   * nothing matched, which makes a repeated release harmless.
   */
  release(jobId: string, attempt: number): HolderEntry | WaitingEntry | undefined {
    const held = this.holders.get(jobId);
    if (held && held.attempt <= attempt) {
      this.dropHolder(held);
      return held;
    }
    const waiting = this.waitingById.get(jobId);
    if (waiting && waiting.attempt <= attempt) {
      this.withdraw(jobId);
      return waiting;
    }
    return undefined;
  }

  /** Forgets a job whatever it had (its workflow closed): returns whether it held a permit. */
  forget(jobId: string): { held: boolean; waited: boolean } {
    const held = this.holders.get(jobId);
    if (held) this.dropHolder(held);
    return { held: held !== undefined, waited: this.withdraw(jobId) };
  }

  /** Moves a waiting job to another priority, keeping its accepted time. False if it is not waiting. */
  reprioritize(jobId: string, priority: Priority): boolean {
    const entry = this.waitingById.get(jobId);
    if (!entry) return false;
    const rank = priorityRank(priority);
    if (entry.rank === rank) return true;
    this.withdraw(jobId);
    this.insert({ ...entry, rank });
    return true;
  }

  /**
   * Grants permits while the caps allow, always to the first waiting job in the global order
   * whose pool has room; returns the new holders in the order granted.
   */
  dispatch(caps: AdmissionCaps, now: number): HolderEntry[] {
    const granted: HolderEntry[] = [];
    while (this.holders.size < caps.total) {
      const general = this.pools.general[0];
      const manim = this.manimHeld < caps.manim ? this.pools.manim[0] : undefined;
      const next =
        general && manim ? (compareWaiting(manim, general) < 0 ? manim : general) : (general ?? manim);
      if (!next) break;
      this.withdraw(next.jobId);
      const holder = holderOf(next, now, next.acceptedAt);
      this.addHolder(holder);
      granted.push(holder);
    }
    return granted;
  }

  /** Waiting jobs of one pool, in admission order (a live array: read it, don't change it). */
  pool(queue: RenderQueue): readonly WaitingEntry[] {
    return this.pools[queue];
  }

  /** Every waiting job in the global admission order. */
  *waitingInOrder(): Generator<WaitingEntry> {
    const { manim, general } = this.pools;
    let m = 0;
    let g = 0;
    while (m < manim.length || g < general.length) {
      const a = manim[m];
      const b = general[g];
      if (a && (!b || compareWaiting(a, b) < 0)) {
        yield a;
        m += 1;
      } else {
        yield b!;
        g += 1;
      }
    }
  }

  holdersList(): HolderEntry[] {
    return [...this.holders.values()];
  }

  private insert(entry: WaitingEntry): void {
    const list = this.pools[renderQueueFor(entry.renderer)];
    list.splice(lowerBound(list, entry), 0, entry);
    this.waitingById.set(entry.jobId, entry);
  }

  private withdraw(jobId: string): boolean {
    const entry = this.waitingById.get(jobId);
    if (!entry) return false;
    const list = this.pools[renderQueueFor(entry.renderer)];
    const at = lowerBound(list, entry);
    if (list[at]?.jobId === jobId) list.splice(at, 1);
    this.waitingById.delete(jobId);
    return true;
  }

  private addHolder(holder: HolderEntry): void {
    this.holders.set(holder.jobId, holder);
    if (holder.renderer === 'manim') this.manimHeld += 1;
  }

  private dropHolder(holder: HolderEntry): void {
    this.holders.delete(holder.jobId);
    if (holder.renderer === 'manim') this.manimHeld -= 1;
  }

  /** Compact, fixed-width text for continue-as-new and snapshots (about 50 bytes a job). */
  encode(): EncodedQueue {
    let waiting = '';
    for (const entry of this.waitingById.values()) waiting += encodeWaiting(entry);
    let holders = '';
    for (const holder of this.holders.values()) holders += encodeHolder(holder);
    return { waiting, holders };
  }

  static decode(encoded: EncodedQueue | undefined): AdmissionQueue {
    const queue = new AdmissionQueue();
    if (!encoded) return queue;
    for (const entry of decodeAll(encoded.waiting, WAITING_WIDTH, decodeWaiting)) queue.insert(entry);
    for (const holder of decodeAll(encoded.holders, HOLDER_WIDTH, decodeHolder)) queue.addHolder(holder);
    return queue;
  }
}

export interface EncodedQueue {
  waiting: string;
  holders: string;
}

// Fixed widths: job id (a uuid, 36), renderer index (1), priority rank (1), attempt (2, base 36),
// times (9, base 36: epoch ms up to the year 5138).
const ID = 36;
const ATTEMPT = 2;
const TIME = 9;
const WAITING_WIDTH = ID + 1 + 1 + ATTEMPT + TIME;
const HOLDER_WIDTH = ID + 1 + ATTEMPT + TIME + TIME;

const fixed = (value: number, width: number): string => {
  const text = Math.max(0, Math.floor(value)).toString(36);
  if (text.length > width) throw new RangeError(`value ${value} does not fit ${width} base-36 digits`);
  return text.padStart(width, '0');
};

function checkedId(jobId: string): string {
  if (jobId.length !== ID) throw new RangeError(`job id must be a uuid (36 characters), got ${jobId.length}`);
  return jobId;
}

function encodeWaiting(e: WaitingEntry): string {
  return `${checkedId(e.jobId)}${RENDERERS.indexOf(e.renderer)}${e.rank}${fixed(e.attempt, ATTEMPT)}${fixed(e.acceptedAt, TIME)}`;
}

function encodeHolder(h: HolderEntry): string {
  return `${checkedId(h.jobId)}${RENDERERS.indexOf(h.renderer)}${fixed(h.attempt, ATTEMPT)}${fixed(h.grantedAt, TIME)}${fixed(h.acceptedAt, TIME)}`;
}

function rendererAt(code: string): Renderer {
  const renderer = RENDERERS[Number(code)];
  if (!renderer) throw new RangeError(`unknown renderer code ${JSON.stringify(code)}`);
  return renderer;
}

function decodeWaiting(s: string): WaitingEntry {
  const rank = Number(s[ID + 1]);
  if (!(rank >= 0 && rank < PRIORITIES.length)) throw new RangeError(`unknown priority rank in ${s}`);
  return {
    jobId: s.slice(0, ID),
    renderer: rendererAt(s[ID]!),
    rank,
    attempt: parseInt(s.slice(ID + 2, ID + 2 + ATTEMPT), 36),
    acceptedAt: parseInt(s.slice(ID + 2 + ATTEMPT), 36),
  };
}

function decodeHolder(s: string): HolderEntry {
  const times = ID + 1 + ATTEMPT;
  return {
    jobId: s.slice(0, ID),
    renderer: rendererAt(s[ID]!),
    attempt: parseInt(s.slice(ID + 1, times), 36),
    grantedAt: parseInt(s.slice(times, times + TIME), 36),
    acceptedAt: parseInt(s.slice(times + TIME), 36),
  };
}

function decodeAll<T>(text: string, width: number, decode: (s: string) => T): T[] {
  if (text.length % width !== 0) {
    throw new RangeError(`encoded queue has ${text.length} characters, not a multiple of ${width}`);
  }
  const out: T[] = [];
  for (let at = 0; at < text.length; at += width) out.push(decode(text.slice(at, at + width)));
  return out;
}
