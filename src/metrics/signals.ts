/**
 * What other parts of Sluice report to the metrics: rate-limit rejections and fallback, circuit
 * breaker states. Importing this costs nothing; the calls do nothing until the metrics are on
 * (instruments.ts installs the sink), so callers never ask whether metrics are enabled.
 */

export type BreakerState = 'closed' | 'half-open' | 'open';

export interface SignalSink {
  rateLimitRejected(limit: string): void;
  rateLimitFallback(active: boolean): void;
  circuitBreakerState(target: string, state: BreakerState): void;
}

let sink: SignalSink | null = null;

/** Called by the metrics when they start. */
export function installSignals(to: SignalSink): void {
  sink = to;
}

/**
 * A request was refused with 429 by the rate limit `limit` (its configured name).
 * @example rateLimitRejected('per-ip')
 */
export function rateLimitRejected(limit: string): void {
  sink?.rateLimitRejected(limit);
}

/**
 * Rate limits count in the process (Redis failed: `true`) or in Redis again (`false`).
 * @example rateLimitFallback(true)
 */
export function rateLimitFallback(active: boolean): void {
  sink?.rateLimitFallback(active);
}

/**
 * A circuit breaker of a database target changed state.
 * @example circuitBreakerState('primary', 'open')
 */
export function circuitBreakerState(target: string, state: BreakerState): void {
  sink?.circuitBreakerState(target, state);
}
