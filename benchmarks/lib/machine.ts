import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

// Where a result was measured: every result file carries this, so numbers from different
// commits, machines or loads are never compared by accident.

export interface MachineInfo {
  readonly commit: string;
  readonly dirty: boolean;
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly platform: string;
  readonly node: string;
  readonly loadAverage: readonly number[];
  readonly startedAt: string;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

// A copy of the repository made with `git archive` has no .git; whoever made it writes the
// commit into .bench-source (see BENCHMARK.md, "Measuring a fixed commit").
function sourceOfCopy(): string | undefined {
  try {
    return readFileSync(`${root}.bench-source`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  const commit = git(['rev-parse', '--short', 'HEAD']);
  return {
    commit: commit || sourceOfCopy() || 'unknown',
    // Uncommitted changes outside benchmarks/ change what is measured; say so.
    dirty: commit !== '' && git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!benchmarks', ':!BENCHMARK.md']) !== '',
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
    startedAt: new Date().toISOString(),
  };
}

export function formatMachine(machine: MachineInfo): string {
  return `commit ${machine.commit}${machine.dirty ? ' (+uncommitted changes)' : ''}; ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}; Node ${machine.node}; load ${machine.loadAverage.join(' ')}`;
}
