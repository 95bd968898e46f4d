/** Just enough PromQL reading for tests: which metric names an expression references. */

/** Metric names in a PromQL expression: identifiers not followed by `(` and not keywords, label names or durations. */
export function metricNames(expr: string): string[] {
  const withoutStrings = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    // numbers and durations (`5m`, `1e3`, `0.5`): not metric names
    .replace(/\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-z]*\b/g, '0');
  const withoutGrouping = withoutStrings.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'inf', 'nan']);
  const out = new Set<string>();
  for (const m of withoutGrouping.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\(?))/g)) {
    if (m[1] === '(' || keywords.has(m[0].toLowerCase())) continue;
    out.add(m[0]);
  }
  return [...out];
}

/** Every series name a registry exposes (histograms and summaries add their `_bucket`, `_sum`, `_count` series). */
export function seriesNames(metrics: readonly { name: string; type: unknown }[]): Set<string> {
  const out = new Set<string>();
  for (const m of metrics) {
    out.add(m.name);
    if (String(m.type) === 'histogram' || String(m.type) === 'summary') for (const s of ['_bucket', '_sum', '_count']) out.add(`${m.name}${s}`);
  }
  return out;
}
