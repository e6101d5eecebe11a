import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type MockKafkaOptions = {
  brokers?: number;
  topics: Array<{ name: string; partitions: number }>;
  controlPort?: number;
  // Run in its own process group, so a terminal's Ctrl-C reaches only the parent, which can
  // stop the services before the brokers they are draining into (it still dies with its parent).
  detached?: boolean;
};

export type MockKafka = {
  brokers: string[];
  controlPort?: number;
  send(command: string): Promise<string>;
  brokerDown(id: number): Promise<void>;
  brokerUp(id: number): Promise<void>;
  setRtt(id: number | 'all', ms: number): Promise<void>;
  stop(): Promise<void>;
};

const directory = import.meta.dirname;
const binaryPath = join(directory, 'mock-kafka');
const readyTimeoutMs = 10_000;
const replyTimeoutMs = 10_000;
const stopGraceMs = 3_000;
const stderrLengthMax = 16_384;

let build: Promise<string> | undefined;

// Compiles the C program on first use, so a fresh clone needs no extra build step.
export function buildMockKafka(): Promise<string> {
  build ??= runMake().catch((error: unknown) => {
    build = undefined;
    throw error;
  });
  return build;
}

function runMake(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('make', ['-C', directory, '--no-print-directory'], (error, stdout, stderr) => {
      if (error === null) {
        resolve(binaryPath);
        return;
      }
      const output = `${stdout}${stderr}`.trim() || error.message;
      const hint = /rdkafka\S*\.h: No such file|cannot find -lrdkafka/.test(output)
        ? '\nHint: install librdkafka and its headers: apt-get install -y librdkafka-dev'
        : '';
      const message = `mock-kafka: make -C ${directory} failed:\n${output}${hint}`;
      reject(new Error(message, { cause: error }));
    });
  });
}

export async function startMockKafka(options: MockKafkaOptions): Promise<MockKafka> {
  const binary = await buildMockKafka();
  const args = ['--brokers', String(options.brokers ?? 3)];
  for (const topic of options.topics) {
    args.push('--topic', `${topic.name}:${topic.partitions}`);
  }
  if (options.controlPort !== undefined) {
    args.push('--control-port', String(options.controlPort));
  }
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: options.detached ?? false });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-stderrLengthMax);
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`));
  });
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  const describeExit = (how: string): string =>
    `mock-kafka ${how}${stderr ? `:\n${stderr.trim()}` : ''}`;

  const startup = await waitForReady(child, lines, exited, describeExit);
  return createHandle(child, lines, exited, describeExit, startup);
}

type Startup = { brokers: string[]; controlPort?: number };

function waitForReady(
  child: ChildProcessWithoutNullStreams,
  lines: ReturnType<typeof createInterface>,
  exited: Promise<string>,
  describeExit: (how: string) => string,
): Promise<Startup> {
  return new Promise((resolve, reject) => {
    const startup: Startup = { brokers: [] };
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      lines.off('line', onLine);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(new Error(describeExit(`did not print READY within ${readyTimeoutMs} ms`)));
    }, readyTimeoutMs);
    const onLine = (line: string): void => {
      const [word, value] = line.split(' ');
      if (word === 'BOOTSTRAP' && value !== undefined) {
        startup.brokers = value.split(',');
      } else if (word === 'CONTROL' && value !== undefined) {
        startup.controlPort = Number(value);
      } else if (word === 'READY') {
        if (startup.brokers.length === 0) {
          fail(new Error('mock-kafka printed READY without a BOOTSTRAP line'));
          return;
        }
        settled = true;
        clearTimeout(timer);
        lines.off('line', onLine);
        resolve(startup);
      }
    };
    lines.on('line', onLine);
    child.on('error', fail);
    void exited.then((how) => fail(new Error(describeExit(`${how} before READY`))));
  });
}

type Pending = {
  command: string;
  resolve(reply: string): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
};

function isOk(reply: string): boolean {
  return reply === 'OK' || reply.startsWith('OK ');
}

function checkCommand(command: string): void {
  if (command.trim() === '' || /[\r\n]/.test(command)) {
    throw new Error(`mock-kafka: a command is one non-empty line, got ${JSON.stringify(command)}`);
  }
}

function createHandle(
  child: ChildProcessWithoutNullStreams,
  lines: ReturnType<typeof createInterface>,
  exited: Promise<string>,
  describeExit: (how: string) => string,
  startup: Startup,
): MockKafka {
  // The program answers stdin commands in order, one line each, so replies match a FIFO.
  const pending: Pending[] = [];
  let broken: Error | undefined;
  const breakChannel = (error: Error): void => {
    broken ??= error;
    for (const entry of pending.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(broken);
    }
  };

  lines.on('line', (line) => {
    const entry = pending.shift();
    if (entry === undefined) {
      breakChannel(new Error(`mock-kafka printed an unexpected line: ${line}`));
      return;
    }
    clearTimeout(entry.timer);
    if (isOk(line)) {
      entry.resolve(line);
    } else {
      entry.reject(new Error(`mock-kafka: "${entry.command}" failed: ${line}`));
    }
  });
  void exited.then((how) => breakChannel(new Error(describeExit(how))));
  child.stdin.on('error', () => {});

  const send = (command: string): Promise<string> =>
    new Promise((resolve, reject) => {
      if (broken !== undefined) {
        reject(broken);
        return;
      }
      checkCommand(command);
      // A late reply would be matched to the next command, so a timeout ends the channel.
      const timer = setTimeout(() => {
        breakChannel(new Error(`mock-kafka: no reply to "${command}" within ${replyTimeoutMs} ms`));
      }, replyTimeoutMs);
      pending.push({ command, resolve, reject, timer });
      child.stdin.write(`${command}\n`);
    });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killTimer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
        await exited;
        clearTimeout(killTimer);
      }
      lines.close();
    })();
    return stopping;
  };

  return {
    brokers: startup.brokers,
    ...(startup.controlPort === undefined ? {} : { controlPort: startup.controlPort }),
    send,
    async brokerDown(id) {
      await send(`down ${id}`);
    },
    async brokerUp(id) {
      await send(`up ${id}`);
    },
    async setRtt(id, ms) {
      await send(`rtt ${id} ${ms}`);
    },
    stop,
  };
}

// For tools that did not start the program: one command over its TCP control port.
export function controlMockKafka(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    checkCommand(command);
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.setEncoding('utf8');
    socket.setTimeout(replyTimeoutMs, () => {
      socket.destroy(new Error(`mock-kafka: no reply to "${command}" within ${replyTimeoutMs} ms`));
    });
    socket.on('error', reject);
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\n');
      if (end === -1) {
        return;
      }
      const reply = received.slice(0, end);
      socket.end();
      if (isOk(reply)) {
        resolve(reply);
      } else {
        reject(new Error(`mock-kafka: "${command}" failed: ${reply}`));
      }
    });
    socket.on('close', () => {
      reject(new Error(`mock-kafka: control port ${port} closed without a reply to "${command}"`));
    });
  });
}
