// Booking ids are UUIDv7 (RFC 9562 §5.7) made by the client, so a retry carries the same id.
// Version nibble 7, variant bits 10xx.
const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const uuidAny = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuidV7(value: string): boolean {
  return uuidV7.test(value);
}

export function isUuid(value: string): boolean {
  return uuidAny.test(value);
}

// UUIDs are read in either case (RFC 9562 §4) but stored, keyed and compared in lower case:
// Postgres treats the two spellings as one id and Redis as two, so every id is folded at the
// edge before either sees it. Null when the text is not a UUID at all.
export function canonicalUuid(value: string): string | null {
  return uuidAny.test(value) ? value.toLowerCase() : null;
}

// What a command on the wire must carry: the canonical spelling only.
export function isCanonicalUuid(value: string): boolean {
  return uuidAny.test(value) && value === value.toLowerCase();
}

// The millisecond timestamp in a UUIDv7's first 48 bits.
export function uuidV7Time(value: string): number {
  return Number.parseInt(value.slice(0, 8) + value.slice(9, 13), 16);
}
