/** `/openapi.json` and `/docs` (placeholder until the generator lands). */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';

export function openapiRoutes(_app: FastifyInstance, _engine: Engine): void {}
