/**
 * V8 settings of the server process, imported first by the `sluice` command so that they hold
 * before the rest of the program runs, however Node was started (`npx sluice`, `node
 * dist/cli/main.js`, a container's CMD).
 *
 * No allocation-site pretenuring: V8 marks an allocation site "long-lived" when everything it
 * made survived a young-generation collection, and then allocates its objects straight in the
 * old generation. Under request load some per-request objects were caught that way and then
 * died in the old generation, which grew until a full collection: the process's peak memory
 * under the pk benchmark was ~210 MB with it and ~150 MB without, at the same or higher
 * throughput (docs/performance.md). Sluice's objects are per request or per process.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');

/**
 * Once the server listens: the old generation collected once it has grown by 30 % over what
 * survived the last full collection (V8 lets it grow up to fourfold when the program allocates
 * fast). What reaches it under load is mostly the objects of requests that were in flight across
 * two young-generation collections, dead soon after; what survives a full collection is ~25 MB,
 * so this is one ~10 ms collection every few seconds under full load. Peak memory under the
 * benchmark's load 197 → 137 MB with 50 %, and 131–135 MiB with 30 % where 50 % gave 135–145 MiB
 * in interleaved runs on a faster machine (docs/performance.md).
 *
 * Not from the start: with the small heap of start-up, it made V8 collect the old generation
 * several times while Node's own hot functions were still collecting type feedback; the
 * collections dropped the short-lived hidden classes of `process.nextTick`'s tick objects, the
 * feedback went megamorphic, and the optimised code then built every tick object through the
 * runtime — ~28 slow calls per request, ~10 % of the CPU of a cache hit for the life of the
 * process (docs/performance.md).
 */
export function tuneHeapForLoad(): void {
  setFlagsFromString('--heap-growing-percent=30');
}
