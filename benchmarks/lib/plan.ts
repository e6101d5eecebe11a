import type { FanoutParameters } from '../scenarios/fanout.ts';
import type { BuyerPolicy } from './buyers.ts';
import type { SelloutParameters } from '../scenarios/sellout.ts';
import type { SustainedParameters } from '../scenarios/sustained.ts';

// Scenario sizes: issue 7's defaults, the smoke sizes (all three in well under a minute on two
// cores, the system's start-up included), and command-line overrides on top of either.

export type ScenarioName = 'sellout' | 'sustained' | 'fanout';
export const scenarioNames: readonly ScenarioName[] = ['sellout', 'sustained', 'fanout'];

export interface SizeOverrides {
  readonly seats?: number;
  readonly attempts?: number;
  readonly users?: number;
  readonly attemptsPerBuyer?: number;
  readonly concurrency?: number;
  readonly rate?: number;
  readonly durationS?: number;
  readonly clients?: number;
  readonly subsectionSeats?: number;
  readonly manualShare?: number;
  readonly sseSample?: number;
  readonly seed?: number;
  readonly connections?: number;
  readonly search?: boolean;
  readonly searchFrom?: number;
  readonly searchStep?: number;
  readonly searchTo?: number;
  readonly searchDurationS?: number;
  readonly acceptP99TargetMs?: number;
  readonly fanoutRate?: number;
  readonly fanoutDurationS?: number;
  readonly fanoutSeats?: number;
  readonly subsectionsPerClient?: number;
  readonly connectPerS?: number;
  readonly invariants?: boolean;
  readonly eventSeats?: number;
}

export interface ScenarioPlan {
  readonly sellout: SelloutParameters;
  readonly sustained: SustainedParameters;
  readonly fanout: FanoutParameters;
  // Pool connections for the request generator.
  readonly connections: number;
}

const decideTimeoutMs = 180_000;

export function planScenarios(options: { smoke: boolean; only: ScenarioName | 'all'; overrides: SizeOverrides }): ScenarioPlan {
  const o = options.overrides;
  const smoke = options.smoke;
  // With one scenario, --seats/--rate/--duration-s mean that scenario's; with `all` the
  // fan-out has its own (--fanout-*), because its event must outlast its bookings.
  const fanoutOwn = options.only === 'fanout';
  const seats = o.seats ?? (smoke ? 1000 : 20_000);
  const buyers: BuyerPolicy = { attemptsPerBuyer: o.attemptsPerBuyer ?? 2, users: o.users };
  const concurrency = o.concurrency ?? (smoke ? 200 : 2000);
  const seed = o.seed ?? 1;
  const subsectionSeats = o.subsectionSeats ?? (smoke ? 200 : 1000);
  const sellout: SelloutParameters = {
    seats,
    attempts: o.attempts ?? 2 * seats,
    buyers,
    concurrency,
    subsectionSeats,
    manualShare: o.manualShare ?? 0.05,
    singlesShare: 0.1,
    sseSample: o.sseSample ?? (smoke ? 20 : 200),
    seed,
    decideTimeoutMs,
  };
  const sustained: SustainedParameters = {
    rate: o.rate ?? (smoke ? 200 : 2000),
    durationS: o.durationS ?? (smoke ? 4 : 60),
    buyers,
    subsectionSeats,
    manualShare: o.manualShare ?? 0.05,
    sseSample: o.sseSample ?? (smoke ? 20 : 200),
    seed,
    connections: o.connections ?? 256,
    inFlightMax: 20_000,
    acceptP99TargetMs: o.acceptP99TargetMs ?? 50,
    search: (o.search ?? true)
      ? {
        from: o.searchFrom ?? (smoke ? 200 : 1000),
        step: o.searchStep ?? (smoke ? 200 : 1000),
        to: o.searchTo ?? (smoke ? 400 : 16_000),
        durationS: o.searchDurationS ?? (smoke ? 2 : 10),
      }
      : undefined,
    decideTimeoutMs,
    checkInvariants: o.invariants ?? true,
    eventSeats: o.eventSeats,
  };
  const fanout: FanoutParameters = {
    clients: o.clients ?? (smoke ? 200 : 10_000),
    rate: (fanoutOwn ? o.rate : undefined) ?? o.fanoutRate ?? (smoke ? 100 : 1000),
    durationS: (fanoutOwn ? o.durationS : undefined) ?? o.fanoutDurationS ?? (smoke ? 3 : 15),
    seats: (fanoutOwn ? o.seats : undefined) ?? o.fanoutSeats ?? (smoke ? 5000 : 50_000),
    subsectionSeats,
    subsectionsPerClient: o.subsectionsPerClient ?? 0,
    connectPerS: o.connectPerS ?? (smoke ? 1000 : 2000),
    buyers,
    seed,
    connections: o.connections ?? 256,
    decideTimeoutMs,
  };
  return { sellout, sustained, fanout, connections: Math.max(concurrency, o.connections ?? 256) };
}
