import * as logs from 'aws-cdk-lib/aws-logs';
import { SETTINGS } from '@ticketing/shared/config';

// Every deploy-time choice of the CDK app, typed, with its default. `readSettings` is the only
// code that reads CDK context (`cdk deploy -c key=value` or cdk.json); stacks receive the
// parsed, validated, frozen result as props. Nothing reads process.env: the stacks are
// environment-agnostic unless `account` and `region` are given as context.

export type Architecture = 'x86_64' | 'arm64';
export type TopicManagement = 'cloudformation' | 'init-container';
export type TraceExport = { readonly kind: 'xray' } | { readonly kind: 'otlp'; readonly endpoint: string };

export interface TaskSizing {
  // Fargate CPU units (1024 = one vCPU) and memory in MiB; only Fargate's valid pairs deploy.
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
}

export interface DeploySettings {
  // Prefix of stack names and of named resources (MSK cluster, log groups).
  readonly name: string;
  readonly env?: { readonly account: string; readonly region: string };
  readonly network: {
    readonly cidr: string;
    readonly natGateways: number;
    // Who may reach the load balancer; everything else is private.
    readonly ingressCidr: string;
  };
  readonly database: {
    readonly instanceClass: string;
    readonly multiAz: boolean;
    readonly storageGiB: number;
    readonly storageMaxGiB: number;
    readonly backupRetentionDays: number;
  };
  readonly kafka: {
    readonly version: string;
    readonly brokerInstanceType: string;
    readonly brokerStorageGiB: number;
    readonly topic: string;
    readonly partitions: number;
    readonly consumerGroup: string;
    readonly topicManagement: TopicManagement;
  };
  readonly kvrocks: {
    readonly instanceType: string;
    readonly architecture: Architecture;
    readonly volumeGiB: number;
    readonly image: string;
  };
  readonly services: {
    readonly architecture: Architecture;
    // An image already in a registry; empty means build docker/Dockerfile as a CDK asset.
    readonly imageUri: string;
    readonly ticketing: TaskSizing & { readonly cpuTargetPercent: number; readonly requestsPerTargetPerMinute: number };
    readonly reservation: TaskSizing & { readonly lagScaleOutAbove: number; readonly lagScaleInBelow: number };
    readonly albIdleTimeoutS: number;
    readonly certificateArn: string;
    readonly logRetentionDays: number;
    readonly logLevel: string;
    readonly traces: TraceExport;
  };
  readonly loadTest: {
    readonly enabled: boolean;
    readonly instanceType: string;
    readonly k6Version: string;
    // Relative to the repository root, or absolute.
    readonly scriptsDir: string;
  };
}

export class SettingsError extends Error {
  readonly code = 'DEPLOY_SETTINGS_INVALID';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid deploy settings:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

// The SSE heartbeat the services use unless SSE_HEARTBEAT_MS is set; the ALB idle timeout
// must stay well above it or idle streams are cut between two heartbeats.
export const sseHeartbeatMs = Number(SETTINGS.SSE_HEARTBEAT_MS.default);
const albIdleTimeoutHeartbeatsMin = 4;
// Fargate allows at most 120 s between SIGTERM and SIGKILL; the services drain within 20 s.
export const stopTimeoutS = 30;
// The retention periods CloudWatch Logs accepts (INFINITE excluded: logs must age out).
const logRetentionDaysAllowed = new Set(Object.values(logs.RetentionDays).filter((days): days is number => typeof days === 'number' && days !== logs.RetentionDays.INFINITE));

export const defaultSettings: DeploySettings = {
  name: 'ticketing',
  network: { cidr: '10.40.0.0/16', natGateways: 3, ingressCidr: '0.0.0.0/0' },
  database: { instanceClass: 'm7g.large', multiAz: true, storageGiB: 100, storageMaxGiB: 1000, backupRetentionDays: 7 },
  kafka: {
    version: '3.8.x',
    brokerInstanceType: 'kafka.m7g.large',
    brokerStorageGiB: 200,
    topic: SETTINGS.KAFKA_COMMAND_TOPIC.default,
    partitions: Number(SETTINGS.KAFKA_PARTITIONS.default),
    consumerGroup: SETTINGS.KAFKA_CONSUMER_GROUP.default,
    topicManagement: 'cloudformation',
  },
  kvrocks: { instanceType: 'm7i.large', architecture: 'x86_64', volumeGiB: 100, image: 'apache/kvrocks:2.11.0' },
  services: {
    architecture: 'x86_64',
    imageUri: '',
    ticketing: { cpu: 1024, memoryMiB: 2048, minTasks: 2, maxTasks: 12, cpuTargetPercent: 60, requestsPerTargetPerMinute: 30_000 },
    reservation: { cpu: 1024, memoryMiB: 2048, minTasks: 2, maxTasks: 12, lagScaleOutAbove: 5_000, lagScaleInBelow: 100 },
    albIdleTimeoutS: 300,
    certificateArn: '',
    logRetentionDays: 30,
    logLevel: 'info',
    traces: { kind: 'xray' },
  },
  loadTest: { enabled: false, instanceType: 'c7i.2xlarge', k6Version: '1.2.0', scriptsDir: 'benchmarks/k6' },
};

// Context keys, one per setting that an operator is expected to change. Values given with
// `-c` arrive as strings, values in cdk.json may be typed; both are accepted.
export const contextKeys = [
  'name', 'account', 'region',
  'cidr', 'natGateways', 'ingressCidr',
  'dbInstanceClass', 'dbMultiAz', 'dbStorageGiB', 'dbStorageMaxGiB', 'dbBackupRetentionDays',
  'kafkaVersion', 'kafkaBrokerInstanceType', 'kafkaBrokerStorageGiB', 'kafkaPartitions', 'kafkaTopicManagement',
  'kvrocksInstanceType', 'kvrocksArchitecture', 'kvrocksVolumeGiB',
  'architecture', 'imageUri', 'certificateArn', 'albIdleTimeoutS', 'logRetentionDays', 'logLevel', 'tracesEndpoint',
  'ticketingMinTasks', 'ticketingMaxTasks', 'ticketingCpu', 'ticketingMemoryMiB',
  'reservationMinTasks', 'reservationMaxTasks', 'reservationCpu', 'reservationMemoryMiB', 'reservationLagScaleOutAbove',
  'loadTest', 'loadTestInstanceType', 'loadTestScriptsDir',
] as const;

export type ContextKey = (typeof contextKeys)[number];

export interface ContextSource {
  tryGetContext(key: string): unknown;
}

export function readSettings(context: ContextSource): DeploySettings {
  const problems: string[] = [];
  const raw = (key: ContextKey): string | undefined => {
    const value = context.tryGetContext(key);
    return value === undefined || value === null || value === '' ? undefined : String(value);
  };
  const text = (key: ContextKey, fallback: string) => raw(key) ?? fallback;
  const int = (key: ContextKey, fallback: number, min: number, max: number): number => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      problems.push(`${key} must be an integer between ${min} and ${max}, got "${value}"`);
      return fallback;
    }
    return parsed;
  };
  const bool = (key: ContextKey, fallback: boolean): boolean => {
    const value = raw(key);
    if (value === undefined) return fallback;
    if (value !== 'true' && value !== 'false') problems.push(`${key} must be true or false, got "${value}"`);
    return value === 'true';
  };
  const oneOf = <T extends string>(key: ContextKey, fallback: T, allowed: readonly T[]): T => {
    const value = raw(key);
    if (value === undefined) return fallback;
    if (!allowed.includes(value as T)) problems.push(`${key} must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };

  const d = defaultSettings;
  const account = raw('account');
  const region = raw('region');
  if ((account === undefined) !== (region === undefined)) problems.push('account and region go together: give both or neither');
  const tracesEndpoint = raw('tracesEndpoint');

  const settings: DeploySettings = {
    name: text('name', d.name),
    env: account !== undefined && region !== undefined ? { account, region } : undefined,
    network: {
      cidr: text('cidr', d.network.cidr),
      natGateways: int('natGateways', d.network.natGateways, 1, 3),
      ingressCidr: text('ingressCidr', d.network.ingressCidr),
    },
    database: {
      instanceClass: text('dbInstanceClass', d.database.instanceClass),
      multiAz: bool('dbMultiAz', d.database.multiAz),
      storageGiB: int('dbStorageGiB', d.database.storageGiB, 20, 65_536),
      storageMaxGiB: int('dbStorageMaxGiB', d.database.storageMaxGiB, 20, 65_536),
      backupRetentionDays: int('dbBackupRetentionDays', d.database.backupRetentionDays, 1, 35),
    },
    kafka: {
      ...d.kafka,
      version: text('kafkaVersion', d.kafka.version),
      brokerInstanceType: text('kafkaBrokerInstanceType', d.kafka.brokerInstanceType),
      brokerStorageGiB: int('kafkaBrokerStorageGiB', d.kafka.brokerStorageGiB, 1, 16_384),
      partitions: int('kafkaPartitions', d.kafka.partitions, 1, 10_000),
      topicManagement: oneOf('kafkaTopicManagement', d.kafka.topicManagement, ['cloudformation', 'init-container']),
    },
    kvrocks: {
      ...d.kvrocks,
      instanceType: text('kvrocksInstanceType', d.kvrocks.instanceType),
      architecture: oneOf('kvrocksArchitecture', d.kvrocks.architecture, ['x86_64', 'arm64']),
      volumeGiB: int('kvrocksVolumeGiB', d.kvrocks.volumeGiB, 10, 16_384),
    },
    services: {
      ...d.services,
      architecture: oneOf('architecture', d.services.architecture, ['x86_64', 'arm64']),
      imageUri: text('imageUri', d.services.imageUri),
      certificateArn: text('certificateArn', d.services.certificateArn),
      albIdleTimeoutS: int('albIdleTimeoutS', d.services.albIdleTimeoutS, 1, 4000),
      logRetentionDays: int('logRetentionDays', d.services.logRetentionDays, 1, 3653),
      logLevel: oneOf('logLevel', d.services.logLevel, ['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
      traces: tracesEndpoint === undefined ? d.services.traces : { kind: 'otlp', endpoint: tracesEndpoint },
      ticketing: {
        ...d.services.ticketing,
        cpu: int('ticketingCpu', d.services.ticketing.cpu, 256, 16_384),
        memoryMiB: int('ticketingMemoryMiB', d.services.ticketing.memoryMiB, 512, 122_880),
        minTasks: int('ticketingMinTasks', d.services.ticketing.minTasks, 1, 1000),
        maxTasks: int('ticketingMaxTasks', d.services.ticketing.maxTasks, 1, 1000),
      },
      reservation: {
        ...d.services.reservation,
        cpu: int('reservationCpu', d.services.reservation.cpu, 256, 16_384),
        memoryMiB: int('reservationMemoryMiB', d.services.reservation.memoryMiB, 512, 122_880),
        minTasks: int('reservationMinTasks', d.services.reservation.minTasks, 1, 1000),
        maxTasks: int('reservationMaxTasks', d.services.reservation.maxTasks, 1, 1000),
        lagScaleOutAbove: int('reservationLagScaleOutAbove', d.services.reservation.lagScaleOutAbove, 1, 100_000_000),
      },
    },
    loadTest: {
      ...d.loadTest,
      enabled: bool('loadTest', d.loadTest.enabled),
      instanceType: text('loadTestInstanceType', d.loadTest.instanceType),
      scriptsDir: text('loadTestScriptsDir', d.loadTest.scriptsDir),
    },
  };
  problems.push(...settingsProblems(settings));
  if (problems.length > 0) throw new SettingsError(problems);
  return deepFreeze(settings);
}

// Cross-setting rules, also applied to settings built in code (tests, other apps).
export function settingsProblems(settings: DeploySettings): string[] {
  const problems: string[] = [];
  const { ticketing, reservation } = settings.services;
  for (const [name, sizing] of [['ticketing', ticketing], ['reservation', reservation]] as const) {
    if (sizing.minTasks > sizing.maxTasks) problems.push(`${name}: minTasks ${sizing.minTasks} is above maxTasks ${sizing.maxTasks}`);
  }
  // A consumer group never gives one partition to two members: tasks beyond the partition
  // count would idle while still costing money and slowing every rebalance.
  if (reservation.maxTasks > settings.kafka.partitions) {
    problems.push(`reservationMaxTasks ${reservation.maxTasks} exceeds kafkaPartitions ${settings.kafka.partitions}; extra consumers would sit idle`);
  }
  if (reservation.lagScaleInBelow >= reservation.lagScaleOutAbove) problems.push('reservation lag scale-in threshold must be below the scale-out threshold');
  if (settings.services.albIdleTimeoutS * 1000 < albIdleTimeoutHeartbeatsMin * sseHeartbeatMs) {
    problems.push(`albIdleTimeoutS ${settings.services.albIdleTimeoutS} must be at least ${albIdleTimeoutHeartbeatsMin} SSE heartbeats (${(albIdleTimeoutHeartbeatsMin * sseHeartbeatMs) / 1000} s)`);
  }
  if (settings.database.storageMaxGiB < settings.database.storageGiB) problems.push('dbStorageMaxGiB is below dbStorageGiB');
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(settings.name)) problems.push(`name must be lowercase letters, digits and dashes, got "${settings.name}"`);
  if (settings.services.traces.kind === 'otlp' && !URL.canParse(settings.services.traces.endpoint)) problems.push('tracesEndpoint must be a URL');
  if (settings.services.imageUri !== '' && !settings.services.imageUri.includes('{service}')) {
    problems.push(`imageUri must contain {service} (replaced by ticketing-service or reservation-service), got "${settings.services.imageUri}"`);
  }
  if (!logRetentionDaysAllowed.has(settings.services.logRetentionDays)) {
    problems.push(`logRetentionDays must be one of ${[...logRetentionDaysAllowed].join(', ')}, got ${settings.services.logRetentionDays}`);
  }
  return problems;
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}
