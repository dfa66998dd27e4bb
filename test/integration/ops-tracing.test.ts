/**
 * SPEC §8 traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, every request becomes a SERVER span named
 * by its route template, child of the caller's W3C `traceparent`, exported as OTLP/HTTP JSON to
 * the endpoint. A tiny local receiver records what arrives.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shop } from '../support/databases.ts';
import { startSluice } from '../support/sluice.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: number | string } }>;
}
interface OtlpExport {
  resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
}

describe('OpenTelemetry traces', () => {
  let receiver: Server;
  const exports: Array<{ path: string; contentType: string; body: OtlpExport }> = [];
  let endpoint: string;
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        exports.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: JSON.parse(body) as OtlpExport });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('exports a span per request with the route, status and the incoming trace id as parent', async () => {
    const db = await shop('sqlite');
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    const s = await startSluice({ url: db.url });
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    try {
      expect((await s.get('/api/v1/orders/12', { traceparent: `00-${traceId}-${parent}-01` })).statusCode).toBe(200);
      expect((await s.get('/api/v1/nothing_here')).statusCode).toBe(404);
    } finally {
      await s.close(); // flushes the batch
      await db.dispose();
    }
    expect(exports.length).toBeGreaterThanOrEqual(1);
    expect(exports[0]!.path).toBe('/v1/traces');
    expect(exports[0]!.contentType).toMatch(/^application\/json/);
    const spans = exports.flatMap((e) => e.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((ss) => ss.spans)));
    const attr = (span: OtlpSpan, key: string) => {
      const v = span.attributes.find((a) => a.key === key)?.value;
      return v?.stringValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue));
    };
    const read = spans.find((sp) => sp.name === 'GET /api/v1/orders/:id');
    expect(read, JSON.stringify(spans.map((sp) => sp.name))).toBeDefined();
    expect(read!.traceId).toBe(traceId);
    expect(read!.parentSpanId).toBe(parent);
    expect(read!.kind).toBe(2); // SERVER
    expect(attr(read!, 'http.route')).toBe('/api/v1/orders/:id');
    expect(attr(read!, 'http.request.method')).toBe('GET');
    expect(attr(read!, 'http.response.status_code')).toBe(200);
    expect(attr(read!, 'url.path')).toBe('/api/v1/orders/12');
    const other = spans.find((sp) => sp.name === 'GET /api/v1/:resource');
    expect(other).toBeDefined();
    expect(other!.traceId).not.toBe(traceId); // no traceparent: a new trace
    expect(attr(other!, 'http.response.status_code')).toBe(404);
    const service = exports[0]!.body.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name');
    expect(service?.value.stringValue).toBe('sluice');
  });
});
