// Percentiles for benchmark results. Exact (sort everything) where the sample fits in memory;
// a fixed-resolution histogram where it does not (fan-out lag: clients × frames × changes).

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export const emptySummary: Summary = Object.freeze({ count: 0, min: NaN, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN });

// Nearest rank on sorted values: the smallest value with at least p of the sample at or below it.
function rank(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(values: ArrayLike<number>): Summary {
  if (values.length === 0) return emptySummary;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    min: sorted[0]!,
    mean: sum / sorted.length,
    p50: rank(sorted, 0.5),
    p95: rank(sorted, 0.95),
    p99: rank(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
  };
}

// A growable Float64Array: per-request timings without a JS object per sample.
export interface Samples {
  push(value: number): void;
  readonly length: number;
  values(): Float64Array;
}

export function createSamples(initialCapacity = 1024): Samples {
  let buffer = new Float64Array(Math.max(16, initialCapacity));
  let length = 0;
  return {
    push(value) {
      if (length === buffer.length) {
        const grown = new Float64Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      buffer[length++] = value;
    },
    get length() {
      return length;
    },
    values: () => buffer.subarray(0, length),
  };
}

// Weighted samples in buckets of `resolutionMs`; values beyond `rangeMs` land in the last
// bucket and are still counted in max. Negative values (clock skew, rounding of decidedAt to
// whole milliseconds) are clamped to 0 and counted.
export interface Histogram {
  add(valueMs: number, weight?: number): void;
  summary(): Summary & { readonly negative: number };
}

export function createHistogram(options: { resolutionMs: number; rangeMs: number }): Histogram {
  const buckets = new Float64Array(Math.ceil(options.rangeMs / options.resolutionMs) + 1);
  let total = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let negative = 0;
  return {
    add(valueMs, weight = 1) {
      if (valueMs < 0) negative += weight;
      const clamped = Math.max(0, valueMs);
      const index = Math.min(buckets.length - 1, Math.floor(clamped / options.resolutionMs));
      buckets[index]! += weight;
      total += weight;
      sum += clamped * weight;
      if (clamped < min) min = clamped;
      if (clamped > max) max = clamped;
    },
    summary() {
      if (total === 0) return { ...emptySummary, negative };
      const at = (p: number) => {
        const target = p * total;
        let seen = 0;
        for (let index = 0; index < buckets.length; index++) {
          seen += buckets[index]!;
          if (seen >= target) return Math.min(max, (index + 1) * options.resolutionMs);
        }
        return max;
      };
      return { count: Math.round(total), min, mean: sum / total, p50: at(0.5), p95: at(0.95), p99: at(0.99), max, negative: Math.round(negative) };
    },
  };
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function roundSummary(summary: Summary, digits = 1): Summary {
  return Object.fromEntries(Object.entries(summary).map(([key, value]) => [key, key === 'count' ? value : round(value as number, digits)])) as unknown as Summary;
}

export function formatSummary(summary: Summary, unit = 'ms'): string {
  if (summary.count === 0) return 'no samples';
  const f = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
  return `p50 ${f(summary.p50)} / p95 ${f(summary.p95)} / p99 ${f(summary.p99)} / max ${f(summary.max)} ${unit} (n=${summary.count})`;
}
