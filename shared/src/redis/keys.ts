// Every Redis key and channel the system uses, in one place. All are prefixed with
// REDIS_KEY_PREFIX so deployments and test runs can share one server.
//
//   <p>seats:<subsectionId>     string, BITFIELD u2 per seat (0 free, 1 reserved, 2 sold);
//                               a projection of seat_allocations, rebuilt from Postgres
//   <p>seats:<subsectionId>:v   the subsections.projection_version the bitmap reflects
//   <p>booking:<bookingId>      string, JSON booking record (PENDING until decided), with TTL
//   <p>event:<eventId>          Pub/Sub channel of EventUpdate messages for one event

export interface RedisKeys {
  seats(subsectionId: number): string;
  seatsVersion(subsectionId: number): string;
  booking(bookingId: string): string;
  eventChannel(eventId: string): string;
  readonly eventChannelPattern: string;
  eventIdFromChannel(channel: string): string | undefined;
}

export function createRedisKeys(prefix: string): RedisKeys {
  const channelPrefix = `${prefix}event:`;
  return {
    seats: (subsectionId) => `${prefix}seats:${subsectionId}`,
    seatsVersion: (subsectionId) => `${prefix}seats:${subsectionId}:v`,
    booking: (bookingId) => `${prefix}booking:${bookingId}`,
    eventChannel: (eventId) => `${channelPrefix}${eventId}`,
    eventChannelPattern: `${channelPrefix}*`,
    eventIdFromChannel: (channel) => (channel.startsWith(channelPrefix) ? channel.slice(channelPrefix.length) : undefined),
  };
}
