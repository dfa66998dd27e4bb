/**
 * The Fastify shell: limits at the edge (URL length, body size, header and request timeouts),
 * health, the problem pages, the resource routes and the documentation. Stages below never see
 * Fastify; errors from any of them become problem+json here and only here.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Engine } from '../engine.ts';
import { PROBLEMS, SluiceError } from '../errors/registry.ts';
import { problem, type Problem } from './problem.ts';
import { resourceRoutes } from './resource-routes.ts';
import { problemPage } from './problem-pages.ts';
import { openapiRoutes } from '../openapi/routes.ts';
import { adminRoutes } from './admin-routes.ts';
import { rateLimits } from './rate-limit.ts';
import { edgeHeaders, PAGE_CSP } from './edge-headers.ts';
import { VERSION } from '../version.ts';
import { pino } from 'pino';
import { requestId } from '../ops/request-id.ts';
import { REDACT_PATHS } from '../ops/request-log.ts';
import { observe, type Observers } from '../ops/observe.ts';
import { edgeHits, type EdgeHits } from './edge-hits.ts';
import type { Lifecycle } from '../ops/lifecycle.ts';

export interface ServerOptions {
  readonly engine: Engine;
  /** pino options or false; defaults to JSON logs at `log.level`. */
  readonly logger?: boolean | Record<string, unknown>;
  /** Answers `/health/ready`: false while starting or draining. */
  readonly ready?: () => boolean;
  /** Draining: readiness fails and responses close their connections (src/ops/shutdown.ts). */
  readonly lifecycle?: Lifecycle;
  /** Metrics, request logs, traces, Server-Timing and load shedding (src/ops/observe.ts). */
  readonly observers?: Observers;
}

const EMPTY_QUERY = Object.freeze({});

/**
 * Log lines go to stdout without blocking, in blocks of 4 KB or at least every second, instead of
 * a write system call per request line: with --workers 2 the workers' writes to one stdout
 * contended, and a cached read served 1.14× one worker's rate instead of 1.3× (measured). pino
 * flushes what is queued when the process exits; a process killed with SIGKILL loses at most the
 * last second of lines.
 */
let stdout: ReturnType<typeof pino.destination> | undefined;
const stdoutLog = () => (stdout ??= pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 }));

/** A Buffer keeps the media type exactly as RFC 9457 names it (Fastify appends a charset to strings). */
function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  const headers = { ...p.headers, 'content-type': 'application/problem+json', 'x-request-id': String(p.body.requestId) };
  return reply.code(p.status).headers(headers).send(Buffer.from(JSON.stringify(p.body)));
}

export function buildServer(options: ServerOptions): FastifyInstance {
  const { engine, lifecycle } = options;
  const { config } = engine;
  // Credential headers are censored in anything logged, whoever logs it.
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  // Cache hits answered before Fastify (http/edge-hits.ts), set once the routes and observers exist.
  let edge: EdgeHits | null = null;
  const app = Fastify({
    // The server Fastify would make (lib/server.js), with the edge in front of its handler.
    serverFactory: (handler: RequestListener, options: Record<string, unknown>) => {
      const opts = options as { http?: object; keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket?: number };
      const server = createServer(opts.http ?? {}, (req: IncomingMessage, res: ServerResponse) => {
        if (edge === null || !edge(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = opts.keepAliveTimeout;
      server.requestTimeout = opts.requestTimeout;
      server.setTimeout(opts.connectionTimeout);
      if (opts.maxRequestsPerSocket) server.maxRequestsPerSocket = opts.maxRequestsPerSocket;
      return server;
    },
    logger: options.logger === undefined ? { level: config.log.level, redact, stream: stdoutLog() } : typeof options.logger === 'object' ? { redact, ...options.logger } : options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // Fastify binds a pino child to every request; that cost showed in per-request CPU. Requests
    // share the root logger, and the few lines Sluice logs carry the request id themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: config.limits.bodySize,
    // An incoming X-Request-Id is kept only when short and of safe characters (ops/request-id.ts).
    requestIdHeader: false,
    genReqId: requestId,
    requestTimeout: config.server.requestTimeout,
    connectionTimeout: 0,
    keepAliveTimeout: config.server.keepAliveTimeout,
    // Node checks the header and request timeouts on this interval (30 s by default, which would
    // let a slow client hold a connection far past a short timeout).
    http: { headersTimeout: config.server.headersTimeout, connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.round(config.server.headersTimeout / 4))) },
    // Once closing, a request that still arrives on an open connection is served (with Connection:
    // close) rather than refused with Fastify's non-problem 503; the drain (ops/shutdown.ts) has
    // told clients to go elsewhere by then. Idle keep-alive connections are closed at once.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    trustProxy: config.server.trustProxy,
    routerOptions: {
      // Longer than any URL Node accepts: long URLs reach the onRequest check below (a 414 problem).
      maxParamLength: 1 << 20, ignoreTrailingSlash: true, caseSensitive: true,
      // The query grammar of SPEC §3 is parsed from the raw URL by request/query-params.ts.
      querystringParser: () => EMPTY_QUERY,
    },
    // Malformed percent-encoding in the path fails in the router, before any hook.
    frameworkErrors: (_error, request, reply) => {
      sendProblem(reply as unknown as FastifyReply, problem(new SluiceError('SLUICE_BAD_REQUEST', 'the URL path has malformed percent-encoding'), request.id));
    },
    clientErrorHandler: (err, socket) => {
      const code = (err as { code?: string }).code;
      const kind = code === 'HPE_HEADER_OVERFLOW' ? 'SLUICE_HEADERS_TOO_LARGE' : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'SLUICE_REQUEST_TIMEOUT' : 'SLUICE_BAD_REQUEST';
      if (!socket.writable || code === 'ECONNRESET') return socket.destroy();
      const p = problem(new SluiceError(kind, PROBLEMS[kind].help), randomUUID());
      const body = JSON.stringify(p.body);
      socket.end(`HTTP/1.1 ${p.status} ${PROBLEMS[kind].title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  // Bodies are JSON, and only JSON (Fastify also parses text/plain by default): anything else is a 415.
  app.removeAllContentTypeParsers();
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, json);
  // A PATCH body is a JSON merge patch (RFC 7396) of the row; JSON Patch (RFC 6902) is not taken.
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, json);

  const security = edgeHeaders(app, config.server);
  const record = options.observers ? observe(app, engine, options.observers) : undefined;

  // One callback-style hook for what every request gets: an async hook costs promise
  // allocations, and each hook a call through Fastify's hook runner.
  app.addHook('onRequest', (request, reply, done) => {
    if (security) reply.headers(security);
    reply.header('x-request-id', request.id);
    if ((request.raw.url ?? '').length > config.limits.maxUrlLength) {
      done(new SluiceError('SLUICE_URL_TOO_LONG', `the URL is longer than ${config.limits.maxUrlLength} characters (limits.maxUrlLength)`));
      return;
    }
    done();
  });

  // While draining, every response closes its connection — also one whose request began before
  // (a load balancer must not send the next request on a connection that is about to close).
  if (lifecycle) {
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (lifecycle.draining) reply.header('connection', 'close');
      done(null, payload);
    });
  }

  app.setErrorHandler((error, request, reply) => {
    const p = problem(error, request.id);
    if (p.unexpected) request.log.error({ reqId: request.id, err: error, url: request.url, method: request.method }, 'unexpected error');
    return sendProblem(reply, p);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    return sendProblem(reply, problem(new SluiceError('SLUICE_NOT_FOUND', `nothing is served at ${request.method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`), request.id));
  });

  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (request, reply) => {
    if ((options.ready && !options.ready()) || lifecycle?.draining) throw new SluiceError('SLUICE_NOT_READY', 'the instance is starting or draining', undefined, { 'retry-after': '1' });
    try {
      await Promise.race([engine.db.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
    } catch {
      throw new SluiceError('SLUICE_DATABASE_UNAVAILABLE', 'the database does not answer', undefined, { 'retry-after': '5' });
    }
    reply.header('cache-control', 'no-store');
    return { status: 'ok', resources: engine.snapshot().resources.size, schemaLoadedAt: engine.snapshot().loadedAt.toISOString() };
  });
  app.get('/problems/:slug', async (request, reply) => {
    const html = problemPage((request.params as { slug: string }).slug);
    if (!html) throw new SluiceError('SLUICE_NOT_FOUND', 'no such problem type');
    return reply.type('text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).send(html);
  });
  app.get('/', async () => ({
    name: 'sluice', version: VERSION, api: config.server.basePath, docs: '/docs', openapi: '/openapi.json',
    resources: [...engine.snapshot().resources.keys()].map((r) => `${config.server.basePath}/${r}`),
  }));

  rateLimits(app, engine); // before the routes: it hooks the API routes as they are added
  resourceRoutes(app, engine);
  adminRoutes(app, engine);
  openapiRoutes(app, engine);
  edge = edgeHits({ engine, security, lifecycle, observers: options.observers, record });
  return app;
}
