/**
 * Stands in for the admission workflow in bench/admin-page.ts: answers the snapshot query with a
 * queue given as input (10,000 waiting jobs), so the benchmark pays the real query path (client,
 * server, worker, back) without 10,000 job workflows behind it.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { admissionSnapshotQuery } from '../../src/shared/admission-messages';
import type { AdmissionSnapshot } from '../../src/shared/admission-messages';

export async function admissionSnapshotStub(snapshot: AdmissionSnapshot): Promise<void> {
  setHandler(admissionSnapshotQuery, () => snapshot);
  await condition(() => false);
}
