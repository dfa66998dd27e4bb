/**
 * The resource paths of SPEC §2 under the base path: `/{res}` and `/{res}/{id}`, every method
 * dispatched here so that an unsupported one is a 405 with `Allow`, never a bare 404.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Resource } from '../schema/model.ts';
import { SluiceError } from '../errors/registry.ts';
import { readList, readOne, splitUrl } from './read-routes.ts';
import { bulk, create, deleteOne, methodNotAllowed, replaceOne, updateOne } from './write-routes.ts';

interface Params {
  resource: string;
  id?: string;
}

function resourceOf(engine: Engine, name: string): Resource {
  const resource = engine.snapshot().resources.get(name);
  if (!resource) throw new SluiceError('SLUICE_UNKNOWN_RESOURCE', `no resource is named '${name.length > 80 ? `${name.slice(0, 80)}…` : name}'`);
  return resource;
}

/** The raw (still percent-encoded) last path segment: composite keys split on literal commas. */
function rawId(request: FastifyRequest): string {
  const path = splitUrl(request.raw.url ?? '').path.replace(/\/+$/, '');
  return path.slice(path.lastIndexOf('/') + 1);
}

export function resourceRoutes(app: FastifyInstance, engine: Engine): void {
  const base = engine.config.server.basePath;
  app.all<{ Params: Params }>(`${base}/:resource`, (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const resource = resourceOf(engine, request.params.resource);
    switch (request.method) {
      case 'GET': case 'HEAD': return readList(engine, resource, request, reply);
      case 'POST': return create(engine, resource, request, reply);
      case 'PATCH': return bulk(engine, resource, request, reply, 'update');
      case 'DELETE': return bulk(engine, resource, request, reply, 'delete');
      default: throw methodNotAllowed(resource, request.method, false);
    }
  });
  app.all<{ Params: Params }>(`${base}/:resource/:id`, (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const resource = resourceOf(engine, request.params.resource);
    const id = rawId(request);
    switch (request.method) {
      case 'GET': case 'HEAD': return readOne(engine, resource, id, request, reply);
      case 'PATCH': return updateOne(engine, resource, id, request, reply);
      case 'PUT': return replaceOne(engine, resource, id, request, reply);
      case 'DELETE': return deleteOne(engine, resource, id, request, reply);
      default: throw methodNotAllowed(resource, request.method, true);
    }
  });
}
