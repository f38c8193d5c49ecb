/** The worker profile's split, on a hand-built V8 profile (pure logic). */
import { bucketOf, splitProfile } from '../../bench/worker-profile';

test('samples are summed per bucket of where the code lives, idle and GC apart', () => {
  const frame = (functionName: string, url: string) => ({ functionName, url });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', '') },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('(garbage collector)', '') },
      { id: 4, callFrame: frame('activate', 'file:///app/node_modules/@temporalio/worker/lib/worker.js') },
      { id: 5, callFrame: frame('write', 'file:///app/node_modules/@grpc/grpc-js/build/src/call.js') },
      { id: 6, callFrame: frame('applyTransition', 'file:///app/.data/bench-build/worker.js') },
      { id: 7, callFrame: frame('query', 'file:///app/node_modules/pg/lib/client.js') },
    ],
    samples: [2, 3, 4, 4, 5, 6, 7, 2],
    timeDeltas: [1_000_000, 500_000, 250_000, 250_000, 100_000, 300_000, 200_000, 1_000_000],
  };
  expect(splitProfile(profile)).toEqual({
    idle: 2,
    'garbage collection': 0.5,
    'Temporal SDK (worker, client, proto)': 0.5,
    'gRPC and protobuf': 0.1,
    'this project (activities, store, logging)': 0.3,
    'PostgreSQL driver': 0.2,
  });
  expect(bucketOf('node:internal/streams/writable', 'write')).toBe('Node built-ins (streams, timers, http)');
  expect(bucketOf('', 'someNative')).toBe('native (V8, Node internals, the SDK core bridge)');
});
