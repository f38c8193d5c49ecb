/**
 * The least a durable render job can be on Temporal, for bench/sdk-costs.ts's floor probes: no
 * admission, no read model, no renderer; activities that return at once. What these cost is the
 * SDK's and the server's price for a job's workflow tasks, whatever the job's code does.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface FloorActivities {
  floorStep(): Promise<void>;
}

const { floorStep } = proxyActivities<FloorActivities>({ startToCloseTimeout: '30s' });

/** One activity: two workflow tasks (start, the activity's result). */
export async function floorOneStep(): Promise<void> {
  await floorStep();
}

/**
 * Two activities in turn: three workflow tasks, the fewest a job that waits for admission's grant
 * in its workflow can take (start, the grant, the render's result).
 */
export async function floorThreeTasks(): Promise<void> {
  await floorStep();
  await floorStep();
}

/**
 * Three activities in turn: four workflow tasks, as many as a job of this project takes (start,
 * entering the queue, the grant, the render's result), without admission's share.
 */
export async function floorFourTasks(): Promise<void> {
  await floorStep();
  await floorStep();
  await floorStep();
}
