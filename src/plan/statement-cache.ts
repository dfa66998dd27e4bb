/**
 * Compiled reads by exact request, so a hot URL skips parsing, planning and compiling: an LRU of
 * plan + statement per schema snapshot (a reload starts empty). Single-row reads are keyed
 * without their key — the key's values are the statement's first parameters, swapped per request.
 */
import type { Snapshot } from '../schema/model.ts';

const MAX_ENTRIES = 500;
/** Longer query strings are not worth keeping (and would let one client fill the cache with junk). */
export const MAX_CACHED_QUERY = 1024;

class Lru<V> {
  private readonly map = new Map<string, V>();
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    if (this.map.size >= MAX_ENTRIES) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
  }
}

/** @example const hit = statementCache(snapshot).get(key) ?? compileAndStore() */
export class StatementCache<V> {
  private readonly bySnapshot = new WeakMap<Snapshot, Lru<V>>();

  for(snapshot: Snapshot): Lru<V> {
    let lru = this.bySnapshot.get(snapshot);
    if (!lru) this.bySnapshot.set(snapshot, (lru = new Lru<V>()));
    return lru;
  }
}
