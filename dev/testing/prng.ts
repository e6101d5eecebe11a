// mulberry32: a 32-bit seeded generator, small and fast, good enough for test workloads. The
// simulation, the fuzzer, the benchmark workloads and the randomised seat-finder tests draw every
// choice from here, so a seed replays the same run exactly.

export interface Prng {
  // Uniform in [0, 1).
  next(): number;
  // Uniform integer in [0, count).
  below(count: number): number;
  // Uniform integer in [min, max].
  between(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const below = (count: number) => Math.floor(next() * count);
  return {
    next,
    below,
    between: (min, max) => min + below(max - min + 1),
    chance: (probability) => next() < probability,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[below(items.length)]!;
    },
  };
}
