import { Type, type TString } from 'typebox';

// The string types request schemas are built from, stricter than JSON Schema's formats where
// those accept what Postgres or the consumers cannot hold. Anything a schema lets through
// must be storable as it is: a value Postgres refuses would be a 500, and one a consumer
// refuses a command lost after its 202.

type StringOptions = Parameters<typeof Type.String>[0];

// Free text: Postgres's text type cannot hold U+0000.
export function plainText(options: StringOptions = {}): TString {
  return Type.String({ ...options, pattern: '^[^\\u0000]*$' });
}

// A UUID in its hyphenated form, in either case (handlers fold it to lower case, ids.ts).
// The `uuid` format also accepts a `urn:uuid:` prefix, which Postgres does not.
export function uuidText(options: StringOptions = {}): TString {
  return Type.String({ ...options, pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
}

// An opaque token from a third party: printable ASCII.
export function tokenText(options: StringOptions = {}): TString {
  return Type.String({ ...options, pattern: '^[\\x21-\\x7e]+$' });
}

// An RFC 3339 instant. The format admits leap seconds (23:59:60) and years before 1, which
// JavaScript or Postgres cannot represent; parseInstant() (domain/instant.ts) refuses those.
export function instantText(options: StringOptions = {}): TString {
  return Type.String({ ...options, format: 'date-time' });
}
