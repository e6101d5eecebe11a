import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.ts';
import { formatMachine } from './machine.ts';
import type { CpuUse } from './processes.ts';
import type { Summary } from './stats.ts';

// A scenario's result: everything needed to reproduce it and to judge it, written as JSON
// (for tools) and Markdown (for BENCHMARK.md), and printed as it is produced.

export type Value = string | number | boolean | null | undefined | Summary | readonly string[] | Record<string, unknown>;

export interface TargetCheck {
  readonly name: string;
  readonly met: boolean;
  readonly detail: string;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly target: { readonly label: string; readonly url: string; readonly settingsSource: string; readonly settings: Readonly<Record<string, string | number>> };
  readonly machine: MachineInfo;
  readonly parameters: Readonly<Record<string, Value>>;
  readonly results: Readonly<Record<string, Value>>;
  readonly cpuSeconds?: Readonly<Record<string, number>>;
  readonly idleCpuPerS?: Readonly<Record<string, number>>;
  readonly idleMachineBusyPercent?: number | undefined;
  readonly machineCpu?: { readonly busyPercent: number | undefined; readonly stealPercent: number | undefined; readonly seconds: number; readonly untrackedSeconds: number | undefined };
  readonly cpuUsPerBooking?: Readonly<Record<string, number>>;
  // Database work per booking: Postgres transactions and rows, Redis commands.
  readonly workPerBooking?: Readonly<Record<string, number>>;
  readonly invariantViolations?: readonly string[];
  // Comparison with the issue's targets; informational, a miss is not a harness failure.
  readonly targets: readonly TargetCheck[];
  // A broken harness or a violated invariant: what makes the smoke run fail.
  readonly failures: readonly string[];
  readonly notes: readonly string[];
}

function isSummary(value: unknown): value is Summary {
  return typeof value === 'object' && value !== null && 'p99' in value && 'count' in value;
}

export function formatValue(value: Value): string {
  if (value === undefined || value === null) return '—';
  if (isSummary(value)) {
    if (value.count === 0) return 'no samples';
    const f = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1));
    return `p50 ${f(value.p50)} · p95 ${f(value.p95)} · p99 ${f(value.p99)} · max ${f(value.max)} ms (n=${value.count})`;
  }
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join('; ');
  if (typeof value === 'object') return Object.entries(value).map(([key, item]) => `${key}: ${item as string}`).join(', ');
  if (typeof value === 'number') return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toLocaleString('en-US', { maximumFractionDigits: 1 });
  return String(value);
}

export function printResult(result: ScenarioResult, say: (line?: string) => void): void {
  say();
  say(`== ${result.scenario} against ${result.target.label} (${result.target.url}) ==`);
  say(`machine: ${formatMachine(result.machine)}`);
  say(`settings (${result.target.settingsSource}):`);
  for (const [name, value] of Object.entries(result.target.settings)) say(`  ${name} = ${value}`);
  say('parameters:');
  for (const [name, value] of Object.entries(result.parameters)) say(`  ${name} = ${formatValue(value)}`);
  say('results:');
  for (const [name, value] of Object.entries(result.results)) say(`  ${name}: ${formatValue(value)}`);
  if (result.cpuSeconds) say(`  CPU seconds: ${formatValue(result.cpuSeconds)}`);
  if (result.idleCpuPerS) say(`  idle CPU seconds per second: ${formatValue(result.idleCpuPerS)}`);
  if (result.machineCpu) say(`  machine CPU: ${formatMachineCpu(result.machineCpu)}; other work used ${result.idleMachineBusyPercent ?? '?'}% of the machine just before the load`);
  if (result.cpuUsPerBooking) say(`  CPU µs per booking (net of idle): ${formatValue(result.cpuUsPerBooking)}`);
  if (result.workPerBooking) say(`  database work per booking: ${formatValue(result.workPerBooking)}`);
  if (result.invariantViolations) say(`  invariants: ${result.invariantViolations.length === 0 ? 'all hold' : result.invariantViolations.join('; ')}`);
  for (const check of result.targets) say(`  target ${check.met ? 'MET   ' : 'MISSED'} ${check.name}: ${check.detail}`);
  for (const note of result.notes) say(`  note: ${note}`);
  for (const failure of result.failures) say(`  FAILURE: ${failure}`);
}

export function toMarkdown(result: ScenarioResult): string {
  const lines: string[] = [];
  lines.push(`### ${result.scenario} — ${result.target.label}`, '');
  lines.push(`- machine: ${formatMachine(result.machine)}`);
  lines.push(`- target: ${result.target.url}; settings from ${result.target.settingsSource}: ${Object.entries(result.target.settings).map(([name, value]) => `\`${name}=${value}\``).join(', ')}`);
  lines.push(`- parameters: ${Object.entries(result.parameters).map(([name, value]) => `${name} ${formatValue(value)}`).join(', ')}`, '');
  lines.push('| result | value |', '|---|---|');
  for (const [name, value] of Object.entries(result.results)) lines.push(`| ${name} | ${formatValue(value)} |`);
  if (result.cpuSeconds) lines.push(`| CPU seconds | ${formatValue(result.cpuSeconds)} |`);
  if (result.idleCpuPerS) lines.push(`| idle CPU seconds per second | ${formatValue(result.idleCpuPerS)} |`);
  if (result.machineCpu) lines.push(`| machine CPU | ${formatMachineCpu(result.machineCpu)}; other work used ${result.idleMachineBusyPercent ?? '?'}% of the machine just before the load |`);
  if (result.cpuUsPerBooking) lines.push(`| CPU µs per booking (net of idle) | ${formatValue(result.cpuUsPerBooking)} |`);
  if (result.workPerBooking) lines.push(`| database work per booking | ${formatValue(result.workPerBooking)} |`);
  if (result.invariantViolations) lines.push(`| invariants | ${result.invariantViolations.length === 0 ? 'all hold' : result.invariantViolations.join('; ')} |`);
  for (const check of result.targets) lines.push(`| target: ${check.name} | ${check.met ? 'met' : '**missed**'}: ${check.detail} |`);
  lines.push('');
  for (const note of result.notes) lines.push(`- note: ${note}`);
  for (const failure of result.failures) lines.push(`- **failure**: ${failure}`);
  return `${lines.join('\n')}\n`;
}

export function writeResults(outDir: string, name: string, results: readonly ScenarioResult[]): { json: string; markdown: string } {
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const base = join(outDir, `${stamp}-${name}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, results.map(toMarkdown).join('\n'));
  return { json: `${base}.json`, markdown: `${base}.md` };
}

// CPU per booking, net of what each process burns idle (measured before the run: the
// consumer's fetch loop, heartbeats, timers), so low-rate runs are not dominated by idling.
function formatMachineCpu(cpu: NonNullable<ScenarioResult['machineCpu']>): string {
  return `${cpu.busyPercent ?? '?'}% of all cores busy over ${cpu.seconds.toFixed(1)} s (steal ${cpu.stealPercent ?? '?'}%); ${cpu.untrackedSeconds ?? '?'} CPU s outside the measured processes (kernel, other processes)`;
}

export function machineCpuOf(use: CpuUse): NonNullable<ScenarioResult['machineCpu']> {
  const tracked = Object.values(use.seconds).reduce((sum, seconds) => sum + seconds, 0);
  return {
    busyPercent: use.machineBusyPercent,
    stealPercent: use.machineStealPercent,
    seconds: Math.round(use.elapsedS * 10) / 10,
    untrackedSeconds: use.machineBusySeconds === undefined ? undefined : Math.round((use.machineBusySeconds - tracked) * 100) / 100,
  };
}

export function perBooking(use: CpuUse, idlePerS: Readonly<Record<string, number>>, bookings: number): Record<string, number> {
  const perBookingUs: Record<string, number> = {};
  if (bookings === 0) return perBookingUs;
  for (const [name, seconds] of Object.entries(use.seconds)) {
    const net = Math.max(0, seconds - (idlePerS[name] ?? 0) * use.elapsedS);
    perBookingUs[name] = Math.round((net * 1e6) / bookings);
  }
  return perBookingUs;
}
