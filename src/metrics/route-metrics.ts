/**
 * The `route` label of a request and its histogram series, kept per route so that a request
 * costs two map lookups. The label is the route TEMPLATE, never the URL: `/api/v1/:resource/:id`
 * becomes `/api/v1/orders/:id` for a resource of the schema (a bounded set), and stays the
 * template for any other name; requests no route matched share {@link UNMATCHED}.
 */
import type { FastHistogram, HistogramSeries } from './fast-metrics.ts';

/** The route label of requests that matched no route (404s of unknown paths). */
export const UNMATCHED = 'unmatched';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const methodIndex = (method: string) => {
  const i = METHODS.indexOf(method);
  return i < 0 ? METHODS.length : i;
};

/** @example const r = new RouteMetrics(histogram, '/api/v1/:resource/:id', (n) => snapshot().resources.has(n)); r.series('GET', 200, 'orders').observe(0.002) */
export class RouteMetrics {
  readonly template: string;
  private readonly histogram: FastHistogram | null;
  private readonly isResource: ((name: string) => boolean) | null;
  private readonly plain = new Map<number, HistogramSeries>();
  private readonly byResource = new Map<string, Map<number, HistogramSeries>>();

  /** `histogram` null: labels only (metrics off, traces on). */
  constructor(histogram: FastHistogram | null, template: string, isResource: ((name: string) => boolean) | null) {
    this.histogram = histogram;
    this.template = template;
    this.isResource = template.includes(':resource') ? isResource : null;
  }

  /** The label for a request naming `resource` (its `:resource` parameter). */
  label(resource: string | undefined): string {
    return this.isResource && resource !== undefined && this.isResource(resource) ? this.template.replace(':resource', resource) : this.template;
  }

  series(method: string, status: number, resource: string | undefined): HistogramSeries {
    let bucket = this.plain;
    if (this.isResource && resource !== undefined) {
      const known = this.byResource.get(resource);
      if (known) bucket = known;
      else if (this.isResource(resource)) this.byResource.set(resource, (bucket = new Map()));
    }
    const key = status * 8 + methodIndex(method);
    let series = bucket.get(key);
    if (!series) {
      const route = bucket === this.plain ? this.template : this.template.replace(':resource', resource!);
      bucket.set(key, (series = this.histogram!.series({ method: METHODS.includes(method) ? method : 'other', route, status_code: String(status) })));
    }
    return series;
  }
}
