/** GroupCommit's batching rule, with a recording send (pure logic: no I/O involved). */
import { GroupCommit } from '../../src/util/group-commit';

interface Send {
  items: number[];
  finish: (err?: Error) => void;
}

function recorder(maxInFlight = 1, maxBatch = 100) {
  const sends: Send[] = [];
  const commit = new GroupCommit<number>({
    maxInFlight,
    maxBatch,
    send: (items) =>
      new Promise<void>((resolve, reject) => {
        sends.push({ items, finish: (err) => (err ? reject(err) : resolve()) });
      }),
  });
  return { sends, commit };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('an item handed in with nothing in flight is sent alone, at once', async () => {
  const { sends, commit } = recorder();
  const done = commit.add(1);
  expect(sends.map((s) => s.items)).toEqual([[1]]);
  sends[0]!.finish();
  await expect(done).resolves.toBeUndefined();
});

test('items handed in while a send is in flight go out together in the next send', async () => {
  const { sends, commit } = recorder();
  const first = commit.add(1);
  const rest = [2, 3, 4].map((n) => commit.add(n));
  expect(sends.map((s) => s.items)).toEqual([[1]]);
  sends[0]!.finish();
  await first;
  await tick();
  expect(sends.map((s) => s.items)).toEqual([[1], [2, 3, 4]]);
  sends[1]!.finish();
  await Promise.all(rest);
});

test('a batch never exceeds maxBatch, and maxInFlight sends run at once', async () => {
  const { sends, commit } = recorder(2, 2);
  const all = [1, 2, 3, 4, 5, 6, 7].map((n) => commit.add(n));
  expect(sends.map((s) => s.items)).toEqual([[1], [2]]);
  sends[0]!.finish();
  await tick();
  expect(sends.map((s) => s.items)).toEqual([[1], [2], [3, 4]]);
  sends[1]!.finish();
  sends[2]!.finish();
  await tick();
  expect(sends.map((s) => s.items)).toEqual([[1], [2], [3, 4], [5, 6], [7]]);
  sends[3]!.finish();
  sends[4]!.finish();
  await Promise.all(all);
});

test('a failed send rejects exactly the items it carried; the next batch still goes', async () => {
  const { sends, commit } = recorder();
  const first = commit.add(1);
  const second = commit.add(2);
  sends[0]!.finish(new Error('Temporal unreachable'));
  await expect(first).rejects.toThrow('Temporal unreachable');
  await tick();
  expect(sends.map((s) => s.items)).toEqual([[1], [2]]);
  sends[1]!.finish();
  await expect(second).resolves.toBeUndefined();
});

test('a send that throws at once fails its batch instead of escaping', async () => {
  const commit = new GroupCommit<number>({
    maxInFlight: 1,
    maxBatch: 10,
    send: () => {
      throw new Error('bad arguments');
    },
  });
  await expect(commit.add(1)).rejects.toThrow('bad arguments');
});

test('a caller whose signal aborts stops waiting; the others are not affected', async () => {
  const { sends, commit } = recorder();
  const first = commit.add(1);
  const controller = new AbortController();
  const aborted = commit.add(2, controller.signal);
  const other = commit.add(3);
  controller.abort(new Error('activity cancelled'));
  await expect(aborted).rejects.toThrow('activity cancelled');
  sends[0]!.finish();
  await first;
  await tick();
  sends[1]!.finish();
  await expect(other).resolves.toBeUndefined();
  await expect(commit.add(4, controller.signal)).rejects.toThrow('activity cancelled');
});

test('limits below 1 are refused', () => {
  expect(() => new GroupCommit({ maxInFlight: 0, maxBatch: 1, send: async () => {} })).toThrow(/at least 1/);
});
