import { commandTypeHeader, encodeCommand } from './codec.ts';
import type { CommandProducer } from './kafka.ts';
import type { Command } from './messages.ts';
import { commandKey, partitionFor } from './topics.ts';

// Every command for a subsection goes to that subsection's partition, keyed so tools see the
// subsection, and resolves only once Kafka acknowledged it (acks = all).
export interface CommandPublisher {
  publish(command: Command): Promise<void>;
}

export function createCommandPublisher(options: { producer: CommandProducer; topic: string; partitions: number }): CommandPublisher {
  return {
    publish(command) {
      const key = commandKey(command.eventId, command.section, command.subsection);
      return options.producer.send({
        topic: options.topic,
        partition: partitionFor(key, options.partitions),
        key,
        value: encodeCommand(command),
        headers: { 'content-type': 'application/json', 'message-type': commandTypeHeader(command) },
      });
    },
  };
}
