import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went: by area (a
// package, Node's internals, this repository's folders, GC) and by function, self and total
// time. A quicker first read than Chrome DevTools; open the file there for the flame chart.
//
//   node benchmarks/profile-summary.ts profiles/CPU.*.cpuprofile [--top 25]

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const repository = fileURLToPath(new URL('..', import.meta.url));

function areaOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[1] ?? url.slice(5)}`;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = path.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (path.startsWith(repository)) return path.slice(repository.length).split('/').slice(0, 3).join('/');
  return path;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const short = path.startsWith(repository) ? path.slice(repository.length) : path.replace(/^.*\/node_modules\//, '');
  return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
}

export function summarizeProfile(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  }
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

  const totalUs = profile.endTime - profile.startTime;
  const idleUs = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((sum, [, us]) => sum + us, 0);
  const busyUs = Math.max(1, totalUs - idleUs);
  const functionSelf = new Map<string, number>();
  const functionTotal = new Map<string, number>();
  const areaSelf = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const name = label(node);
    functionSelf.set(name, (functionSelf.get(name) ?? 0) + us);
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    areaSelf.set(area, (areaSelf.get(area) ?? 0) + us);
    // Total time: every distinct function on the sample's stack gets the sample once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = label(byId.get(at)!);
      if (seen.has(frame)) continue;
      seen.add(frame);
      functionTotal.set(frame, (functionTotal.get(frame) ?? 0) + us);
    }
  }
  const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
  const pct = (us: number) => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
  const table = (entries: Map<string, number>, count: number) =>
    [...entries].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, us]) => `${ms(us)} ms ${pct(us)}  ${name}`).join('\n');
  return [
    `profile: ${(totalUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1e6).toFixed(1)} s (${((busyUs / totalUs) * 100).toFixed(0)}%); percentages are of busy time`,
    '',
    'self time by area:',
    table(areaSelf, top),
    '',
    'self time by function:',
    table(functionSelf, top),
    '',
    'total time by function (the function and everything it called):',
    table(new Map([...functionTotal].filter(([name]) => !name.startsWith('('))), top),
  ].join('\n');
}

const invokedDirectly = process.argv[1] === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  if (positionals.length === 0) {
    process.stderr.write('usage: node benchmarks/profile-summary.ts <file.cpuprofile>... [--top N]\n');
    process.exit(2);
  }
  for (const file of positionals) {
    process.stdout.write(`== ${file}\n${summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top))}\n\n`);
  }
}
