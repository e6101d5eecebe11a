import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandKey, murmur2, partitionFor } from './topics.ts';

// Reference values from the Java-compatible murmur2 that Kafka's default partitioner uses.
const vectors: Array<[string, number]> = [
  ['0', 971027396], ['1', -1993445489], ['128', -326012175], ['2187', -1508407203], ['16384', -325739742],
  ['78125', -1654490814], ['279936', 1462227128], ['823543', -2014198330], ['2097152', 607668903],
  ['4782969', -1182699775], ['', 275646681], ['abc', 479470107], ['zzzzzzz', 20163081],
  ['019a9a5e-7c2b-7000-8000-000000000001:Floor:12', -1990708228],
];

test('murmur2 matches the Java client byte for byte', () => {
  for (const [key, expected] of vectors) assert.equal(murmur2(Buffer.from(key)), expected, key);
});

test('a subsection always maps to the same partition, within range', () => {
  const key = commandKey('019a9a5e-7c2b-7000-8000-000000000001', 'Floor', 12);
  assert.equal(key, '019a9a5e-7c2b-7000-8000-000000000001:Floor:12');
  assert.equal(partitionFor(key, 12), partitionFor(key, 12));
  for (const partitions of [1, 2, 7, 12, 100]) {
    for (let subsection = 0; subsection < 200; subsection++) {
      const partition = partitionFor(commandKey('e', 'A', subsection), partitions);
      assert.ok(Number.isInteger(partition) && partition >= 0 && partition < partitions);
    }
  }
});

test('subsections spread over partitions', () => {
  const counts = new Array<number>(12).fill(0);
  for (let subsection = 1; subsection <= 1200; subsection++) counts[partitionFor(commandKey('019a9a5e-7c2b-7000-8000-000000000001', 'A', subsection), 12)]! += 1;
  assert.ok(Math.min(...counts) > 60 && Math.max(...counts) < 140, `uneven spread ${counts.join(',')}`);
});
