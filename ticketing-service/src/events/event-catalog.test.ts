import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEventCatalog } from './event-catalog.ts';
import type { EventLayout, EventPolicy } from './event-layout.ts';
import type { EventStore } from './event-store.ts';

const layout = (id: string): EventLayout => ({
  id, organizerId: 'o', startsAt: null, createdAt: '2026-01-01T00:00:00.000Z', capacity: 0, sections: [], subsectionsByKey: new Map(), subsectionsById: new Map(),
});
const policy = (name: string): EventPolicy => ({ name, salesOpenAtMs: null, salesCloseAtMs: null, closedAtMs: null, cancelledAtMs: null, holdDurationS: null, buyerSeatsMax: null });

function storeCounting(known: readonly string[]) {
  const loads: string[] = [];
  const policyLoads: string[] = [];
  const store: EventStore = {
    create: async () => assert.fail('not used'),
    updatePolicy: async () => assert.fail('not used'),
    counts: async () => [],
    load: async (id) => {
      loads.push(id);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return known.includes(id) ? { layout: layout(id), policy: policy(id) } : null;
    },
    loadPolicy: async (id) => {
      policyLoads.push(id);
      return known.includes(id) ? policy(`${id}-renamed`) : null;
    },
  };
  return { store, loads, policyLoads };
}

test('concurrent misses share one load and later reads hit the cache', async () => {
  const { store, loads } = storeCounting(['a']);
  const catalog = createEventCatalog({ store, entriesMax: 10, missTtlMs: 1000, policyTtlMs: 60_000, clock: Date.now });
  const results = await Promise.all([catalog.get('a'), catalog.get('a'), catalog.get('a')]);
  assert.ok(results.every((result) => result?.layout.id === 'a'));
  await catalog.get('a');
  assert.deepEqual(loads, ['a']);
});

test('unknown events are remembered for the miss TTL only', async () => {
  const { store, loads } = storeCounting([]);
  let now = 0;
  const catalog = createEventCatalog({ store, entriesMax: 10, missTtlMs: 1000, policyTtlMs: 60_000, clock: () => now });
  assert.equal(await catalog.get('x'), null);
  assert.equal(await catalog.get('x'), null);
  now = 1500;
  assert.equal(await catalog.get('x'), null);
  assert.deepEqual(loads, ['x', 'x']);
});

test('the cache is bounded, least recently used first out', async () => {
  const { store, loads } = storeCounting(['a', 'b', 'c']);
  const catalog = createEventCatalog({ store, entriesMax: 2, missTtlMs: 1000, policyTtlMs: 60_000, clock: Date.now });
  await catalog.get('a');
  await catalog.get('b');
  await catalog.get('a');
  await catalog.get('c');
  await catalog.get('a');
  await catalog.get('b');
  assert.deepEqual(loads, ['a', 'b', 'c', 'b']);
});

test('a cached layout keeps its seats but refreshes its policy after the policy TTL', async () => {
  const { store, loads, policyLoads } = storeCounting(['a']);
  let now = 0;
  const catalog = createEventCatalog({ store, entriesMax: 10, missTtlMs: 1000, policyTtlMs: 1000, clock: () => now });
  assert.equal((await catalog.get('a'))?.policy.name, 'a');
  now = 500;
  assert.equal((await catalog.get('a'))?.policy.name, 'a');
  now = 1500;
  assert.equal((await catalog.get('a'))?.policy.name, 'a-renamed');
  assert.deepEqual([loads, policyLoads], [['a'], ['a']]);
});

test('while Postgres is unreachable a known event keeps its last policy, for ten minutes at most', async () => {
  const { store } = storeCounting(['a']);
  let down = false;
  let asked = 0;
  const failing: EventStore = {
    ...store,
    loadPolicy: async (id) => {
      asked += 1;
      return down ? Promise.reject(new Error('connect ECONNREFUSED')) : store.loadPolicy(id);
    },
  };
  let now = 0;
  const catalog = createEventCatalog({ store: failing, entriesMax: 10, missTtlMs: 1000, policyTtlMs: 1000, clock: () => now });
  assert.equal((await catalog.get('a'))?.policy.name, 'a');
  down = true;
  now = 1500;
  assert.equal((await catalog.get('a'))?.policy.name, 'a', 'the last policy, not an error');
  now = 1600;
  await catalog.get('a');
  assert.equal(asked, 1, 'not asked again before another policy TTL');
  now = 11 * 60_000;
  await assert.rejects(catalog.get('a'), /ECONNREFUSED/);
  down = false;
  now += 1000;
  assert.equal((await catalog.get('a'))?.policy.name, 'a-renamed');
});
