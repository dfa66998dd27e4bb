/** The OpenAPI 3.1 document (placeholder until the generator lands). */
import type { Config } from '../config/schema.ts';
import type { Snapshot } from '../schema/model.ts';

export function openapiDocument(_snapshot: Snapshot, _config: Config): Record<string, unknown> {
  return { openapi: '3.1.0', info: { title: 'Sluice', version: '0' }, paths: {} };
}
