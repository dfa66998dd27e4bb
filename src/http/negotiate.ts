/**
 * Content negotiation: JSON by default; `application/x-ndjson` and `text/csv` stream lists.
 * Anything else a client insists on is a 406.
 */
import Negotiator from 'negotiator';
import type { IncomingHttpHeaders } from 'node:http';
import { SluiceError } from '../errors/registry.ts';

export type Format = 'json' | 'ndjson' | 'csv';

const TYPES = ['application/json', 'application/x-ndjson', 'text/csv'] as const;
const FORMAT: Record<(typeof TYPES)[number], Format> = { 'application/json': 'json', 'application/x-ndjson': 'ndjson', 'text/csv': 'csv' };

/** @example negotiate({ accept: 'text/csv' }, true) === 'csv' */
export function negotiate(headers: IncomingHttpHeaders, streams: boolean): Format {
  const accept = headers.accept;
  if (accept === undefined || accept === '*/*' || accept === 'application/json') return 'json';
  const offered = streams ? TYPES : TYPES.slice(0, 1);
  const type = new Negotiator({ headers }).mediaType([...offered]) as (typeof TYPES)[number] | undefined;
  if (!type) {
    throw new SluiceError('SLUICE_NOT_ACCEPTABLE', `cannot answer with ${accept}; this path answers with ${offered.join(', ')}`);
  }
  return FORMAT[type];
}
