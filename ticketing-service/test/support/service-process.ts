import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// A service in a process of its own, started the way production starts it (Dockerfile CMD,
// the workspaces' start scripts, dev/start.ts): instrumentation first, through --import.

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const serviceMains = {
  ticketing: 'ticketing-service/src/main.ts',
  reservation: 'reservation-service/src/main.ts',
} as const;
export const productionNodeArgs = ['--disable-warning=TimeoutNegativeWarning', '--import', '@ticketing/shared/telemetry/instrument'];

export interface ServiceProcess {
  readonly process: ChildProcess;
  readonly port: number;
  // Every line the service wrote to stdout and stderr.
  readonly lines: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServiceProcess(service: keyof typeof serviceMains, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...productionNodeArgs, serviceMains[service]], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const started = service === 'ticketing' ? '"ticketing service listening"' : '"reservation service started"';
  const port = await new Promise<number>((resolve, reject) => {
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const complete = pending.split('\n');
      pending = complete.pop()!;
      for (const line of complete) {
        lines.push(line);
        if (!line.includes(started)) continue;
        const parsed = JSON.parse(line) as { port?: number; url?: string };
        resolve(parsed.port ?? Number(new URL(parsed.url!).port));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${service} exited with ${code} before starting:\n${lines.join('\n')}${pending}`)));
  });
  return {
    process: child,
    port,
    lines,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}
