import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus } from 'node:os';

// Linux /proc readers for the processes under test: which pid listens on a port, its
// environment (the settings it really runs with), its memory and its CPU time. They work for
// processes on this machine that this user may inspect (root, or the same user); for a remote
// target every function answers "unknown" and the runner says so.

const clockTicksPerS = 100; // USER_HZ; `getconf CLK_TCK` is 100 on every Linux we run on

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function listenInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (read(table) ?? '').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      // st 0A is LISTEN
      if (!local || fields[3] !== '0A') continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(fields[9]!);
    }
  }
  return inodes;
}

function pids(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

export function pidListeningOn(port: number): number | undefined {
  const inodes = listenInodes(port);
  if (inodes.size === 0) return undefined;
  for (const pid of pids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match && inodes.has(match[1]!)) return pid;
    }
  }
  return undefined;
}

export function pidsByCommand(predicate: (comm: string, cmdline: string) => boolean): number[] {
  const found: number[] = [];
  for (const pid of pids()) {
    const comm = read(`/proc/${pid}/comm`)?.trim();
    if (comm === undefined) continue;
    const cmdline = (read(`/proc/${pid}/cmdline`) ?? '').replaceAll('\0', ' ').trim();
    if (predicate(comm, cmdline)) found.push(pid);
  }
  return found;
}

export function environOf(pid: number): Record<string, string> | undefined {
  const raw = read(`/proc/${pid}/environ`);
  if (raw === undefined) return undefined;
  const env: Record<string, string> = {};
  for (const entry of raw.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return env;
}

export function cmdlineOf(pid: number): string | undefined {
  return read(`/proc/${pid}/cmdline`)?.replaceAll('\0', ' ').trim();
}

export function rssBytesOf(pid: number): number | undefined {
  const match = /VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? '');
  return match ? Number(match[1]) * 1024 : undefined;
}

// User + system CPU seconds the process has used so far.
export function cpuSecondsOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerS;
}

// CPU time of named groups of processes between two instants: "where the time goes" per
// process, without a profiler. Groups are resolved when measuring starts; processes that
// start later (a new Postgres backend) are picked up by the resolver at the end.
export interface CpuGroup {
  readonly name: string;
  pids(): number[];
}

export interface CpuUse {
  readonly seconds: Record<string, number>;
  readonly elapsedS: number;
  // Share of all cores busy over the interval (user + system + interrupts), from /proc/stat:
  // 100 means the machine was saturated, whoever used it.
  readonly machineBusyPercent: number | undefined;
  readonly machineStealPercent: number | undefined;
  // Busy CPU seconds of the whole machine, to compare with the processes measured.
  readonly machineBusySeconds: number | undefined;
}

function machineTicks(): { busy: number; steal: number; total: number } | undefined {
  const line = read('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq!;
  return { busy, steal: steal ?? 0, total: busy + idle! + iowait! + (steal ?? 0) };
}

export interface CpuMeter {
  stop(): CpuUse;
}

export function startCpuMeter(groups: readonly CpuGroup[]): CpuMeter {
  const startedAt = new Map<string, Map<number, number>>();
  const startedAtMs = performance.now();
  const machineBefore = machineTicks();
  for (const group of groups) {
    startedAt.set(group.name, new Map(group.pids().map((pid) => [pid, cpuSecondsOf(pid) ?? 0])));
  }
  return {
    stop() {
      const used: Record<string, number> = {};
      for (const group of groups) {
        const before = startedAt.get(group.name)!;
        let seconds = 0;
        for (const pid of new Set([...before.keys(), ...group.pids()])) {
          const now = cpuSecondsOf(pid);
          // An exited process keeps what it used, which we cannot read any more: count 0.
          if (now !== undefined) seconds += now - (before.get(pid) ?? 0);
        }
        used[group.name] = Math.round(seconds * 100) / 100;
      }
      const machineAfter = machineTicks();
      const total = machineBefore && machineAfter ? machineAfter.total - machineBefore.total : 0;
      return {
        seconds: used,
        elapsedS: (performance.now() - startedAtMs) / 1000,
        machineBusyPercent: total > 0 ? Math.round(((machineAfter!.busy - machineBefore!.busy) / total) * 1000) / 10 : undefined,
        machineStealPercent: total > 0 ? Math.round(((machineAfter!.steal - machineBefore!.steal) / total) * 1000) / 10 : undefined,
        machineBusySeconds: total > 0 ? Math.round(machineAfter!.busy - machineBefore!.busy) / clockTicksPerS : undefined,
      };
    },
  };
}

// Peak and last RSS of one process, sampled every `intervalMs`.
export interface RssSampler {
  readonly peakBytes: number;
  readonly lastBytes: number;
  stop(): void;
}

export function sampleRss(pid: number, intervalMs: number): RssSampler {
  let peak = rssBytesOf(pid) ?? 0;
  let last = peak;
  const timer = setInterval(() => {
    last = rssBytesOf(pid) ?? last;
    if (last > peak) peak = last;
  }, intervalMs);
  timer.unref();
  return {
    get peakBytes() {
      return peak;
    },
    get lastBytes() {
      return last;
    },
    stop: () => clearInterval(timer),
  };
}

export function mebibytes(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : Math.round((bytes / 2 ** 20) * 10) / 10;
}

// Waits until work other than the measured processes (`groups`: the target, its databases,
// this generator) has used less than `busyPercentMax` of the machine over a window, so a
// benchmark does not start while a test suite or a build holds the cores. The target's own
// idle work does not count. Returns the last share seen; gives up after `timeoutMs`.
export async function waitForQuietMachine(options: {
  groups: readonly CpuGroup[];
  busyPercentMax: number;
  windowMs: number;
  timeoutMs: number;
  onWait: (otherPercent: number) => void;
}): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const meter = startCpuMeter(options.groups);
    await new Promise((resolve) => setTimeout(resolve, options.windowMs));
    const use = meter.stop();
    const tracked = Object.values(use.seconds).reduce((sum, seconds) => sum + seconds, 0);
    const capacityS = use.elapsedS * cpus().length;
    const otherPercent = use.machineBusySeconds === undefined ? 0 : Math.round((Math.max(0, use.machineBusySeconds - tracked) / capacityS) * 1000) / 10;
    if (otherPercent <= options.busyPercentMax || Date.now() > deadline) return otherPercent;
    options.onWait(otherPercent);
  }
}
