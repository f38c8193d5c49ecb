/** What every command gets: its arguments, an output, and lazy connections. */
import type { Client } from '@temporalio/client';
import type { JobStore } from '../store/job-store';
import type { Output } from './io';

export interface CommandContext {
  args: string[];
  out: Output;
  /** Connects to Temporal on first use. */
  client: () => Promise<Client>;
  /** Opens the read model on first use (DATABASE_URL or SUPABASE_URL must be set). */
  store: () => Promise<JobStore>;
  /** Whether a shared database is configured (DATABASE_URL or SUPABASE_URL). */
  hasStore: () => boolean;
  /** The clock `capacity` reads peak hours by (tests set it); `watch` waits in real time. */
  now?: () => Date;
  isTTY?: boolean;
}
