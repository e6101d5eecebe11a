// The one clock of a simulated world: the deciders, the sweeper, the payment worker and the
// provider all read it, and only the scheduler moves it (forward, never back).

export interface SimClock {
  now(): number;
  advance(deltaMs: number): void;
}

export function createSimClock(startMs: number): SimClock {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance(deltaMs) {
      if (!(deltaMs >= 0)) throw new RangeError(`the clock only moves forward (${deltaMs} ms)`);
      nowMs += deltaMs;
    },
  };
}
