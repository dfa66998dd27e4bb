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
 *
 * The old generation collected once it has grown by half over what survived the last full
 * collection (V8 lets it grow up to fourfold when the program allocates fast): what reaches it
 * under load is mostly the objects of requests that were in flight across two young-generation
 * collections, dead soon after. Peak memory under the benchmark's load 197 → 147 MB, throughput
 * unchanged within noise (interleaved runs, docs/performance.md).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
setFlagsFromString('--heap-growing-percent=50');
