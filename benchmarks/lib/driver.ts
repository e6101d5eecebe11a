import { runFanout } from '../scenarios/fanout.ts';
import { runSellout } from '../scenarios/sellout.ts';
import { runSustained } from '../scenarios/sustained.ts';
import { createRunContext } from './context.ts';
import { formatMachine } from './machine.ts';
import type { ScenarioName, ScenarioPlan } from './plan.ts';
import { waitForQuietMachine } from './processes.ts';
import { printResult, writeResults, type ScenarioResult } from './report.ts';

// Runs scenarios against one target, printing each result as it is produced and writing it
// to the results directory at once, so a later scenario that breaks loses nothing earlier.

export interface DriverOptions {
  readonly url: string;
  readonly pid?: number;
  readonly jwtSecret?: string;
  readonly databaseUrl?: string;
  readonly settings?: Record<string, string>;
  readonly label?: string;
  readonly outDir: string;
  // Wait (up to this long) for the machine to be quiet before each scenario; 0 = do not wait.
  readonly waitQuietS?: number;
  readonly say: (line?: string) => void;
}

// Work other than the target's, as a share of the whole machine, tolerated at the start.
const quietBusyPercentMax = 10;

export async function runScenarios(options: DriverOptions, plan: ScenarioPlan, scenarios: readonly ScenarioName[]): Promise<ScenarioResult[]> {
  const { say } = options;
  const context = await createRunContext({ ...options, connections: plan.connections });
  const label = options.label ?? context.target.label;
  say(`target ${context.target.url}: ${context.target.kind}${context.target.servicePid === undefined ? '' : ` (pid ${context.target.servicePid})`}`);
  say(`machine: ${formatMachine(context.machine)}`);
  say(`settings (${context.target.settingsSource}):`);
  for (const [name, value] of Object.entries(context.target.settings)) say(`  ${name} = ${value}`);
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      if (options.waitQuietS) {
        await waitForQuietMachine({
          groups: context.target.cpuGroups,
          busyPercentMax: quietBusyPercentMax,
          windowMs: 3000,
          timeoutMs: options.waitQuietS * 1000,
          onWait: (other) => say(`waiting for a quiet machine: other work uses ${other}% of it`),
        });
      }
      await context.measureIdle();
      const produced = scenario === 'sellout'
        ? [await runSellout(context, plan.sellout)]
        : scenario === 'sustained' ? await runSustained(context, plan.sustained) : [await runFanout(context, plan.fanout)];
      for (const result of produced) {
        const labelled = { ...result, target: { ...result.target, label } };
        printResult(labelled, say);
        const written = writeResults(options.outDir, `${scenario}-${label}`, [labelled]);
        say(`  written to ${written.json} and ${written.markdown}`);
        results.push(labelled);
      }
    }
  } finally {
    await context.close();
  }
  return results;
}
