export interface BenchRow {
  backend: string;
  cache: string;
  precision: string;
  median_ms: number;
  mean_ms: number;
  tokens_per_s: number;
  ttft_ms: number;
  decode_p50_ms: number;
  decode_p90_ms: number;
  lowering_ms: number;
  ratio_to_baseline: number;
}

/** The benchmark table `run --benchmark` prints (ratio = baseline median / this median: > 1 is faster). */
export function runTable(rows: readonly BenchRow[]): string {
  const head = ['backend', 'cache', 'precision', 'median ms', 'mean ms', 'tok/s', 'TTFT ms', 'decode p50', 'decode p90', 'lower ms', 'vs baseline'];
  const body = rows.map((r) => [
    r.backend, r.cache, r.precision, r.median_ms.toFixed(1), r.mean_ms.toFixed(1), r.tokens_per_s.toFixed(1), r.ttft_ms.toFixed(2),
    r.decode_p50_ms.toFixed(2), r.decode_p90_ms.toFixed(2), r.lowering_ms.toFixed(0), `${r.ratio_to_baseline.toFixed(2)}×`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
