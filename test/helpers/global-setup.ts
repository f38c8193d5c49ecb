/** Runs once before the suite: nothing to start; each test file starts the servers it needs. */
export default async function globalSetup(): Promise<void> {
  process.env.RENDER_QUEUE_TEST = '1';
}
