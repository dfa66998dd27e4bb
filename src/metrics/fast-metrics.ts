/**
 * Histograms and counters for the request path, in prom-client's registry format. prom-client's
 * own `observe`/`inc` validate and hash the label set on every call (even through a child);
 * here a caller keeps the {@link Series} of its label set and an observation is a bucket scan and
 * three additions. Registries read them like prom-client metrics (`get()`), so `/metrics`, the
 * text format and cluster aggregation (AggregatorRegistry) treat them like any other.
 */
import type { Metric, MetricObjectWithValues, MetricValue } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** One label set of a histogram: keep it, then `observe(seconds)`. */
export class HistogramSeries {
  readonly labels: Labels;
  readonly counts: Float64Array;
  private readonly bounds: readonly number[];
  sum = 0;
  count = 0;

  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** One label set of a counter: keep it, then `inc()`. */
export class CounterSeries {
  readonly labels: Labels;
  value = 0;
  constructor(labels: Labels) {
    this.labels = labels;
  }
  inc(by = 1): void {
    this.value += by;
  }
}

abstract class FastMetric<S extends { readonly labels: Labels }> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  protected readonly all = new Map<string, S>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  /** The series of a label set (the same object for the same labels): look it up once, keep it. */
  series(labels: Labels): S {
    const key = JSON.stringify(labels);
    let found = this.all.get(key);
    if (!found) this.all.set(key, (found = this.create(labels)));
    return found;
  }

  protected abstract create(labels: Labels): S;
  abstract get(): Promise<MetricObjectWithValues<MetricValue<string>>>;

  reset(): void {
    this.all.clear();
  }

  /** For `registry.registerMetric`, whose type names prom-client's own classes. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}

/**
 * @example const h = new FastHistogram('x_seconds', 'help', [0.1, 1]); const s = h.series({ route: '/a' }); s.observe(0.05)
 */
export class FastHistogram extends FastMetric<HistogramSeries> {
  readonly type = 'histogram';
  readonly bounds: readonly number[];

  constructor(name: string, help: string, bounds: readonly number[]) {
    super(name, help);
    this.bounds = bounds;
  }

  protected create(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const values: Array<MetricValue<string> & { metricName: string }> = [];
    for (const s of this.all.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: i < this.bounds.length ? this.bounds[i]! : '+Inf' } as never, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type as never, aggregator: this.aggregator, values, collect: () => undefined };
  }
}

/** @example const c = new FastCounter('x_total', 'help'); c.series({ result: 'hit' }).inc() */
export class FastCounter extends FastMetric<CounterSeries> {
  readonly type = 'counter';

  protected create(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }

  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const values = [...this.all.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
    return { name: this.name, help: this.help, type: this.type as never, aggregator: this.aggregator, values, collect: () => undefined };
  }
}
