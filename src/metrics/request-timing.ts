/**
 * Stage times of one request for `Server-Timing` (named as PostgREST names them): `parse` (URL,
 * credentials, plan and SQL: up to the first statement), `db` (statements), `render` (after the
 * last statement: serialising, compressing), `total`. The database wrapper finds the request's
 * timing through an AsyncLocalStorage entered right before the route handler runs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class RequestTiming {
  readonly start: number;
  /** Milliseconds spent in statements. */
  db = 0;
  /** When the first statement started and the last one ended (-1: none ran). */
  first = -1;
  last = -1;

  constructor(start: number) {
    this.start = start;
  }

  statement(start: number, end: number): void {
    if (this.first < 0) this.first = start;
    this.last = end;
    this.db += end - start;
  }
}

/** The timing of the request whose handler is running (undefined outside one, or with timing off). */
export const currentTiming = new AsyncLocalStorage<RequestTiming>();

const ms = (n: number) => (n < 0 ? 0 : Math.round(n * 10) / 10);

/**
 * The `Server-Timing` value of a request at time `now`.
 * @example serverTiming(timing, performance.now()) // 'parse;dur=0.3, db;dur=1.2, render;dur=0.1, total;dur=1.6'
 */
export function serverTiming(timing: RequestTiming, now: number): string {
  const total = `total;dur=${ms(now - timing.start)}`;
  if (timing.first < 0) return total;
  return `parse;dur=${ms(timing.first - timing.start)}, db;dur=${ms(timing.db)}, render;dur=${ms(now - timing.last)}, ${total}`;
}
