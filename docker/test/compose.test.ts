import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '@ticketing/shared/config';
import { composePath, durationMs, isOneShot, loadCompose, parseKeyValueConfig, requiredInterpolation, type Service } from './compose-file.ts';

// The invariants of docker/compose.yml that matter when nobody can run it here: durability
// settings, no secrets in the file, health gating, ports on loopback, scalability. The file is
// also validated by docker-compose itself when that is installed (see the last test).

const compose = loadCompose();
const services = Object.entries(compose.services);
const service = (name: string): Service => {
  const found = compose.services[name];
  assert.ok(found, `compose.yml has no service "${name}"`);
  return found;
};
const dockerDir = fileURLToPath(new URL('..', import.meta.url));
const readDockerFile = (relative: string) => readFileSync(new URL(`../${relative}`, import.meta.url), 'utf8');
const heartbeatMs = Number(SETTINGS.SSE_HEARTBEAT_MS.default);
const serviceStopGraceMs = 30_000;
const secretName = /(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)/i;
const credentialsInUrl = /\/\/[^/@\s:]+:([^@\s]+)@/;

describe('Kvrocks', () => {
  const kvrocks = service('kvrocks');
  const config = parseKeyValueConfig(readDockerFile('kvrocks/kvrocks.conf'));

  test('acknowledges a write only after its WAL record is fsynced', () => {
    assert.equal(config.get('rocksdb.write_options.sync'), 'yes');
    assert.equal(config.get('rocksdb.write_options.disable_wal'), 'no');
  });

  test('runs with that config file and keeps its data in a volume', () => {
    assert.deepEqual(kvrocks.entrypoint, ['kvrocks', '-c', '/etc/kvrocks/kvrocks.conf']);
    assert.ok(kvrocks.volumes?.includes('./kvrocks/kvrocks.conf:/etc/kvrocks/kvrocks.conf:ro'));
    const dir = config.get('dir');
    assert.ok(kvrocks.volumes?.some((volume) => volume.endsWith(`:${dir}`) && !volume.startsWith('.')), `a named volume at ${dir}`);
    assert.equal(config.get('bind'), '0.0.0.0');
  });
});

describe('Kafka', () => {
  const brokers = services.filter(([, definition]) => definition.image?.startsWith('apache/kafka:'));

  test('three KRaft brokers, each also a controller, in one cluster', () => {
    assert.equal(brokers.length, 3);
    const voters = new Set<string>();
    for (const [name, broker] of brokers) {
      const env = broker.environment ?? {};
      assert.match(env.KAFKA_PROCESS_ROLES ?? '', /controller/);
      assert.equal(env.KAFKA_ADVERTISED_LISTENERS, `PLAINTEXT://${name}:9092`);
      voters.add(`${env.KAFKA_NODE_ID}@${name}:9093`);
      assert.ok(broker.volumes?.some((volume) => volume.endsWith(':/var/lib/kafka/data')), `${name} keeps its log in a volume`);
    }
    for (const [, broker] of brokers) {
      assert.deepEqual(new Set(broker.environment?.KAFKA_CONTROLLER_QUORUM_VOTERS?.split(',')), voters);
    }
    assert.equal(new Set(brokers.map(([, broker]) => broker.environment?.CLUSTER_ID)).size, 1);
    assert.equal(new Set(brokers.map(([, broker]) => broker.environment?.KAFKA_NODE_ID)).size, 3);
  });

  test('replication 3, min.insync.replicas 2, no unclean election, no auto-created topics', () => {
    for (const [name, broker] of brokers) {
      const env = broker.environment ?? {};
      assert.equal(env.KAFKA_DEFAULT_REPLICATION_FACTOR, '3', name);
      assert.equal(env.KAFKA_MIN_INSYNC_REPLICAS, '2', name);
      assert.equal(env.KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE, 'false', name);
      assert.equal(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE, 'false', name);
      assert.equal(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, '3', name);
      assert.equal(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR, '2', name);
    }
  });

  test('the topic is created by a one-shot job with replication factor 3, after every broker is healthy', () => {
    const init = service('kafka-init');
    assert.ok(isOneShot(init));
    assert.deepEqual(init.command, ['node', '--disable-warning=TimeoutNegativeWarning', 'shared/src/messaging/topics-cli.ts']);
    assert.equal(init.environment?.KAFKA_REPLICATION_FACTOR, '3');
    for (const [name] of brokers) {
      assert.deepEqual((init.depends_on as Record<string, unknown>)[name], { condition: 'service_healthy' });
    }
    assert.equal(init.environment?.KAFKA_BROKERS, brokers.map(([name]) => `${name}:9092`).join(','));
  });
});

describe('secrets', () => {
  test('no secret has a value in compose.yml: each is a required ${VAR:?} interpolation', () => {
    for (const [name, definition] of services) {
      for (const [key, value] of Object.entries(definition.environment ?? {})) {
        if (secretName.test(key)) assert.match(String(value), requiredInterpolation, `${name}.${key}`);
        const credentials = credentialsInUrl.exec(String(value));
        if (credentials) assert.match(credentials[1]!, requiredInterpolation, `${name}.${key} embeds a password`);
      }
      for (const key of Object.keys(definition.build?.args ?? {})) {
        assert.doesNotMatch(key, secretName, `${name} passes a secret as a build argument, which stays in the image history`);
      }
    }
  });

  test('the example env file leaves every secret empty', () => {
    const example = readDockerFile('.env.example');
    const assignments = example.split('\n').filter((line) => /^[A-Z_]+=/.test(line));
    assert.ok(assignments.length >= 3);
    for (const line of assignments) {
      const [key, value] = line.split('=', 2) as [string, string];
      if (secretName.test(key)) assert.equal(value, '', `${key} must be empty in .env.example`);
    }
    assert.match(readDockerFile('.gitignore'), /^\.env$/m);
  });

  test('services get their settings by the names the config module reads', () => {
    const known = new Set(Object.keys(SETTINGS));
    for (const name of ['ticketing-service', 'reservation-service', 'kafka-init', 'migrate']) {
      for (const key of Object.keys(service(name).environment ?? {})) {
        assert.ok(known.has(key) || key.startsWith('OTEL_'), `${name}.${key} is not a setting in shared/src/config.ts`);
      }
      assert.equal(service(name).environment?.NODE_ENV, 'production', `${name} runs in production mode (refuses the dev JWT secret)`);
      assert.equal(service(name).environment?.HOST, '0.0.0.0');
    }
  });
});

describe('health and start order', () => {
  test('every long-running service has a health check', () => {
    for (const [name, definition] of services) {
      if (isOneShot(definition)) continue;
      const check = definition.healthcheck;
      assert.ok(check && !check.disable && check.test, `${name} has no health check`);
      assert.ok(Array.isArray(check.test) && ['CMD', 'CMD-SHELL'].includes(check.test[0] as string), `${name}: exec-form test`);
      assert.ok(check.interval && check.timeout && check.retries, `${name}: interval, timeout and retries are explicit`);
    }
  });

  test('dependents wait for health (or for a one-shot to succeed), never only for a start', () => {
    for (const [name, definition] of services) {
      const dependsOn = definition.depends_on ?? {};
      assert.ok(!Array.isArray(dependsOn), `${name}: depends_on needs conditions, not a list`);
      for (const [dependency, { condition }] of Object.entries(dependsOn)) {
        const target = service(dependency);
        if (isOneShot(target)) {
          assert.equal(condition, 'service_completed_successfully', `${name} -> ${dependency}`);
        } else {
          assert.equal(condition, 'service_healthy', `${name} -> ${dependency}`);
          assert.ok(target.healthcheck?.test, `${dependency} is waited on but has no health check`);
        }
      }
    }
  });

  test('both services start only after topics, migrations and every store are ready', () => {
    for (const name of ['ticketing-service', 'reservation-service']) {
      assert.deepEqual(service(name).depends_on, {
        'kafka-init': { condition: 'service_completed_successfully' },
        migrate: { condition: 'service_completed_successfully' },
        kvrocks: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
        jaeger: { condition: 'service_healthy' },
      });
      assert.deepEqual(service(name).healthcheck?.test, ['CMD', 'node', '/app/docker/healthcheck.ts', '/health/ready']);
    }
    assert.deepEqual(service('migrate').command, ['node', '--disable-warning=TimeoutNegativeWarning', 'shared/src/db/migrate-cli.ts']);
    assert.deepEqual(service('lb').depends_on, { 'ticketing-service': { condition: 'service_healthy' } });
  });

  test('services get time to drain on SIGTERM', () => {
    for (const name of ['ticketing-service', 'reservation-service']) {
      assert.ok(durationMs(service(name).stop_grace_period ?? '10s') >= serviceStopGraceMs, name);
    }
  });
});

describe('ports and scaling', () => {
  test('every published port is bound to 127.0.0.1', () => {
    for (const [name, definition] of services) {
      for (const port of definition.ports ?? []) {
        if (typeof port === 'string') assert.match(port, /^127\.0\.0\.1:/, `${name}: ${port}`);
        else assert.equal(port.host_ip, '127.0.0.1', `${name}: ${JSON.stringify(port)}`);
      }
    }
  });

  test('both services scale with --scale: no container name, no host port, no fixed replica count', () => {
    for (const name of ['reservation-service', 'ticketing-service']) {
      const definition = service(name);
      assert.equal(definition.container_name, undefined, name);
      assert.equal(definition.ports, undefined, name);
      assert.equal(definition.deploy?.replicas, undefined, name);
    }
    for (const [name, definition] of services) assert.equal(definition.container_name, undefined, `${name}: container_name blocks scaling and parallel stacks`);
  });

  test('the load balancer suits SSE: no buffering, read timeout well above the heartbeat, pool re-resolved', () => {
    const nginx = readDockerFile('nginx/nginx.conf');
    assert.match(nginx, /^\s*proxy_buffering off;/m);
    const readTimeoutS = Number(/proxy_read_timeout (\d+)s;/.exec(nginx)?.[1]);
    assert.ok(readTimeoutS * 1000 >= 4 * heartbeatMs, `proxy_read_timeout ${readTimeoutS}s vs heartbeat ${heartbeatMs} ms`);
    assert.match(nginx, /server ticketing-service:3000 resolve;/);
    assert.match(nginx, /location = \/metrics \{\s*return 404;/);
    assert.ok(service('lb').volumes?.includes('./nginx/nginx.conf:/etc/nginx/nginx.conf:ro'));
  });

  test('Prometheus scrapes every instance of both services on their ports', () => {
    const prometheus = readDockerFile('prometheus/prometheus.yml');
    assert.match(prometheus, /names: \[ticketing-service\]\s+type: A\s+port: 3000/);
    assert.match(prometheus, /names: \[reservation-service\]\s+type: A\s+port: 9464/);
  });
});

describe('images and profiles', () => {
  test('every image has a pinned tag (no latest, no bare name)', () => {
    for (const [name, definition] of services) {
      assert.ok(definition.image, `${name} names its image`);
      const tag = /:([^/:]+)$/.exec(definition.image)?.[1];
      assert.ok(tag && tag !== 'latest', `${name}: ${definition.image}`);
      if (definition.build) assert.equal(tag, 'local', `${name} builds a local image`);
      else assert.match(tag, /^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$/, `${name}: ${definition.image} is pinned to a release`);
    }
  });

  test('app images are built from docker/Dockerfile with the service selected by SERVICE', () => {
    for (const name of ['ticketing-service', 'reservation-service', 'kafka-init', 'migrate']) {
      const build = service(name).build;
      assert.equal(build?.context, '..');
      assert.equal(build?.dockerfile, 'docker/Dockerfile');
    }
    assert.equal(service('reservation-service').build?.args?.SERVICE, 'reservation-service');
    assert.equal(service('ticketing-service').build?.args?.SERVICE, 'ticketing-service');
  });

  test('k6 runs only under the bench profile, with the scripts mounted read-only', () => {
    const k6 = service('k6');
    assert.deepEqual(k6.profiles, ['bench']);
    assert.ok(k6.volumes?.includes('../benchmarks/k6:/scripts:ro'));
    assert.equal(k6.environment?.BASE_URL, 'http://lb:8080');
    for (const [name, definition] of services) {
      if (name !== 'k6') assert.equal(definition.profiles, undefined, `${name} starts with a plain "up"`);
    }
  });
});

const dockerCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const dummySecrets = { JWT_SECRET: 'x'.repeat(32), POSTGRES_PASSWORD: 'password', GRAFANA_ADMIN_PASSWORD: 'password' };

// dev/setup.sh installs Debian's docker-compose, so this always runs: a missing binary fails.
describe('docker-compose config', () => {
  test('docker-compose is installed', () => {
    assert.equal(dockerCompose.status, 0, 'docker-compose is not installed (apt-get install -y --no-install-recommends docker-compose)');
  });

  // An empty env file: a developer's docker/.env must not fill in what a test leaves out.
  const scratch = mkdtempSync(join(tmpdir(), 'compose-test-'));
  const emptyEnvFile = join(scratch, 'empty.env');
  writeFileSync(emptyEnvFile, '');
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const config = (env: Record<string, string>) =>
    spawnSync('docker-compose', ['-f', fileURLToPath(composePath), '--project-directory', dockerDir, '--env-file', emptyEnvFile, 'config', '-q'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });

  test('the file validates against the Compose schema', () => {
    const result = config(dummySecrets);
    assert.equal(result.status, 0, result.stderr);
  });

  test('it refuses to run while a secret is missing', () => {
    for (const missing of Object.keys(dummySecrets)) {
      const env: Record<string, string> = { ...dummySecrets };
      delete env[missing];
      const result = config(env);
      assert.notEqual(result.status, 0, `${missing} missing must fail`);
      assert.match(result.stderr, new RegExp(`set ${missing}`));
    }
  });
});
