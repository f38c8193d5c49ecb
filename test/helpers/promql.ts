/**
 * Metric names a PromQL expression reads, without a PromQL parser: enough for the expressions of
 * docs/alerts.yml and the Grafana dashboard, and strict in the direction that matters (a name it
 * misses is a check skipped, so the unit tests pin every construct those files use).
 */

/** Words that read like identifiers but are not metric names. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

/** Grouping and vector-matching modifiers with their label lists, dropped so `sum by (x) (` reads as a call. */
const LABEL_LIST = /\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g;

export function metricNames(expr: string): string[] {
  const code = expr
    // Strings (label values, regexes) can hold anything, names included.
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    // Matchers name labels, not metrics; the selector's name stays in front of the `{`.
    .replace(/\{[^{}]*\}/g, '{}')
    // Ranges, subqueries and Grafana's [$__rate_interval].
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(LABEL_LIST, ' ')
    // Grafana template variables and durations or numbers (5m, 0.95, 1e3).
    .replace(/\$\w+|\$\{[^}]*\}/g, ' ')
    .replace(/\b\d[\w.]*/g, ' ');
  const names: string[] = [];
  for (const match of code.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = code.slice(match.index + word.length).trimStart();
    // A word called like a function is a function or an aggregation (rate, sum, histogram_quantile).
    if (after.startsWith('(') || KEYWORDS.has(word.toLowerCase())) continue;
    if (!names.includes(word)) names.push(word);
  }
  return names;
}

/** The metric a series name belongs to: histograms and summaries are exposed as _bucket/_sum/_count. */
export function baseMetricName(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, '');
}
