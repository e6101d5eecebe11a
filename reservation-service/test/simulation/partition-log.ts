// The command topic as the reservation consumers see it: one append-only log per partition,
// the group's committed offset per partition (the next offset to read), and the group's
// generation. A rebalance starts a new generation; a commit from a member of an older one, or
// for a partition it no longer owns, is refused, as Kafka refuses a fenced member's commit.
// Fetching is not fenced, which is what lets a stalled member (a zombie) keep deciding.

export interface LogRecord {
  readonly offset: number;
  readonly value: Buffer;
}

export interface PartitionLog {
  readonly partitions: number;
  append(partition: number, value: Buffer): number;
  fetch(partition: number, fromOffset: number, countMax: number): LogRecord[];
  end(partition: number): number;
  committed(partition: number): number;
  generation(): number;
  owner(partition: number): number | null;
  // Starts a new generation with these owners (partition → member); returns it.
  assign(owners: ReadonlyMap<number, number>): number;
  commit(partition: number, member: number, generation: number, nextOffset: number): boolean;
}

export function createPartitionLog(partitions: number): PartitionLog {
  const logs: Buffer[][] = Array.from({ length: partitions }, () => []);
  const committed: number[] = Array.from({ length: partitions }, () => 0);
  let owners = new Map<number, number>();
  let generation = 0;
  const log = (partition: number) => {
    const found = logs[partition];
    if (!found) throw new RangeError(`no partition ${partition}`);
    return found;
  };
  return {
    partitions,
    append(partition, value) {
      log(partition).push(value);
      return log(partition).length - 1;
    },
    fetch(partition, fromOffset, countMax) {
      return log(partition).slice(fromOffset, fromOffset + countMax).map((value, index) => ({ offset: fromOffset + index, value }));
    },
    end: (partition) => log(partition).length,
    committed: (partition) => committed[partition]!,
    generation: () => generation,
    owner: (partition) => owners.get(partition) ?? null,
    assign(next) {
      owners = new Map(next);
      return ++generation;
    },
    commit(partition, member, memberGeneration, nextOffset) {
      if (memberGeneration !== generation || owners.get(partition) !== member) return false;
      committed[partition] = nextOffset;
      return true;
    },
  };
}
