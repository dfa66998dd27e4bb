/**
 * Load shedding (SPEC §7): while the event loop lags past `server.loadShedding.maxEventLoopDelay`,
 * new API requests are refused with 503 + Retry-After (health and metrics still answer). A timer
 * samples the lag every `sampleInterval` — the largest delay `monitorEventLoopDelay` saw, or how
 * late the timer itself fired — so the request path reads one boolean. Written here rather than
 * taken from @fastify/under-pressure: that plugin runs an async hook per request and checks heap
 * and RSS too; Sluice needs the one signal, read without a promise.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>;

export interface LoadShedderOptions {
  /** Milliseconds of lag above which requests are shed (0: never). */
  readonly maxEventLoopDelay: number;
  readonly sampleInterval: number;
}

/** @example const shedder = new LoadShedder({ maxEventLoopDelay: 200, sampleInterval: 100 }); shedder.start(); if (shedder.overloaded) … */
export class LoadShedder {
  /** True from a sample that lagged too much until one that did not. */
  overloaded = false;
  /** The lag of the last sample, in milliseconds. */
  lag = 0;
  private readonly options: LoadShedderOptions;
  private histogram: IntervalHistogram | null = null;
  private timer: NodeJS.Timeout | null = null;
  private last = 0;

  constructor(options: LoadShedderOptions) {
    this.options = options;
  }

  start(): void {
    if (this.timer || this.options.maxEventLoopDelay <= 0) return;
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.last = performance.now();
    this.timer = setInterval(() => this.sample(), Math.max(10, this.options.sampleInterval));
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.now();
    const late = now - this.last - this.options.sampleInterval;
    this.last = now;
    const seen = this.histogram!.max / 1e6;
    this.histogram!.reset();
    this.lag = Math.max(late, seen);
    this.overloaded = this.lag > this.options.maxEventLoopDelay;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.histogram?.disable();
    this.timer = null;
    this.histogram = null;
    this.overloaded = false;
  }
}
