/**
 * `GET /openapi.json` (the document of what the caller's role sees of the current schema snapshot, built once per role view) and
 * `GET /docs` (Swagger UI, every asset served from here so it works offline).
 */
import Negotiator from 'negotiator';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Snapshot } from '../schema/model.ts';
import { SluiceError } from '../errors/registry.ts';
import { openapiDocument } from './document.ts';
import { ASSET_PREFIX, DOCS_CSP, docsUi } from './docs-ui.ts';

const YEAR = 'public, max-age=31536000, immutable';

/** @example openapiRoutes(app, engine) // GET /openapi.json, GET /docs */
export function openapiRoutes(app: FastifyInstance, engine: Engine): void {
  // Keyed by the snapshot object: a reload swaps the snapshot, and the old document goes with it.
  const documents = new WeakMap<Snapshot, string>();

  // Without credentials and without an anonymous role, the document lists no resources.
  const empty = new WeakMap<Snapshot, Snapshot>();
  const callerSnapshot = async (request: FastifyRequest): Promise<Snapshot> => {
    const snapshot = engine.snapshot();
    if (!request.headers.authorization && !request.headers['x-api-key'] && !engine.config.auth.anonRole) {
      if (!empty.has(snapshot)) empty.set(snapshot, { ...snapshot, resources: new Map() });
      return empty.get(snapshot)!;
    }
    return engine.auth.view(snapshot, await engine.auth.principal(request.headers)).snapshot;
  };

  app.get('/openapi.json', async (request, reply) => {
    // The caller's role sees only the resources, columns, relations and methods it may use.
    const snapshot = await callerSnapshot(request);
    let text = documents.get(snapshot);
    if (text === undefined) {
      text = JSON.stringify(openapiDocument(snapshot, engine.config));
      documents.set(snapshot, text);
    }
    // The schema can change on reload: let caches keep it only while they check back.
    return reply.type('application/json; charset=utf-8').headers({ 'cache-control': 'private, no-cache', vary: 'authorization, x-api-key' }).send(text);
  });

  app.get('/docs', async (_request, reply) => {
    const ui = await docsUi();
    return reply.type('text/html; charset=utf-8').headers({ 'cache-control': 'no-cache', 'content-security-policy': DOCS_CSP }).send(ui.html);
  });

  app.get<{ Params: { tag: string; file: string } }>(`${ASSET_PREFIX}/:tag/:file`, async (request, reply) => {
    const ui = await docsUi();
    const asset = ui.assets.get(request.params.file);
    if (!asset) throw new SluiceError('SLUICE_NOT_FOUND', 'no such documentation asset');
    // An old page asking for an older tag (rolling deploy) still gets today's file, uncached.
    reply.type(asset.type).header('cache-control', request.params.tag === ui.tag ? YEAR : 'no-cache').header('vary', 'accept-encoding');
    const gzip = new Negotiator(request).encodings(['gzip', 'identity'])[0] === 'gzip' ? asset.gzip() : null;
    return gzip ? reply.header('content-encoding', 'gzip').send(gzip) : reply.send(asset.body);
  });
}
