/** Time as a port, so workflows that reason about age (a peering PENDING too long) are testable. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
