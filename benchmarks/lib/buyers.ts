// Who sends each booking. By default every buyer makes `attemptsPerBuyer` attempts (2), so
// no buyer can ask for more than 8 seats or send more than a few requests in a window: the
// product's per-buyer seat cap (BUYER_SEATS_MAX, 8) and request rate limit
// (BOOKING_RATE_LIMIT_MAX per BOOKING_RATE_LIMIT_WINDOW_MS) never bind, and the same workload
// is fair to the baselines, which have neither. `users` instead spreads the attempts over a
// fixed pool round robin (then the limits may bind; their refusals count as errors or
// rejections). Names carry the event, so a buyer of one run is never a buyer of another.

export interface BuyerPolicy {
  readonly attemptsPerBuyer: number;
  readonly users: number | undefined;
}

export function buyerOf(policy: BuyerPolicy, eventId: string, index: number): string {
  const tag = `b${eventId.replaceAll('-', '').slice(-10)}`;
  return policy.users === undefined ? `${tag}-${Math.floor(index / policy.attemptsPerBuyer)}` : `${tag}-${index % policy.users}`;
}

export function describeBuyers(policy: BuyerPolicy, attempts: number): string {
  return policy.users === undefined
    ? `${Math.ceil(attempts / policy.attemptsPerBuyer).toLocaleString('en-US')} (${policy.attemptsPerBuyer} attempts each)`
    : `${policy.users.toLocaleString('en-US')} (round robin, about ${Math.ceil(attempts / policy.users)} attempts each)`;
}
