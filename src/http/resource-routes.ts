/**
 * The resource paths of SPEC §2 under the base path: `/{res}` and `/{res}/{id}`, every method
 * dispatched here so that an unsupported one is a 405 with `Allow`, never a bare 404.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Resource } from '../schema/model.ts';
import { SluiceError } from '../errors/registry.ts';
import type { Action } from '../auth/policies.ts';
import type { Caller } from './caller.ts';
import type { Principal } from '../auth/principal.ts';

type Handler = (caller: Caller, resource: Resource) => unknown;

/** Runs `handler` for the request's caller — without a promise when its credentials are cached. */
function withCaller(engine: Engine, request: FastifyRequest<{ Params: Params }>, handler: Handler): unknown {
  const principal = engine.auth.principal(request.headers);
  if (principal instanceof Promise) {
    return principal.then((p) => {
      const { caller, resource } = callerOf(engine, request, p);
      return handler(caller, resource);
    });
  }
  const { caller, resource } = callerOf(engine, request, principal);
  return handler(caller, resource);
}
import { readList, readOne } from './read-routes.ts';
import { quickHit } from './respond.ts';
import { bulk, create, deleteOne, methodNotAllowed, replaceOne, updateOne } from './write-routes.ts';

interface Params {
  resource: string;
  id?: string;
}

/**
 * The caller and the resource as the caller's role sees it. A resource the role may not use at
 * all is unknown (404), exactly like one that does not exist.
 */
function callerOf(engine: Engine, request: FastifyRequest<{ Params: Params }>, principal: Principal): { caller: Caller; resource: Resource } {
  const view = engine.auth.view(engine.snapshot(), principal);
  const name = request.params.resource;
  const resource = view.snapshot.resources.get(name);
  if (!resource) throw new SluiceError('SLUICE_UNKNOWN_RESOURCE', `no resource is named '${name.length > 80 ? `${name.slice(0, 80)}…` : name}'`);
  return { caller: { principal, view }, resource };
}

/** 403 unless the caller's role may do every one of `actions` on the resource. */
export function assertAllowed(caller: Caller, resource: Resource, actions: readonly Action[], method: string): void {
  const missing = actions.filter((a) => !caller.view.can(resource.name, a));
  if (missing.length) throw new SluiceError('SLUICE_FORBIDDEN', `role '${caller.principal.role}' may not ${missing.join(' or ')} ${resource.name} (${method})`);
}

/** The raw (still percent-encoded) last path segment: composite keys split on literal commas. */
function rawId(request: FastifyRequest): string {
  const url = request.raw.url ?? '';
  const q = url.indexOf('?');
  let end = q < 0 ? url.length : q;
  while (end > 0 && url.charCodeAt(end - 1) === 0x2f) end--; // trailing slashes (ignoreTrailingSlash)
  return url.slice(url.lastIndexOf('/', end - 1) + 1, end);
}

type Route = (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => unknown;

/** With the response cache on, a GET that is a fresh hit is answered before `route` runs. */
function atTheDoor(engine: Engine, route: Route): Route {
  if (!engine.cache) return route;
  return (request, reply) => {
    const hit = request.method === 'GET' ? quickHit(engine, request, reply) : undefined;
    return hit !== undefined ? hit : route(request, reply);
  };
}

export function resourceRoutes(app: FastifyInstance, engine: Engine): void {
  const base = engine.config.server.basePath;
  app.all<{ Params: Params }>(`${base}/:resource`, atTheDoor(engine, (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => withCaller(engine, request, (caller, resource) => {
    switch (request.method) {
      case 'GET': case 'HEAD':
        assertAllowed(caller, resource, ['read'], request.method);
        return readList(engine, caller, resource, request, reply);
      case 'POST': return create(engine, caller, resource, request, reply);
      case 'PATCH': return bulk(engine, caller, resource, request, reply, 'update');
      case 'DELETE': return bulk(engine, caller, resource, request, reply, 'delete');
      default: throw methodNotAllowed(resource, request.method, false);
    }
  })));
  app.all<{ Params: Params }>(`${base}/:resource/:id`, atTheDoor(engine, (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => withCaller(engine, request, (caller, resource) => {
    const id = rawId(request);
    switch (request.method) {
      case 'GET': case 'HEAD':
        assertAllowed(caller, resource, ['read'], request.method);
        return readOne(engine, caller, resource, id, request, reply);
      case 'PATCH': return updateOne(engine, caller, resource, id, request, reply);
      case 'PUT': return replaceOne(engine, caller, resource, id, request, reply);
      case 'DELETE': return deleteOne(engine, caller, resource, id, request, reply);
      default: throw methodNotAllowed(resource, request.method, true);
    }
  })));
}
