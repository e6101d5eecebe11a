import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { DataStack } from './data-stack.ts';
import { databaseName, databaseUser } from './data-stack.ts';
import { replicationFactor } from './kafka-cluster.ts';
import { ports } from './network-stack.ts';
import type { DeploySettings } from './settings.ts';

// The environment of both services in ECS: plain settings as variables, every secret as an
// ECS secret (injected from Secrets Manager when the task starts, never in the template or the
// task definition).

export interface ServiceEnvironment {
  readonly environment: Record<string, string>;
  readonly secrets: Record<string, ecs.Secret>;
}

export interface ServiceEnvironmentOptions {
  readonly settings: DeploySettings;
  readonly data: DataStack;
  // The SCRAM secret as imported by the services stack (see ServicesStack for why).
  readonly kafkaCredentials: secretsmanager.ISecret;
  readonly service: 'ticketing-service' | 'reservation-service';
  readonly publicUrl: string;
}

export function serviceEnvironment(options: ServiceEnvironmentOptions): ServiceEnvironment {
  const { settings, data } = options;
  return {
    environment: {
      NODE_ENV: 'production',
      LOG_LEVEL: settings.services.logLevel,
      HOST: '0.0.0.0',
      PORT: String(ports.ticketingHttp),
      RESERVATION_HTTP_PORT: String(ports.reservationOps),
      PUBLIC_URL: options.publicUrl,
      DATABASE_URL: `postgres://${databaseUser}@${data.database.dbInstanceEndpointAddress}:${data.database.dbInstanceEndpointPort}/${databaseName}?sslmode=no-verify`,
      // Concurrent starts are safe: migrations run under an advisory lock.
      DATABASE_MIGRATE_ON_START: 'true',
      REDIS_URL: `redis://${data.kvrocks.endpoint}:${ports.kvrocks}`,
      KAFKA_BROKERS: data.kafka.bootstrapBrokers,
      KAFKA_COMMAND_TOPIC: settings.kafka.topic,
      KAFKA_PARTITIONS: String(settings.kafka.partitions),
      KAFKA_REPLICATION_FACTOR: String(replicationFactor),
      KAFKA_CONSUMER_GROUP: settings.kafka.consumerGroup,
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      // The ADOT collector beside the service in the same task.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_SERVICE_NAME: options.service,
    },
    secrets: {
      JWT_SECRET: ecs.Secret.fromSecretsManager(data.jwtSecret),
      DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(data.databaseSecret, 'password'),
      KAFKA_SASL_USERNAME: ecs.Secret.fromSecretsManager(options.kafkaCredentials, 'username'),
      KAFKA_SASL_PASSWORD: ecs.Secret.fromSecretsManager(options.kafkaCredentials, 'password'),
      REDIS_PASSWORD: ecs.Secret.fromSecretsManager(data.kvrocks.password),
    },
  };
}
