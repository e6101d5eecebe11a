import type { EventLayout, EventPolicy } from './event-layout.ts';
import type { EventStore } from './event-store.ts';

// Every process keeps the event layouts it has seen (bounded, least recently used first out);
// layouts never change. Sales policies can change (an organizer closes sales), so they are
// kept for `policyTtlMs` only: a change reaches every process within that. Unknown ids are
// remembered briefly so a flood of bookings for an event that does not exist costs one query
// per `missTtlMs`, not one per request. Concurrent misses for the same id share one query.
//
// While Postgres cannot be reached, a known event keeps its last policy (for up to
// `policyStaleMaxMs`), so bookings are still accepted and queued: the reservation service
// checks the policy again when it decides, so a stale "on sale" can never sell a seat.

export interface CatalogEntry {
  readonly layout: EventLayout;
  readonly policy: EventPolicy;
}

export interface EventCatalog {
  get(eventId: string): Promise<CatalogEntry | null>;
  remember(layout: EventLayout, policy: EventPolicy): void;
}

const policyStaleMaxMs = 10 * 60_000;

export function createEventCatalog(options: { store: EventStore; entriesMax: number; missTtlMs: number; policyTtlMs: number; clock: () => number }): EventCatalog {
  // policyAtMs: when the policy was last checked; loadedAtMs: when Postgres last answered.
  const entries = new Map<string, { layout: EventLayout; policy: EventPolicy; policyAtMs: number; loadedAtMs: number }>();
  const misses = new Map<string, number>();
  const loading = new Map<string, Promise<CatalogEntry | null>>();

  const remember = (layout: EventLayout, policy: EventPolicy, loadedAtMs = options.clock()) => {
    entries.delete(layout.id);
    entries.set(layout.id, { layout, policy, policyAtMs: options.clock(), loadedAtMs });
    if (entries.size > options.entriesMax) entries.delete(entries.keys().next().value!);
    misses.delete(layout.id);
  };

  const load = async (eventId: string): Promise<CatalogEntry | null> => {
    const cached = entries.get(eventId);
    if (cached) {
      let policy: EventPolicy | null;
      try {
        policy = await options.store.loadPolicy(eventId);
      } catch (error) {
        if (options.clock() - cached.loadedAtMs > policyStaleMaxMs) throw error;
        // Checked again after another policyTtlMs.
        remember(cached.layout, cached.policy, cached.loadedAtMs);
        return { layout: cached.layout, policy: cached.policy };
      }
      if (!policy) return null;
      remember(cached.layout, policy);
      return { layout: cached.layout, policy };
    }
    const loaded = await options.store.load(eventId);
    if (!loaded) return null;
    remember(loaded.layout, loaded.policy);
    return loaded;
  };

  return {
    remember,
    async get(eventId) {
      const cached = entries.get(eventId);
      if (cached && options.clock() - cached.policyAtMs < options.policyTtlMs) {
        entries.delete(eventId);
        entries.set(eventId, cached);
        return { layout: cached.layout, policy: cached.policy };
      }
      const missedAt = misses.get(eventId);
      if (!cached && missedAt !== undefined && options.clock() - missedAt < options.missTtlMs) return null;
      let pending = loading.get(eventId);
      if (!pending) {
        pending = load(eventId).finally(() => loading.delete(eventId));
        loading.set(eventId, pending);
      }
      const entry = await pending;
      if (!entry) {
        if (misses.size >= options.entriesMax) misses.clear();
        misses.set(eventId, options.clock());
      }
      return entry;
    },
  };
}
