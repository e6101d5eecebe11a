import { appendFileSync } from 'node:fs';

// Fault scenarios record what they measured; `npm run chaos` collects the records into the
// table docs/RELIABILITY.md is written from. Outside a chaos run nothing is written.
export interface ScenarioRecord {
  readonly scenario: string;
  readonly injected: string;
  readonly attempted: number;
  readonly accepted: number;
  readonly lost: number;
  readonly doubleSold: number;
  // From the fault's end to every accepted booking decided (or to the state being whole again).
  readonly recoveryMs: number;
  readonly notes?: string;
}

export function recordScenario(record: ScenarioRecord): void {
  const file = process.env.CHAOS_REPORT_FILE;
  if (file) appendFileSync(file, `${JSON.stringify(record)}\n`);
}
