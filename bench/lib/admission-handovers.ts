/** Admission's continue-as-new handovers as a scenario's note shows them. */
import type { AdmissionHandover } from '../systems/types';

/** What admission's continue-as-new cost while these jobs ran (docs/ARCHITECTURE.md, Continue-as-new). */
export function handoverNote(handovers: readonly AdmissionHandover[]): string {
  if (handovers.length === 0) return 'admission did not continue as new';
  const raced = handovers.filter((h) => h.raced).length;
  const max = (key: 'closingMs' | 'longestTaskMs') => Math.max(...handovers.map((h) => h[key]));
  return (
    `admission continued as new ${handovers.length} times (${raced} raced by a signal, its run replayed); ` +
    `the longest took ${max('closingMs')} ms to close, its longest workflow task ${max('longestTaskMs')} ms`
  );
}
