import { renderRowStates, seatPosition, seatStateChars } from '@ticketing/shared/domain/seat-map';
import type { EventUpdate } from '@ticketing/shared/messaging/messages';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { subsectionKey, type EventLayout, type SubsectionLayout } from '../events/event-layout.ts';
import type { EventHub } from './event-hub.ts';

// The live seat map of one event, shared by every event-stream client of this process.
//
// Coalescing: seat changes from the reservation service are merged per seat (last state wins)
// and sent at most once per `flushMs`, so a hot subsection costs each client one message per
// window however many bookings it decides. Each distinct client scope is serialised once per
// flush and the same bytes are written to every client with that scope.
//
// Ordering: a client is registered before its snapshot is read and frames flushed meanwhile
// are queued behind the snapshot, so nothing between snapshot and first delta is missed.
// Snapshots are shared by clients that join between two flushes (the herd at on-sale time
// costs one read per window, not one per client); a flush invalidates them.

export interface FeedClient {
  readonly scope: readonly SubsectionLayout[];
  readonly scopeKey: string;
  write(frame: string): void;
}

export interface SubsectionCounts {
  readonly reserved: number;
  readonly sold: number;
}

export interface FeedSnapshotSource {
  counts(layout: EventLayout): Promise<Map<number, SubsectionCounts>>;
  seatStates(subsections: readonly SubsectionLayout[]): Promise<Uint8Array[]>;
}

export interface EventFeeds {
  join(layout: EventLayout, client: FeedClient): Promise<() => void>;
  readonly feeds: number;
}

interface ClientState {
  readonly client: FeedClient;
  queued: string[] | null;
}

interface Feed {
  readonly layout: EventLayout;
  readonly clients: Set<ClientState>;
  readonly snapshots: Map<string, Promise<string>>;
  readonly changes: Map<number, Map<number, number>>;
  readonly counts: Map<number, SubsectionCounts>;
  stop: (() => void) | null;
  ready: Promise<void> | null;
}

export function sseFrame(event: string, data: string, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${data}\n\n`;
}

export function createEventFeeds(options: { hub: EventHub; source: FeedSnapshotSource; flushMs: number; logger: Logger }): EventFeeds {
  const feeds = new Map<string, Feed>();
  const timer = setInterval(() => {
    for (const feed of feeds.values()) flush(feed);
  }, options.flushMs);
  timer.unref();

  const accumulate = (feed: Feed, update: EventUpdate) => {
    for (const sub of update.subsections) {
      const layout = feed.layout.subsectionsByKey.get(subsectionKey(sub.section, sub.subsection));
      if (!layout) continue;
      let seats = feed.changes.get(layout.id);
      if (!seats) feed.changes.set(layout.id, (seats = new Map()));
      for (const [seat, state] of sub.changes) seats.set(seat, state);
      feed.counts.set(layout.id, { reserved: sub.reserved, sold: sub.sold });
    }
  };

  const flush = (feed: Feed) => {
    if (feed.counts.size === 0) return;
    feed.snapshots.clear();
    const frames = new Map<string, string>();
    for (const state of feed.clients) {
      let frame = frames.get(state.client.scopeKey);
      if (frame === undefined) {
        frame = sseFrame('delta', JSON.stringify(deltaPayload(feed, state.client.scope)));
        frames.set(state.client.scopeKey, frame);
      }
      if (state.queued) state.queued.push(frame);
      else state.client.write(frame);
    }
    feed.changes.clear();
    feed.counts.clear();
  };

  const snapshotFor = (feed: Feed, client: FeedClient): Promise<string> => {
    let snapshot = feed.snapshots.get(client.scopeKey);
    if (!snapshot) {
      snapshot = buildSnapshot(feed.layout, client.scope, options.source).then((payload) => sseFrame('snapshot', JSON.stringify(payload)));
      snapshot.catch(() => feed.snapshots.delete(client.scopeKey));
      feed.snapshots.set(client.scopeKey, snapshot);
    }
    return snapshot;
  };

  const resync = (feed: Feed) => {
    feed.snapshots.clear();
    for (const state of feed.clients) void deliverSnapshot(feed, state);
  };

  const deliverSnapshot = async (feed: Feed, state: ClientState) => {
    state.queued ??= [];
    const frame = await snapshotFor(feed, state.client);
    const queued = state.queued;
    state.queued = null;
    state.client.write(frame);
    for (const next of queued) state.client.write(next);
  };

  const leave = (feed: Feed, state: ClientState) => {
    feed.clients.delete(state);
    if (feed.clients.size > 0) return;
    feeds.delete(feed.layout.id);
    feed.stop?.();
  };

  return {
    get feeds() {
      return feeds.size;
    },
    async join(layout, client) {
      let feed = feeds.get(layout.id);
      if (!feed) {
        const created: Feed = { layout, clients: new Set(), snapshots: new Map(), changes: new Map(), counts: new Map(), stop: null, ready: null };
        created.ready = options.hub
          .listen(layout.id, { onUpdate: (update) => accumulate(created, update), onResync: () => resync(created) })
          .then((stop) => {
            created.stop = stop;
          });
        feeds.set(layout.id, created);
        feed = created;
      }
      const state: ClientState = { client, queued: [] };
      feed.clients.add(state);
      const joined = feed;
      try {
        await joined.ready;
        await deliverSnapshot(joined, state);
      } catch (error) {
        leave(joined, state);
        throw error;
      }
      return () => leave(joined, state);
    },
  };
}

function stateChar(state: number): string {
  return seatStateChars[state] ?? '?';
}

function deltaPayload(feed: Feed, scope: readonly SubsectionLayout[]) {
  const inScope = new Set(scope.map((sub) => sub.id));
  const subsections = [];
  for (const [id, counts] of feed.counts) {
    const layout = feed.layout.subsectionsById.get(id);
    if (!layout) continue;
    const seats = inScope.has(id) ? feed.changes.get(id) : undefined;
    subsections.push({
      section: layout.section,
      subsection: layout.number,
      capacity: layout.capacity,
      available: layout.capacity - counts.reserved - counts.sold,
      reserved: counts.reserved,
      sold: counts.sold,
      ...(seats ? { changes: [...seats].map(([seat, state]) => { const at = seatPosition(layout, seat); return [at.row, at.seat, stateChar(state)]; }) } : {}),
    });
  }
  return { eventId: feed.layout.id, subsections };
}

async function buildSnapshot(layout: EventLayout, scope: readonly SubsectionLayout[], source: FeedSnapshotSource) {
  const [counts, states] = await Promise.all([source.counts(layout), source.seatStates(scope)]);
  const rowStatesById = new Map(scope.map((sub, position) => [sub.id, renderRowStates(sub, states[position]!)]));
  return {
    eventId: layout.id,
    subsections: layout.sections.flatMap((section) => section.subsections.map((sub) => {
      const count = counts.get(sub.id) ?? { reserved: 0, sold: 0 };
      const rowStates = rowStatesById.get(sub.id);
      return {
        section: sub.section, subsection: sub.number, rows: sub.rows, seatsPerRow: sub.seatsPerRow, capacity: sub.capacity,
        available: sub.capacity - count.reserved - count.sold, reserved: count.reserved, sold: count.sold,
        ...(rowStates ? { rowStates } : {}),
      };
    })),
  };
}
