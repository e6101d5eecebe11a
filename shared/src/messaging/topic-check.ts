import type { KafkaClient } from './kafka.ts';

export class TopicMissingError extends Error {
  readonly code = 'TOPIC_MISSING';
}

// Services never create topics (partition count and replication are infrastructure decisions);
// they refuse to start without them, with a message that says what to run.
export async function requireTopic(kafka: KafkaClient, topic: string): Promise<number> {
  const partitions = await kafka.topicPartitions(topic);
  if (partitions === null || partitions === 0) {
    throw new TopicMissingError(`Kafka topic "${topic}" does not exist. Create it with \`npm run topics\` (or your infrastructure), then start again.`);
  }
  return partitions;
}

// For operators (`npm run topics`, `npm start` against a real cluster): create the topic when it
// is missing, report it when it exists. An existing topic is never changed: a new partition
// count would remap subsections to partitions, which must be a deliberate migration.
export async function ensureTopic(kafka: KafkaClient, options: { topic: string; partitions: number; replicationFactor: number }): Promise<string> {
  const existing = await kafka.topicPartitions(options.topic);
  if (existing === null) {
    await kafka.createTopic(options);
    return `created ${options.topic} with ${options.partitions} partitions, replication factor ${options.replicationFactor}`;
  }
  if (existing !== options.partitions) {
    return `${options.topic} exists with ${existing} partitions (KAFKA_PARTITIONS is ${options.partitions}); left unchanged`;
  }
  return `${options.topic} exists with ${existing} partitions`;
}
