import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchSettings, parseCommandLine, sizeOptionsHelp, sizeOverrides, runCommand } from './lib/cli.ts';
import { runScenarios } from './lib/driver.ts';
import { launchBaseline, launchProduct, type LaunchedSystem } from './lib/launch.ts';
import { planScenarios, scenarioNames } from './lib/plan.ts';
import type { ScenarioResult } from './lib/report.ts';

// `npm run bench:smoke` (CI): starts the whole system the way `npm start` does — on its own
// database, Redis prefix and Kafka mock — runs the three scenarios at small size, then a
// small sellout against each baseline, and stops everything. Exits non-zero when the harness
// breaks or an invariant fails; performance targets are reported, never enforced here.

const say = (line = '') => process.stdout.write(`${line}\n`);
const smokeBudgetS = 60;

async function withSystem(launch: () => Promise<LaunchedSystem>, run: (system: LaunchedSystem) => Promise<ScenarioResult[]>): Promise<ScenarioResult[]> {
  const system = await launch();
  try {
    return await run(system);
  } finally {
    await system.stop();
  }
}

const usage = `usage: node benchmarks/smoke.ts [--skip-baselines] [options]\n\n${sizeOptionsHelp}`;

async function main(): Promise<number> {
  const { values } = parseCommandLine({ 'skip-baselines': { type: 'boolean', default: false } });
  if (values.help) {
    say(usage);
    return 0;
  }
  const startedAt = performance.now();
  const plan = planScenarios({ smoke: true, only: 'all', overrides: sizeOverrides(values) });
  // Smoke results are not benchmark results: they go to a temporary directory unless asked.
  const outDir = values.out ?? mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  const settings = launchSettings(values);
  const results: ScenarioResult[] = [];

  say(`smoke: launching the product (${settings.partitions} partitions, ${settings.reservationInstances} reservation process(es))`);
  results.push(...await withSystem(
    () => launchProduct({ name: 'smoke', ...settings, keepData: false, say }),
    (system) => runScenarios({ url: system.url, outDir, say }, plan, scenarioNames),
  ));
  if (!values['skip-baselines']) {
    for (const kind of ['pg-lock', 'redis-lua'] as const) {
      say(`smoke: launching the ${kind} baseline`);
      results.push(...await withSystem(
        () => launchBaseline({ kind, env: {}, nodeFlags: [], echoLogs: settings.echoLogs, keepData: false, say }),
        (system) => runScenarios({ url: system.url, outDir, say }, { ...plan, sellout: { ...plan.sellout, sseSample: 5 } }, ['sellout']),
      ));
    }
  }

  const elapsedS = (performance.now() - startedAt) / 1000;
  const failures = results.flatMap((result) => result.failures.map((failure) => `${result.scenario} (${result.target.label}): ${failure}`));
  say();
  say(`smoke: ${results.length} results in ${elapsedS.toFixed(1)} s (budget ${smokeBudgetS} s); results in ${outDir}`);
  if (elapsedS > smokeBudgetS) say(`smoke: WARNING: over the ${smokeBudgetS} s budget`);
  if (failures.length > 0) {
    say(`smoke: ${failures.length} failure(s):`);
    for (const failure of failures) say(`  ${failure}`);
    return 1;
  }
  say('smoke: the harness works and every invariant holds');
  return 0;
}

await runCommand('smoke', usage, main);
