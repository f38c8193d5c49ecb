/** Test-only workflow: runs one `hold` activity on the task queue it is given. */
import { proxyActivities } from '@temporalio/workflow';

export interface LimiterTestActivities {
  hold(label: string): Promise<void>;
}

export async function runOneActivity(taskQueue: string, label: string): Promise<void> {
  const { hold } = proxyActivities<LimiterTestActivities>({
    taskQueue,
    // Generous: activities may wait for a slot behind the others; a stuck test fails on the jest timeout.
    scheduleToCloseTimeout: '2 minutes',
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 1 },
  });
  await hold(label);
}
