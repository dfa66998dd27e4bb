/**
 * The per-request side of operations, as Fastify hooks: load shedding, requests in flight, the
 * request-duration histogram and cache results, `Server-Timing`, one log line per request and a
 * trace span — plus `GET /metrics` on the API port. Each route gets its own hooks (made once, in
 * `onRoute`, with its label already worked out), so a request costs a few property reads and map
 * lookups; only what is switched on is hooked at all. Requests that match no route are counted
 * and logged by one global `onResponse` hook.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler, onResponseHookHandler, onSendHookHandler, preHandlerHookHandler } from 'fastify';
import type { Engine } from '../engine.ts';
import { SluiceError } from '../errors/registry.ts';
import type { ProcessMetrics } from '../metrics/instruments.ts';
import { RouteMetrics, UNMATCHED } from '../metrics/route-metrics.ts';
import { currentTiming, RequestTiming, serverTiming } from '../metrics/request-timing.ts';
import type { LoadShedder } from './load-shedding.ts';
import type { TraceSpan, Tracing } from './tracing.ts';
import { logRequest, type LoggedRequest, type RequestLine } from './request-log.ts';

declare module 'fastify' {
  interface FastifyRequest {
    sluiceTiming: RequestTiming | null;
    sluiceSpan: TraceSpan | null;
  }
}

export interface Observers {
  readonly metrics: ProcessMetrics | null;
  /** Serves `GET /metrics` on the API port (null: not there — metrics off, or on their own port). */
  readonly metricsText: (() => Promise<string>) | null;
  readonly tracing: Tracing | null;
  readonly shedder: LoadShedder | null;
  /** Seconds, for the Retry-After of a shed request. */
  readonly retryAfter: number;
  readonly logRequests: boolean;
  readonly timing: boolean;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Hook = RouteOptions['onRequest'];

/**
 * Records a GET answered before Fastify runs (a cache hit at the edge, http/edge-hits.ts): the
 * request-duration histogram, the cache result and the log line, as a hook-observed request gets.
 */
export type EdgeRecorder = (template: string, resource: string, request: LoggedRequest, ms: number) => void;
const append = <T>(existing: T | T[] | undefined, hook: T): T[] => (existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook]);

/** @example const recordHit = observe(app, engine, { metrics, metricsText, tracing: null, shedder, retryAfter: 2, logRequests: true, timing: true }) */
export function observe(app: FastifyInstance, engine: Engine, o: Observers): EdgeRecorder {
  const { metrics, tracing, shedder } = o;
  const base = engine.config.server.basePath;
  const isResource = (name: string) => engine.snapshot().resources.has(name);
  const retryAfter = { 'retry-after': String(o.retryAfter) };
  // Decremented when the response closes, finished or not: an aborted request leaves the gauge too.
  const ended = metrics ? () => { metrics.inFlight--; } : null;
  if (o.timing) app.decorateRequest('sluiceTiming', null);
  if (tracing) app.decorateRequest('sluiceSpan', null);

  /** The histogram sample, the cache result and the log line of a response, however it was answered. */
  const record = (route: RouteMetrics, line: RequestLine, request: LoggedRequest, status: number, ms: number, resource: string | undefined, cached: unknown) => {
    if (metrics) {
      route.series(request.method, status, resource).observe(ms / 1000);
      if (cached !== undefined) metrics.cache[cached as keyof ProcessMetrics['cache']]?.inc();
    }
    if (o.logRequests) logRequest(app.log, engine, request, status, ms, resource !== undefined ? { ...line, route: route.label(resource) } : line);
  };

  const finish = (request: FastifyRequest, reply: FastifyReply, route: RouteMetrics, line: RequestLine) => {
    const resource = route.template === UNMATCHED ? undefined : (request.params as { resource?: string }).resource;
    if (tracing && request.sluiceSpan) tracing.end(request.sluiceSpan, reply.statusCode, request.id);
    record(route, line, request, reply.statusCode, reply.elapsedTime, resource, reply.getHeader('x-cache'));
  };

  const routes = new Map<string, { route: RouteMetrics; line: RequestLine }>();
  app.addHook('onRoute', (options) => {
    const template = options.url;
    // Health and metrics answer under load and are quiet in the logs.
    const exempt = template.startsWith('/health/') || template === '/metrics';
    const route = new RouteMetrics(metrics?.http ?? null, template, isResource);
    const line: RequestLine = { route: template, quiet: exempt, withCaller: template === base || template.startsWith(`${base}/`) || template.startsWith('/admin/') || template === '/openapi.json' };
    routes.set(template, { route, line });
    const onRequest: onRequestHookHandler = function (request, reply, done) {
      if (shedder?.overloaded && !exempt) {
        done(new SluiceError('SLUICE_OVERLOADED', `the server is overloaded (its event loop lags ${Math.round(shedder.lag)} ms); retry after ${o.retryAfter} s`, undefined, retryAfter));
        return;
      }
      if (ended) {
        metrics!.inFlight++;
        reply.raw.on('close', ended);
      }
      if (o.timing) request.sluiceTiming = new RequestTiming(performance.now());
      if (tracing) {
        const resource = (request.params as { resource?: string }).resource;
        request.sluiceSpan = tracing.start(request.method, route.label(resource), (request.raw.url ?? '').split('?')[0]!, request.headers);
      }
      done();
    };
    options.onRequest = append(options.onRequest as Hook, onRequest as never) as never;
    if (o.timing) {
      const enter: preHandlerHookHandler = function (request, _reply, done) {
        if (request.sluiceTiming) currentTiming.enterWith(request.sluiceTiming);
        done();
      };
      const header: onSendHookHandler = function (request, reply, payload, done) {
        if (request.sluiceTiming) reply.header('server-timing', serverTiming(request.sluiceTiming, performance.now()));
        done(null, payload);
      };
      options.preHandler = append(options.preHandler, enter as never) as never;
      options.onSend = append(options.onSend, header as never) as never;
    }
    if (metrics || tracing || o.logRequests) {
      const onResponse: onResponseHookHandler = function (request, reply, done) {
        finish(request, reply, route, line);
        done();
      };
      options.onResponse = append(options.onResponse, onResponse as never) as never;
    }
  });

  if (metrics || o.logRequests) {
    const unmatched = new RouteMetrics(metrics?.http ?? null, UNMATCHED, null);
    const line: RequestLine = { route: UNMATCHED, quiet: false, withCaller: false };
    app.addHook('onResponse', function (request, reply, done) {
      if (request.is404) finish(request, reply, unmatched, line);
      done();
    });
  }

  if (shedder) {
    app.addHook('onReady', function (done) {
      shedder.start();
      done();
    });
    app.addHook('onClose', function (_app, done) {
      shedder.stop();
      done();
    });
  }

  const metricsText = o.metricsText;
  if (metricsText) {
    app.get('/metrics', (_request, reply) => metricsText().then((text) => reply.type(METRICS_CONTENT_TYPE).header('cache-control', 'no-store').send(text)));
  }

  return (template, resource, request, ms) => {
    const known = routes.get(template);
    if (known) record(known.route, known.line, request, 200, ms, resource, 'HIT');
  };
}
