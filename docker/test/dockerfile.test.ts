import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { lintDockerfile, parseDockerfile, splitStages } from './dockerfile-lint.ts';

const read = (relative: string) => readFileSync(new URL(`../../${relative}`, import.meta.url), 'utf8');
const dockerfile = read('docker/Dockerfile');
const instructions = parseDockerfile(dockerfile);
const stages = splitStages(instructions);
const final = stages.at(-1)!;
const finalOf = (keyword: string) => final.instructions.filter((instruction) => instruction.keyword === keyword);
const rootPackage = JSON.parse(read('package.json')) as { workspaces: string[] };
const lockfile = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string }> };

describe('docker/Dockerfile', () => {
  test('passes the static check (hadolint-equivalent rules)', () => {
    assert.deepEqual(lintDockerfile(dockerfile), []);
  });

  test('runs on the Node 24 slim image at the version the repository pins', () => {
    const pinned = lockfile.packages['node_modules/node']?.version;
    assert.ok(pinned?.startsWith('24.'), `package-lock pins node ${pinned}`);
    for (const stage of stages) {
      assert.equal(stage.from, `node:${pinned}-slim`);
    }
  });

  test('installs production dependencies only, from the lockfile, for shared and the selected service', () => {
    const install = instructions.find((instruction) => instruction.keyword === 'RUN' && /\bnpm ci\b/.test(instruction.args));
    assert.ok(install);
    assert.match(install.args, /--omit=dev/);
    assert.match(install.args, /--workspace=shared/);
    assert.match(install.args, /--workspace="\$\{SERVICE\}"/);
  });

  test('copies every workspace manifest, so npm ci sees the tree the lockfile describes', () => {
    const copies = instructions.filter((instruction) => instruction.keyword === 'COPY').map((instruction) => instruction.args);
    const ignore = read('docker/Dockerfile.dockerignore');
    for (const workspace of rootPackage.workspaces) {
      assert.ok(copies.includes(`${workspace}/package.json ${workspace}/`), `COPY ${workspace}/package.json`);
      assert.ok(ignore.includes(`!${workspace}/`) || ignore.includes(`!${workspace}/package.json`), `${workspace}/package.json is in the build context`);
    }
  });

  test('the build context is an allow-list that keeps secrets and local state out', () => {
    const lines = read('docker/Dockerfile.dockerignore').split('\n').filter((line) => line && !line.startsWith('#'));
    assert.equal(lines[0], '*');
    for (const excluded of ['**/node_modules', '**/.env*', '**/test']) assert.ok(lines.includes(excluded), excluded);
  });

  test('runs as the unprivileged node user, Node as PID 1 in exec form', () => {
    assert.equal(finalOf('USER').at(-1)?.args, 'node');
    assert.deepEqual(JSON.parse(finalOf('CMD')[0]!.args), ['node', '--disable-warning=TimeoutNegativeWarning', '--import', '@ticketing/shared/telemetry/instrument', 'service/src/main.ts']);
    assert.equal(finalOf('ENTRYPOINT').length, 0, 'no wrapper between the runtime and node');
    assert.equal(finalOf('STOPSIGNAL')[0]?.args, 'SIGTERM');
  });

  test('production mode and the container interface are baked in; nothing secret is', () => {
    const env = finalOf('ENV').map((instruction) => instruction.args).join(' ');
    assert.match(env, /NODE_ENV=production/);
    assert.match(env, /HOST=0\.0\.0\.0/);
    assert.doesNotMatch(dockerfile, /JWT_SECRET|DATABASE_URL|REDIS_URL/);
  });

  test('the health check probes liveness through the script the image carries', () => {
    assert.match(finalOf('HEALTHCHECK')[0]!.args, /CMD \["node", "\/app\/docker\/healthcheck\.ts"\]$/);
    assert.ok(instructions.some((instruction) => instruction.keyword === 'COPY' && instruction.args === 'docker/healthcheck.ts docker/'));
  });
});

describe('the static check itself', () => {
  const good = 'FROM node:24.21.0-slim\nWORKDIR /app\nUSER node\nHEALTHCHECK CMD ["node", "h.ts"]\nCMD ["node", "main.ts"]\n';

  test('accepts a minimal good Dockerfile', () => {
    assert.deepEqual(lintDockerfile(good), []);
  });

  const cases: Array<[string, string, RegExp]> = [
    ['untagged base', good.replace('node:24.21.0-slim', 'node'), /DL3006/],
    ['latest base', good.replace('node:24.21.0-slim', 'node:latest'), /DL3007/],
    ['root user', good.replace('USER node', 'USER root'), /DL3002/],
    ['no user', good.replace('USER node\n', ''), /DL3002/],
    ['shell-form CMD', good.replace('CMD ["node", "main.ts"]', 'CMD node main.ts'), /DL3025/],
    ['shell-form ENTRYPOINT', `${good}ENTRYPOINT node main.ts\n`, /DL3025/],
    ['no health check', good.replace(/HEALTHCHECK.*\n/, ''), /DL3012/],
    ['npm install', good.replace('USER node', 'RUN npm install\nUSER node'), /DL3016/],
    ['npm ci with dev dependencies', good.replace('USER node', 'RUN npm ci\nUSER node'), /--omit=dev/],
    ['secret in ENV', good.replace('USER node', 'ENV JWT_SECRET=abc\nUSER node'), /secret/],
    ['secret in ARG', good.replace('USER node', 'ARG DB_PASSWORD\nUSER node'), /secret/],
    ['ADD', good.replace('USER node', 'ADD x /x\nUSER node'), /DL3020/],
    ['relative WORKDIR', good.replace('WORKDIR /app', 'WORKDIR app'), /DL3000/],
    ['cd in RUN', good.replace('USER node', 'RUN cd /tmp && ls\nUSER node'), /DL3003/],
    ['continuation lines', good.replace('USER node', 'RUN echo a \\\n  && npm ci\nUSER node'), /--omit=dev/],
  ];
  for (const [name, text, expected] of cases) {
    test(`rejects: ${name}`, () => {
      assert.ok(lintDockerfile(text).some((problem) => expected.test(problem)), `${name}: ${lintDockerfile(text).join('; ') || 'no problem found'}`);
    });
  }

  test('resolves a base image given through a global ARG', () => {
    const text = good.replace('FROM node:24.21.0-slim', 'ARG BASE=node:latest\nFROM ${BASE}');
    assert.ok(lintDockerfile(text).some((problem) => /DL3007/.test(problem)));
  });
});

describe('docker/healthcheck.ts', () => {
  const script = fileURLToPath(new URL('../healthcheck.ts', import.meta.url));
  const run = promisify(execFile);

  const withServer = async (status: (path: string) => number, body: (port: number) => Promise<void>) => {
    const server = createServer((request, response) => {
      response.writeHead(status(request.url ?? '/'));
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await body((server.address() as AddressInfo).port);
    } finally {
      server.close();
    }
  };
  const probe = async (env: Record<string, string>, path?: string) => {
    try {
      await run(process.execPath, [script, ...(path ? [path] : [])], { env: { PATH: process.env.PATH, ...env } });
      return 0;
    } catch (error) {
      return (error as { code: number }).code;
    }
  };

  test('exits 0 on a 2xx answer and 1 otherwise, probing the path it is given', async () => {
    await withServer((path) => (path === '/health/live' ? 200 : 503), async (port) => {
      assert.equal(await probe({ PORT: String(port) }), 0);
      assert.equal(await probe({ PORT: String(port) }, '/health/ready'), 1);
    });
  });

  test('follows RESERVATION_HTTP_PORT in the reservation image', async () => {
    await withServer(() => 200, async (port) => {
      assert.equal(await probe({ SERVICE: 'reservation-service', RESERVATION_HTTP_PORT: String(port), PORT: '1' }), 0);
      assert.equal(await probe({ SERVICE: 'ticketing-service', RESERVATION_HTTP_PORT: String(port), PORT: '1' }), 1);
    });
  });
});
