/** What one intake batch reports: to the safety sweep's workflow, and row by row to whoever runs it. */

export interface IntakeBatchResult {
  /** Rows claimed by this batch. */
  claimed: number;
  /** Workflows started by this batch. */
  started: number;
  /** Rows whose workflow already existed (a crashed intake run, or a duplicate start): nothing new started. */
  alreadyRunning: number;
  /** Rows failed as invalid. */
  rejected: number;
}

export interface IntakeRowEvent {
  jobId: string;
  outcome: 'started' | 'already-running' | 'rejected';
  workflowId?: string;
  reason?: string;
}
