import { TIME_SKIPPING_ADMISSION, timeSkippingEnv } from '../helpers/temporal';
import { startStack } from '../helpers/stack';
import { admissionSnapshotQuery } from '../../src/shared/admission-messages';
test('query admission on time-skipping', async () => {
  const env = await timeSkippingEnv();
  const stack = await startStack(env, { admissionOptions: TIME_SKIPPING_ADMISSION });
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    try {
      const s = await env.client.workflow.getHandle('render-queue-admission').query(admissionSnapshotQuery);
      console.log('ok', Date.now() - t0, s.version);
    } catch (e) { console.log('err', Date.now() - t0, String(e).slice(0, 300)); }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const d = await env.client.workflow.getHandle('render-queue-admission').describe();
  console.log(JSON.stringify(d.raw.pendingActivities?.map(a => [a.activityType?.name, a.state, a.attempt])));
  await stack.close();
  await env.teardown();
}, 120000);
