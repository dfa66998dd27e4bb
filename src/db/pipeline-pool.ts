/**
 * PostgreSQL connections that carry several statements at once (protocol pipelining), with one
 * budget (`max`) for them and for the connections a transaction or a cursor holds alone.
 *
 * Why: every Sluice request is one statement in its own implicit transaction, so statements of
 * different requests can share a connection — each is Bind/Describe/Execute/Sync, and an error
 * ends at its own Sync. Statements sent in one turn of the event loop leave in one write, and a
 * backend that finds the next statement already waiting goes on without a wake-up. Measured on
 * the `pk` workload (2 cores, 32 clients): PostgreSQL CPU per request 83 → 56 µs, Sluice's own
 * 150 → 90 µs, against a pool that checks a connection out per statement (docs/performance.md).
 *
 * Where a statement goes: to the oldest connection with fewer than `depth` statements in flight
 * whose oldest statement has run for less than {@link SLOW_MS} (one that has run longer may be a
 * slow report, and the statements behind it would wait for it). Packing onto the oldest keeps
 * the connections few — what makes statements leave and run together — and lets the newest fall
 * idle and close after a spike. When no connection takes it, another opens (one at a time, up
 * to `max`) and the statement waits for it; at `max`, it joins the connection with the fewest in
 * flight, or waits for room. Connections open for load, not for latency: on a busy machine every
 * statement's time stretches, and more connections would only make the backends compete (a
 * rule that opened one whenever the expected wait passed 5 ms grew to 16 connections and served
 * embeds 20 % slower than the 6 this rule keeps).
 */
import pg from 'pg';
import type { Socket } from 'node:net';
import type { Row } from './database.ts';

export interface PipelinePoolOptions {
  /** Connection settings (URL, timeouts, type parsers); `pipeline` is set here. */
  readonly client: pg.ClientConfig;
  /** Most connections, shared and held alike. */
  readonly max: number;
  /** Most statements in flight on one connection; 1: no pipelining (one statement per connection). */
  readonly depth: number;
  /** How long a statement or a transaction waits for room before it fails. */
  readonly acquireTimeout: number;
  /** An unused connection closes after this long. */
  readonly idleTimeout: number;
  /** A connection failed outside any statement (the server went away, say). */
  readonly onError?: ((err: Error) => void) | undefined;
}

/** A statement's text and, once it recurs, its prepared name. */
export interface StatementShape {
  readonly name?: string;
  readonly text: string;
}

/** A connection held alone (a transaction, a cursor) until `release`. */
export interface Lease {
  readonly client: pg.Client;
  /** Gives the connection back; with an error, closes it instead (its state is unknown). */
  release(broken?: Error): void;
}

/** A connection whose oldest statement has run this long (ms) takes no new ones. */
export const SLOW_MS = 50;

type Done = (err: Error | null, rows?: Row[]) => void;

/**
 * One statement on the wire. Rows are kept as the arrays of raw text the protocol parser makes:
 * no field descriptions, type parsers or row objects (node-postgres's Query builds all three).
 * A subclass of pg.Query, which node-postgres lets into a pipeline (other query classes keep a
 * portal open and are refused there).
 */
class Statement extends pg.Query {
  /** Not `rows`: node-postgres reads that as a page size. */
  readonly received: Row[] = [];
  sentAt = 0;
  private readonly done: Done;

  constructor(shape: StatementShape, values: unknown[], done: Done) {
    super(shape.text); // a string: node-postgres copies a config object's every property
    const self = this as unknown as { name?: string; values: unknown[]; callback: Done };
    if (shape.name !== undefined) self.name = shape.name;
    self.values = values;
    // Once: a value that fails to serialise is answered at once and again at its Sync.
    let answered = false;
    this.done = (err, rows) => {
      if (answered) return;
      answered = true;
      done(err, rows);
    };
    self.callback = this.done; // node-postgres's error path calls it
  }

  handleRowDescription(): void {}
  handleDataRow(msg: { fields: unknown[] }): void {
    this.received.push(msg.fields);
  }
  handleCommandComplete(): void {}
  handleReadyForQuery(): void {
    this.done(null, this.received);
  }
}

interface Waiting {
  readonly shape: StatementShape;
  readonly values: unknown[];
  readonly done: Done;
  timer?: NodeJS.Timeout;
}

interface Reservation {
  readonly resolve: (lease: Lease) => void;
  readonly reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

class Connection {
  readonly client: pg.Client;
  stream: Socket | null = null;
  /** Statements sent and not answered, oldest first (answers come in order). */
  readonly inflight: Statement[] = [];
  held = false;
  /** Takes no new statements: a reservation waits for it to empty. */
  draining = false;
  dead = false;
  /** When it last sent or answered a statement (performance.now()). */
  lastUsed = 0;

  constructor(client: pg.Client) {
    this.client = client;
  }

  /** Whether its oldest statement has run for SLOW_MS or longer. */
  stalled(now: number): boolean {
    return this.inflight.length > 0 && now - this.inflight[0]!.sentAt >= SLOW_MS;
  }

  get usable(): boolean {
    return this.stream !== null && !this.held && !this.draining && !this.dead;
  }
}

/** A pool timeout, worded as node-postgres words it (db/errors.ts maps it to a 504). */
const timeoutError = () => new Error('timeout exceeded when trying to connect');

/** @example const pool = new PipelinePool({ client: { connectionString }, max: 10, depth: 16, acquireTimeout: 2000, idleTimeout: 30000 }) */
export class PipelinePool {
  private readonly options: PipelinePoolOptions;
  /** Oldest first. */
  private readonly connections: Connection[] = [];
  private opening = 0;
  private readonly queue: Waiting[] = [];
  private readonly reservations: Reservation[] = [];
  private readonly corked = new Set<Socket>();
  private uncorkScheduled = false;
  private ended = false;
  /**
   * Closes connections unused for `idleTimeout`; one timer for the pool rather than one per
   * connection set and cleared at every statement.
   */
  private sweeper: NodeJS.Timeout | null = null;

  constructor(options: PipelinePoolOptions) {
    this.options = options;
  }

  private sweep = (): void => {
    const now = performance.now();
    for (const c of [...this.connections]) {
      if (!c.held && c.inflight.length === 0 && now - c.lastUsed >= this.options.idleTimeout) void this.close(c);
    }
    if (this.connections.length === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  };

  /** Connections open or opening, those with nothing to do, and statements or transactions waiting for room. */
  stats(): { total: number; idle: number; waiting: number } {
    let idle = 0;
    for (const c of this.connections) if (c.stream && !c.held && c.inflight.length === 0) idle++;
    return { total: this.connections.length + this.opening, idle, waiting: this.queue.length + this.reservations.length };
  }

  /** Runs one statement (in its own implicit transaction) on a shared connection. */
  query(shape: StatementShape, values: unknown[]): Promise<Row[]> {
    return new Promise((resolve, reject) => {
      this.dispatch({ shape, values, done: (err, rows) => (err ? reject(err) : resolve(rows!)) });
    });
  }

  /** A connection of its own, for a transaction or a cursor. */
  reserve(): Promise<Lease> {
    if (this.ended) return Promise.reject(new Error('Client was closed and is not queryable'));
    const idle = this.connections.find((c) => c.usable && c.inflight.length === 0);
    if (idle) return Promise.resolve(this.hold(idle));
    return new Promise((resolve, reject) => {
      const r: Reservation = { resolve, reject };
      r.timer = setTimeout(() => {
        this.reservations.splice(this.reservations.indexOf(r), 1);
        reject(timeoutError());
      }, this.options.acquireTimeout);
      this.reservations.push(r);
      if (this.connections.length + this.opening < this.options.max) this.open();
      else this.drainOne();
    });
  }

  async end(): Promise<void> {
    this.ended = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.done(new Error('Client was closed and is not queryable'));
    }
    for (const r of this.reservations.splice(0)) {
      clearTimeout(r.timer);
      r.reject(new Error('Client was closed and is not queryable'));
    }
    await Promise.all(this.connections.map((c) => this.close(c)));
  }

  private dispatch(w: Waiting): void {
    if (this.ended) return w.done(new Error('Client was closed and is not queryable'));
    const now = performance.now();
    let fewest: Connection | null = null;
    for (const c of this.connections) {
      if (!c.usable || c.inflight.length >= this.options.depth) continue;
      if (!c.stalled(now)) return this.send(c, w, now);
      if (!fewest || c.inflight.length < fewest.inflight.length) fewest = c;
    }
    // None takes it: another connection, or (at max) the one with the fewest in flight.
    if (this.opening === 0 && this.connections.length < this.options.max) this.open();
    if (fewest && this.opening === 0) return this.send(fewest, w, now);
    w.timer = setTimeout(() => {
      const i = this.queue.indexOf(w);
      if (i >= 0) this.queue.splice(i, 1);
      w.done(timeoutError());
    }, this.options.acquireTimeout);
    this.queue.push(w);
  }

  private send(c: Connection, w: Waiting, now: number): void {
    c.lastUsed = now;
    const statement = new Statement(w.shape, w.values, (err, rows) => this.answered(c, statement, err, rows, w.done));
    statement.sentAt = now;
    c.inflight.push(statement);
    // Statements of one event-loop turn leave in one write.
    const stream = c.stream!;
    if (!this.corked.has(stream)) {
      stream.cork();
      this.corked.add(stream);
      if (!this.uncorkScheduled) {
        this.uncorkScheduled = true;
        setImmediate(this.uncork);
      }
    }
    c.client.query(statement);
  }

  private readonly uncork = (): void => {
    this.uncorkScheduled = false;
    for (const s of this.corked) s.uncork();
    this.corked.clear();
  };

  private answered(c: Connection, statement: Statement, err: Error | null, rows: Row[] | undefined, done: Done): void {
    const i = c.inflight.indexOf(statement);
    if (i >= 0) c.inflight.splice(i, 1);
    c.lastUsed = performance.now();
    // The server ended the session (terminated, shutting down): nothing more may go on it.
    if (err && ((err as { severity?: string }).severity === 'FATAL' || (err as { severity?: string }).severity === 'PANIC')) void this.close(c);
    done(err, rows);
    this.freed(c);
  }

  /** A connection has room again: give it to a reservation, then to waiting statements. */
  private freed(c: Connection): void {
    if (c.dead || c.held || !c.stream) return;
    if (c.inflight.length === 0 && (c.draining || this.reservations.length)) {
      const r = this.reservations.shift();
      c.draining = false;
      if (r) {
        clearTimeout(r.timer);
        r.resolve(this.hold(c));
        return;
      }
    }
    while (this.queue.length && c.usable && c.inflight.length < this.options.depth) {
      const w = this.queue.shift()!;
      clearTimeout(w.timer);
      this.send(c, w, performance.now());
    }
  }

  private hold(c: Connection): Lease {
    c.held = true;
    // Alone on it: statements wait for each other, and cursors (portals kept open) are allowed.
    (c.client as unknown as { pipeline: boolean }).pipeline = false;
    let released = false;
    return {
      client: c.client,
      release: (broken?: Error) => {
        if (released) return;
        released = true;
        c.held = false;
        c.lastUsed = performance.now();
        (c.client as unknown as { pipeline: boolean }).pipeline = true;
        if (broken) void this.close(c);
        else this.freed(c);
      },
    };
  }

  /** No connection can be opened: the one with the least work takes no more and goes to a reservation when empty. */
  private drainOne(): void {
    if (this.connections.some((c) => c.draining)) return;
    let pick: Connection | null = null;
    for (const c of this.connections) if (c.usable && (!pick || c.inflight.length < pick.inflight.length)) pick = c;
    if (pick) pick.draining = true;
  }

  private open(): void {
    this.opening++;
    const client = new pg.Client({ ...this.options.client, pipeline: true } as pg.ClientConfig);
    const c = new Connection(client);
    client.on('error', (err: Error) => {
      if (!c.dead) this.options.onError?.(err);
      void this.close(c);
    });
    client.on('end', () => void this.close(c));
    client.connect().then(() => {
      this.opening--;
      if (this.ended) return void client.end().catch(() => undefined);
      c.stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
      c.lastUsed = performance.now();
      this.connections.push(c);
      if (!this.sweeper) {
        this.sweeper = setInterval(this.sweep, Math.max(10, Math.min(this.options.idleTimeout / 2, 5000)));
        this.sweeper.unref();
      }
      this.freed(c);
      // Statements that arrived while every connection was full may fit on this one now, or on
      // the next one to open.
      if (!c.dead) this.refill();
      if (this.queue.length && this.opening === 0 && this.connections.length < this.options.max) this.open();
    }, (err: Error) => {
      this.opening--;
      c.dead = true;
      // Nothing to run them on: what waits fails with the reason (the database is unreachable).
      if (this.connections.length === 0) {
        for (const w of this.queue.splice(0)) {
          clearTimeout(w.timer);
          w.done(err);
        }
        for (const r of this.reservations.splice(0)) {
          clearTimeout(r.timer);
          r.reject(err);
        }
      }
    });
  }

  private refill(): void {
    for (const c of this.connections) {
      if (!this.queue.length && !this.reservations.length) return;
      this.freed(c);
    }
  }

  private async close(c: Connection): Promise<void> {
    if (c.dead && !this.connections.includes(c)) return;
    c.dead = true;
    const i = this.connections.indexOf(c);
    if (i >= 0) this.connections.splice(i, 1);
    await c.client.end().catch(() => undefined);
    // Room for another: what waits may open it.
    if (!this.ended && (this.queue.length || this.reservations.length) && this.opening === 0) this.open();
  }
}
