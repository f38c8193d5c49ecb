/**
 * The JobStore contract (job-store.contract.ts) against the direct adapter, on every available
 * database: PGlite always, PostgreSQL when it answers.
 */
import { dbTargets } from '../../dev/db';
import { jobStoreContract } from './job-store.contract';

for (const target of dbTargets()) jobStoreContract(target.name, () => target.open());
