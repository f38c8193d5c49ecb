/**
 * Group commit: items handed in while a send is in flight go out together in the next send.
 *
 * With nothing in flight an item is sent alone at once, so a quiet system waits for nothing;
 * under a burst, `send` runs once per batch instead of once per item. Each caller's promise
 * settles with its own batch: a failed send rejects exactly the items it carried, and a caller
 * whose `signal` aborts stops waiting (its item may still go out, so `send` must be idempotent).
 */
export interface GroupCommitOptions<T> {
  send: (items: T[]) => Promise<void>;
  /** Sends in flight at once. */
  maxInFlight: number;
  /** Items in one send, at most. */
  maxBatch: number;
}

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  private readonly waiting: Waiting<T>[] = [];
  private inFlight = 0;

  constructor(private readonly options: GroupCommitOptions<T>) {
    if (options.maxInFlight < 1 || options.maxBatch < 1) {
      throw new Error('GroupCommit: maxInFlight and maxBatch must be at least 1');
    }
  }

  add(item: T, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.waiting.push({
        item,
        resolve: () => {
          done();
          resolve();
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      // Async, so a send that throws at once fails its batch like any other failure.
      void (async () => this.options.send(batch.map((w) => w.item)))()
        .then(
          () => batch.forEach((w) => w.resolve()),
          (err: unknown) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.inFlight -= 1;
          this.pump();
        });
    }
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}
