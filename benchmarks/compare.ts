import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { launchSettings, numberOption, parseCommandLine, sizeOptionsHelp, sizeOverrides, runCommand, UsageError } from './lib/cli.ts';
import { describeBuyers } from './lib/buyers.ts';
import { runScenarios } from './lib/driver.ts';
import { launchBaseline, launchProduct, type LaunchedSystem } from './lib/launch.ts';
import { formatMachine } from './lib/machine.ts';
import { planScenarios, type ScenarioName } from './lib/plan.ts';
import type { ScenarioResult } from './lib/report.ts';
import type { Summary } from './lib/stats.ts';

// `npm run bench:compare`: sellout and sustained against the product and both baselines, one
// system at a time on the same machine with the same workload, then the ratios. Each system
// is started for its turn and stopped after it, so none competes with another for the cores.
// The product is launched like `npm start` (or targeted at --url when one is given).

const usage = `usage: node benchmarks/compare.ts [--url URL] [--systems ticketing,pg-lock,redis-lua] [--scenarios sellout,sustained] [options]

  --url URL                 use an already running product instead of launching one
  --systems LIST            which systems, in order (ticketing,pg-lock,redis-lua)
  --scenarios LIST          sellout,sustained (both)

${sizeOptionsHelp}`;

const say = (line = '') => process.stdout.write(`${line}\n`);
const systems = ['ticketing', 'pg-lock', 'redis-lua'] as const;
type SystemName = (typeof systems)[number];
const pauseBetweenSystemsMs = 3000;

function summaryOf(result: ScenarioResult | undefined, key: string): Summary | undefined {
  const value = result?.results[key];
  return typeof value === 'object' && value !== null && 'p99' in value ? (value as Summary) : undefined;
}

function numberOf(result: ScenarioResult | undefined, key: string): number | undefined {
  const value = result?.results[key];
  return typeof value === 'number' ? value : undefined;
}

function findKey(result: ScenarioResult | undefined, prefix: string): string {
  return Object.keys(result?.results ?? {}).find((key) => key.startsWith(prefix)) ?? prefix;
}

interface Row {
  readonly metric: string;
  readonly higherIsBetter: boolean;
  readonly values: Partial<Record<SystemName, number>>;
}

function rows(results: ReadonlyMap<SystemName, ScenarioResult[]>): Row[] {
  const of = (system: SystemName, scenario: ScenarioName) => results.get(system)?.find((result) => result.scenario === scenario);
  const pick = (scenario: ScenarioName, read: (result: ScenarioResult | undefined) => number | undefined) =>
    Object.fromEntries(systems.map((system) => [system, read(of(system, scenario))]).filter(([, value]) => value !== undefined)) as Partial<Record<SystemName, number>>;
  return [
    { metric: 'sellout: decided bookings/s', higherIsBetter: true, values: pick('sellout', (r) => numberOf(r, 'decided per s (first POST → last decidedAt)')) },
    { metric: 'sellout: accepted requests/s', higherIsBetter: true, values: pick('sellout', (r) => numberOf(r, 'accepted per s (first POST → last answer)')) },
    { metric: 'sellout: accept p99 ms', higherIsBetter: false, values: pick('sellout', (r) => summaryOf(r, 'accept latency')?.p99) },
    { metric: 'sellout: end-to-end p99 ms (all, → decidedAt)', higherIsBetter: false, values: pick('sellout', (r) => summaryOf(r, 'end-to-end, all (POST → decidedAt)')?.p99) },
    { metric: 'sustained: accept p99 ms', higherIsBetter: false, values: pick('sustained', (r) => summaryOf(r, 'accept latency (from due time)')?.p99) },
    { metric: 'sustained: end-to-end p99 ms (all, → decidedAt)', higherIsBetter: false, values: pick('sustained', (r) => summaryOf(r, findKey(r, 'end-to-end, all'))?.p99) },
    { metric: 'sustained: errors', higherIsBetter: false, values: pick('sustained', (r) => numberOf(r, 'errors')) },
    { metric: 'sustained: highest rate with accept p99 ≤ target, 0 errors', higherIsBetter: true, values: pick('sustained', (r) => numberOf(r, 'highest passing rate')) },
  ];
}

function ratioTable(results: ReadonlyMap<SystemName, ScenarioResult[]>): string {
  const present = systems.filter((system) => results.has(system));
  const baselines = present.filter((system) => system !== 'ticketing');
  // Ratios are ticketing ÷ baseline: above 1× is better for rates, below 1× for latencies.
  const header = `| metric | ${present.join(' | ')} | ${baselines.map((baseline) => `ticketing ÷ ${baseline}`).join(' | ')} |`;
  const lines = [header, `|${'---|'.repeat(1 + present.length + baselines.length)}`];
  const f = (value: number | undefined) => (value === undefined ? '—' : Number.isInteger(value) || value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1));
  for (const row of rows(results)) {
    const ours = row.values.ticketing;
    const ratios = baselines.map((baseline) => {
      const theirs = row.values[baseline];
      if (ours === undefined || theirs === undefined || theirs === 0) return '—';
      return `${(ours / theirs).toFixed(2)}×`;
    });
    lines.push(`| ${row.metric} | ${present.map((system) => f(row.values[system])).join(' | ')} | ${ratios.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseCommandLine({ url: { type: 'string' }, systems: { type: 'string' }, scenarios: { type: 'string' } });
  if (values.help) {
    say(usage);
    return 0;
  }
  const chosen = (values.systems ?? systems.join(',')).split(',').map((name) => name.trim()) as SystemName[];
  for (const name of chosen) if (!systems.includes(name)) throw new UsageError(`unknown system "${name}"`);
  const scenarios = (values.scenarios ?? 'sellout,sustained').split(',').map((name) => name.trim()) as ScenarioName[];
  for (const name of scenarios) if (name !== 'sellout' && name !== 'sustained') throw new UsageError(`compare runs sellout and sustained, not "${name}"`);
  const plan = planScenarios({ smoke: values.smoke, only: 'all', overrides: sizeOverrides(values) });
  const outDir = values.out ?? fileURLToPath(new URL('./results', import.meta.url));
  const settings = launchSettings(values);
  const results = new Map<SystemName, ScenarioResult[]>();

  for (const [index, system] of chosen.entries()) {
    if (index > 0) await sleep(pauseBetweenSystemsMs);
    say(`\ncompare: ${system}`);
    let launched: LaunchedSystem | undefined;
    try {
      if (system === 'ticketing') {
        if (!values.url) launched = await launchProduct({ name: 'compare', ...settings, keepData: false, say });
      } else {
        launched = await launchBaseline({ kind: system, env: settings.env, nodeFlags: settings.nodeFlags, echoLogs: settings.echoLogs, keepData: false, say });
      }
      const url = launched?.url ?? values.url!;
      results.set(system, await runScenarios({ url, label: system, outDir, waitQuietS: numberOption('wait-quiet-s', values['wait-quiet-s']) ?? 0, say }, plan, scenarios));
    } finally {
      await launched?.stop();
    }
  }

  const machine = [...results.values()][0]?.[0]?.machine;
  const table = ratioTable(results);
  const ticketingSettings = results.get('ticketing')?.[0]?.target.settings;
  const report = [
    '## compare',
    '',
    machine ? `- machine: ${formatMachine(machine)}` : '',
    `- parameters: sellout ${plan.sellout.seats} seats, ${plan.sellout.attempts} attempts from ${describeBuyers(plan.sellout.buyers, plan.sellout.attempts)} buyers, ${plan.sellout.concurrency} in flight; sustained ${plan.sustained.rate}/s for ${plan.sustained.durationS} s${plan.sustained.search ? `, search ${plan.sustained.search.from}–${plan.sustained.search.to} by ${plan.sustained.search.step} (${plan.sustained.search.durationS} s steps)` : ''}`,
    ticketingSettings ? `- ticketing settings: ${Object.entries(ticketingSettings).map(([name, value]) => `\`${name}=${value}\``).join(', ')}` : '',
    '- pg-lock and redis-lua answer 200 with the decision once it is committed to Postgres; the ticketing service answers 202 once the command is acknowledged by Kafka (acks = all) and decides asynchronously.',
    '',
    table,
    '',
  ].join('\n');
  say();
  say(report);
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  writeFileSync(join(outDir, `${stamp}-compare.md`), report);
  writeFileSync(join(outDir, `${stamp}-compare.json`), `${JSON.stringify(Object.fromEntries(results), null, 2)}\n`);
  say(`written to ${join(outDir, `${stamp}-compare.md`)}`);
  const failures = [...results.values()].flat().flatMap((result) => result.failures.map((failure) => `${result.scenario} (${result.target.label}): ${failure}`));
  for (const failure of failures) say(`FAILURE: ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

await runCommand('compare', usage, main);
