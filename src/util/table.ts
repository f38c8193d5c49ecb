/** Plain-text tables that stay readable at 80 columns. */
export function table(
  headers: string[],
  rows: Array<Array<string | number | null | undefined>>,
  maxWidth = 80,
): string {
  const cells = [
    headers,
    ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  // Shrink the widest column until the table fits.
  const total = () => widths.reduce((a, b) => a + b, 0) + (widths.length - 1) * 2;
  while (total() > maxWidth) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest]! <= 6) break;
    widths[widest]! -= 1;
  }
  const fit = (text: string, width: number) =>
    text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
  return cells
    .map((row) =>
      row
        .map((cell, i) => fit(cell ?? '', widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** Time left until an ISO timestamp (an estimated start), as `duration` shows it; `-` when unknown. */
export function untilTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  return duration(Math.max(0, (Date.parse(iso) - now) / 1000));
}
