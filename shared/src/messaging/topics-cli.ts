import { loadConfig } from '../config.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createKafkaClient } from './kafka.ts';
import { ensureTopic } from './topic-check.ts';

// `npm run topics`: against a real Kafka cluster, creates the command topic (KAFKA_PARTITIONS
// partitions, KAFKA_REPLICATION_FACTOR replicas, min.insync.replicas 2) or reports the existing
// one. The local mock cluster creates its topics itself.
const config = loadConfig();
const kafka = createKafkaClient({ ...config.kafka, clientId: `${config.kafka.clientId}-topics`, logger: createLogger({ name: 'topics', level: config.logLevel }) });
try {
  console.log(await ensureTopic(kafka, { topic: config.kafka.commandTopic, partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor }));
} finally {
  await kafka.close();
}
