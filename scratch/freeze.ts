import { RenderJobInputSchema, describeZodError } from '../src/shared/job-schema';
function deepFreeze(o: any, seen = new Set()) {
  if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) return o;
  seen.add(o);
  for (const k of Reflect.ownKeys(o)) {
    const d = Object.getOwnPropertyDescriptor(o, k)!;
    if ('value' in d) deepFreeze(d.value, seen);
  }
  return Object.freeze(o);
}
import * as z from 'zod';
deepFreeze(z);
deepFreeze(RenderJobInputSchema);
('use strict');
const r = RenderJobInputSchema.safeParse({
  version: 1,
  jobId: '6f1c1f64-3b3a-4a57-9a43-111111111111',
  jobType: 'doubt',
  priority: 'high',
  renderer: 'manim',
  payload: {},
});
console.log(r.success, r.error && describeZodError(r.error));
const r2 = RenderJobInputSchema.safeParse({ version: 2 });
console.log(r2.success, r2.error && describeZodError(r2.error));
