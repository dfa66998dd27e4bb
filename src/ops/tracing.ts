/**
 * OpenTelemetry traces, only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one SERVER span per
 * request (`GET /api/v1/orders/:id`), child of the caller's W3C `traceparent`, exported over
 * OTLP/HTTP (JSON) in batches. The SDK is imported here, dynamically, so a server without the
 * variable loads none of it. The exporter reads the standard OTEL_EXPORTER_OTLP_* variables
 * (endpoint, headers, timeout); OTEL_SERVICE_NAME names the service (default `sluice`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Span, TextMapGetter } from '@opentelemetry/api';
import { VERSION } from '../version.ts';

/** A started span, opaque to the request hooks. */
export type TraceSpan = object;

export interface Tracing {
  /** A span for a request, child of its `traceparent` when it has a valid one. */
  start(method: string, route: string, path: string, headers: IncomingHttpHeaders): TraceSpan;
  end(span: TraceSpan, status: number, requestId: string): void;
  /** Exports what is left (at shutdown). */
  shutdown(): Promise<void>;
}

/**
 * @example const tracing = await startTracing(process.env); // null without OTEL_EXPORTER_OTLP_ENDPOINT
 */
export async function startTracing(env: NodeJS.ProcessEnv): Promise<Tracing | null> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return null;
  const [api, { W3CTraceContextPropagator }, { BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, semconv] = await Promise.all([
    import('@opentelemetry/api'), import('@opentelemetry/core'), import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources'), import('@opentelemetry/semantic-conventions'),
  ]);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || 'sluice', [semconv.ATTR_SERVICE_VERSION]: VERSION }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const tracer = provider.getTracer('sluice', VERSION);
  const propagator = new W3CTraceContextPropagator();
  const getter: TextMapGetter<IncomingHttpHeaders> = {
    keys: (carrier) => Object.keys(carrier),
    get: (carrier, key) => carrier[key],
  };
  return {
    start(method, route, path, headers) {
      const parent = propagator.extract(api.ROOT_CONTEXT, headers, getter);
      return tracer.startSpan(`${method} ${route}`, {
        kind: api.SpanKind.SERVER,
        attributes: { [semconv.ATTR_HTTP_REQUEST_METHOD]: method, [semconv.ATTR_HTTP_ROUTE]: route, [semconv.ATTR_URL_PATH]: path },
      }, parent);
    },
    end(span, status, requestId) {
      const s = span as Span;
      s.setAttribute(semconv.ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      s.setAttribute('sluice.request_id', requestId);
      // Server spans mark only 5xx as errors (OpenTelemetry's HTTP conventions).
      if (status >= 500) s.setStatus({ code: api.SpanStatusCode.ERROR });
      s.end();
    },
    shutdown: () => provider.shutdown(),
  };
}
