/**
 * Compiled reads by exact request, so a hot URL skips parsing, planning and compiling: an LRU of
 * plan + statement per schema snapshot (a reload starts empty). Single-row reads are keyed
 * without their key — the key's values are the statement's first parameters, swapped per request.
 */
import type { Snapshot } from '../schema/model.ts';

const MAX_ENTRIES = 500;
/** Longer query strings are not worth keeping (and would let one client fill the cache with junk). */
export const MAX_CACHED_QUERY = 1024;

/**
 * An LRU in two generations (as quick-lru): a hit in the young map is one lookup with no
 * reordering; an old entry that is used moves to the young map; when the young map is full it
 * becomes the old one and the old one is dropped. Between MAX_ENTRIES and twice that are kept.
 */
class Lru<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  get(key: string): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }
  set(key: string, value: V): void {
    if (this.young.size >= MAX_ENTRIES && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
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
