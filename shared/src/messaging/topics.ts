// Partitioning: every command about one subsection carries the key
// `${eventId}:${section}:${subsection}` and lands in partition murmur2(key) mod P. Kafka keeps a
// partition in order and a consumer group gives a partition to one member at a time, so each
// subsection has a single writer and its commands are decided in the order they were accepted.
// Different subsections may share a partition; that only couples their throughput.
//
// The partition is computed here rather than by the client library so the mapping is the same
// whichever Kafka client produces (kafkajs, librdkafka and the Java client disagree on defaults).
// The hash is Kafka's murmur2 with the Java client's `toPositive`, so Java tools agree with it.

export function commandKey(eventId: string, section: string, subsection: number): string {
  return `${eventId}:${section}:${subsection}`;
}

export function partitionFor(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

export function murmur2(data: Uint8Array): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = (seed ^ length) | 0;
  const blocks = length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const at = i * 4;
    let k = (data[at]! & 0xff) | ((data[at + 1]! & 0xff) << 8) | ((data[at + 2]! & 0xff) << 16) | ((data[at + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = blocks * 4;
  const rest = length & 3;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
