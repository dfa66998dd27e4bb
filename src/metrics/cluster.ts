/**
 * Metrics under `--workers N`: every worker counts its own requests, and `/metrics` must show the
 * sum. Whichever worker a scrape reaches asks the primary over the cluster's IPC channel; the
 * primary collects every ready worker's registry (as JSON) and merges them with prom-client's
 * `AggregatorRegistry.aggregate` (counters and histograms summed, gauges by their aggregator).
 * Written over plain messages instead of `AggregatorRegistry.clusterMetrics()` so that a worker
 * that is starting or has just died is left out after a short wait rather than failing the scrape.
 */
import type { Worker } from 'node:cluster';
import client from 'prom-client';
import { SluiceError } from '../errors/registry.ts';

const ASK = 'sluice:metrics:ask';
const ANSWER = 'sluice:metrics:answer';
const COLLECT = 'sluice:metrics:collect';
const COLLECTED = 'sluice:metrics:collected';

interface Message {
  readonly type?: string;
  readonly id?: number;
  readonly text?: string;
  readonly error?: string;
  readonly metrics?: unknown[];
}

type MetricsJson = Awaited<ReturnType<client.Registry['getMetricsAsJSON']>>;

let asker: (() => Promise<string>) | undefined;

/**
 * In a worker: answers the primary's collections with `registry`, and returns how to get the
 * whole cluster's metrics text (from the primary).
 * @example const text = workerMetrics(registry); reply.send(await text())
 */
export function workerMetrics(registry: client.Registry, timeout = 5000): () => Promise<string> {
  if (asker) return asker;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  let seq = 0;
  process.on('message', (message: Message) => {
    if (message?.type === COLLECT) {
      registry.getMetricsAsJSON().then(
        (metrics) => process.send?.({ type: COLLECTED, id: message.id, metrics }),
        () => process.send?.({ type: COLLECTED, id: message.id, metrics: [] }),
      );
    } else if (message?.type === ANSWER && typeof message.id === 'number') {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (typeof message.text === 'string') waiting.resolve(message.text);
      else waiting.reject(new SluiceError('SLUICE_INTERNAL', `the primary process could not collect the metrics: ${message.error ?? 'no answer'}`));
    }
  });
  asker = () => new Promise<string>((resolve, reject) => {
    const id = seq++;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new SluiceError('SLUICE_INTERNAL', 'the primary process did not answer with the metrics in time'));
    }, timeout);
    pending.set(id, { resolve, reject, timer });
    process.send?.({ type: ASK, id });
  });
  return asker;
}

/**
 * In the primary: collects and merges the workers' metrics, for a worker that asks and for the
 * metrics port.
 * @example const m = new ClusterMetrics(() => readyWorkers); cluster.on('message', (w, msg) => m.handle(w, msg)); await m.text()
 */
export class ClusterMetrics {
  private readonly workers: () => Worker[];
  private readonly wait: number;
  private seq = 0;
  private readonly collecting = new Map<number, { responses: MetricsJson[]; left: number; done: () => void }>();

  /** `wait`: how long a collection waits for slow workers before merging what it has. */
  constructor(workers: () => Worker[], wait = 1000) {
    this.workers = workers;
    this.wait = wait;
  }

  /** Handles a worker's message; true when it was one of these. */
  handle(worker: Worker, message: Message): boolean {
    if (message?.type === ASK) {
      this.text().then(
        (text) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, text }),
        (err: Error) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, error: err.message }),
      );
      return true;
    }
    if (message?.type === COLLECTED && typeof message.id === 'number') {
      const collection = this.collecting.get(message.id);
      if (collection) {
        collection.responses.push((message.metrics ?? []) as MetricsJson);
        if (--collection.left === 0) collection.done();
      }
      return true;
    }
    return false;
  }

  /** The merged metrics of every ready worker, in the Prometheus text format. */
  async text(): Promise<string> {
    const id = this.seq++;
    const responses: MetricsJson[] = [];
    const targets = this.workers().filter((w) => w.isConnected());
    if (targets.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), this.wait);
        this.collecting.set(id, { responses, left: targets.length, done: () => { clearTimeout(timer); resolve(); } });
        for (const w of targets) w.send({ type: COLLECT, id });
      });
      this.collecting.delete(id);
    }
    return client.AggregatorRegistry.aggregate(responses).metrics();
  }
}
