import type { Redis } from 'ioredis';
import type { EventUpdate } from '@ticketing/shared/messaging/messages';
import type { RedisKeys } from '@ticketing/shared/redis/keys';
import type { Logger } from '@ticketing/shared/telemetry/logger';

// One Redis subscription per process, fanned out in memory: a channel is SUBSCRIBEd when the
// first local listener for its event arrives and UNSUBSCRIBEd when the last leaves, and each
// message is parsed once however many streams are open. Pub/Sub is fire-and-forget, so
// streams never rely on it alone: each one first reads the current state, and the hub tells
// listeners when the subscription was re-established so they can read it again.

export type EventListener = {
  readonly onUpdate: (update: EventUpdate) => void;
  // The subscription was lost and is back; messages in between may be missing.
  readonly onResync?: () => void;
};

export interface EventHub {
  listen(eventId: string, listener: EventListener): Promise<() => void>;
  readonly channels: number;
  close(): Promise<void>;
}

interface Entry {
  readonly listeners: Set<EventListener>;
  readonly subscribed: Promise<unknown>;
}

export function createEventHub(options: { subscriber: Redis; keys: RedisKeys; logger: Logger }): EventHub {
  const { subscriber, keys, logger } = options;
  const entries = new Map<string, Entry>();
  let connectedBefore = false;

  subscriber.on('message', (channel: string, message: string) => {
    const eventId = keys.eventIdFromChannel(channel);
    const entry = eventId ? entries.get(eventId) : undefined;
    if (!entry || entry.listeners.size === 0) return;
    let update: EventUpdate;
    try {
      update = JSON.parse(message) as EventUpdate;
    } catch (error) {
      logger.error({ err: error, channel }, 'unparseable event update');
      return;
    }
    for (const listener of entry.listeners) listener.onUpdate(update);
  });
  subscriber.on('ready', () => {
    // ioredis re-subscribes by itself after a reconnect; what was published meanwhile is gone.
    if (connectedBefore) for (const entry of entries.values()) for (const listener of entry.listeners) listener.onResync?.();
    connectedBefore = true;
  });

  const unlisten = (eventId: string, listener: EventListener) => {
    const entry = entries.get(eventId);
    if (!entry?.listeners.delete(listener) || entry.listeners.size > 0) return;
    entries.delete(eventId);
    subscriber.unsubscribe(keys.eventChannel(eventId)).catch((error: unknown) => logger.warn({ err: error }, 'unsubscribe failed'));
  };

  return {
    get channels() {
      return entries.size;
    },
    // Resolves once the subscription is active, so a state read after it cannot miss an update.
    async listen(eventId, listener) {
      let entry = entries.get(eventId);
      if (!entry) {
        entry = { listeners: new Set(), subscribed: subscriber.subscribe(keys.eventChannel(eventId)) };
        entries.set(eventId, entry);
      }
      entry.listeners.add(listener);
      try {
        await entry.subscribed;
      } catch (error) {
        unlisten(eventId, listener);
        throw error;
      }
      return () => unlisten(eventId, listener);
    },
    async close() {
      entries.clear();
      subscriber.disconnect();
    },
  };
}
