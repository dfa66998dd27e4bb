// bench/ops.sh's results → the section between `<!-- ops:start -->` and `<!-- ops:end -->` of a
// Markdown file (added at the end when missing; bench/report.mjs keeps it).
//   node bench/ops-report.mjs bench/results/<stamp>-ops docs/benchmarks.md
import { casesTable, fmt, readResults, roundRatios, spread, table, verdict, writeSection } from './section.mjs';

const [dir, target] = process.argv.slice(2);
if (!dir || !target) {
  console.error('usage: node bench/ops-report.mjs <results dir> <markdown file>');
  process.exit(2);
}
const CASES = ['pk-nolimits', 'pk-nolimits-twin', 'pk-redis-limits', 'pk-redis-limits-twin', 'hit-1-worker', 'hit-2-workers'];
const results = readResults(dir, CASES);
const { meta, rps, errors } = results;

const limitedPairs = roundRatios(results, ['pk-redis-limits', 'pk-redis-limits-twin'], ['pk-nolimits', 'pk-nolimits-twin']);
const twinPairs = roundRatios(results, ['pk-nolimits-twin'], ['pk-nolimits']);
const workerPairs = roundRatios(results, ['hit-2-workers'], ['hit-1-worker']);
const limited = limitedPairs.median;
const workers = workerPairs.median;
const anyErrors = CASES.some((c) => errors(c) > 0);
const rows = [
  ['Rate limiting with Redis costs ≤ 10 % on `pk`', limited === null ? '–' : `${((1 - limited) * 100).toFixed(1)} %: ${limited.toFixed(3)} × (${spread(limitedPairs)}; medians per process ${fmt(rps('pk-redis-limits'))} and ${fmt(rps('pk-redis-limits-twin'))} with limits, ${fmt(rps('pk-nolimits'))} and ${fmt(rps('pk-nolimits-twin'))} req/s without)`, verdict(limited === null ? null : limited >= 0.9 && !anyErrors)],
  ['`--workers 2` ≥ 1.3 × one worker on a cached read', workers === null ? '–' : `${workers.toFixed(2)} × (${spread(workerPairs)}; medians ${fmt(rps('hit-2-workers'))} vs ${fmt(rps('hit-1-worker'))} req/s)`, verdict(workers === null ? null : workers >= 1.3 && !anyErrors)],
  ['(control) two identical processes without limits: pk-nolimits-twin ÷ pk-nolimits, ideally 1', twinPairs.median === null ? '–' : `${twinPairs.median.toFixed(3)} × (${spread(twinPairs)})`, 'not a target: the resolution of this run'],
];
const section = [
  '## Operations: rate limits and workers (issue 5, `npm run bench:ops`)',
  '',
  `Run ${dir.split('/').pop()} on ${meta.date} at commit ${meta.commit}: ${meta.cpu}, ${meta.cores} cores, Node ${meta.node}; ${meta.orders} orders.`,
  '',
  table(['target', 'result', 'verdict'], rows),
  '',
  anyErrors ? `**Errors:** ${CASES.filter((c) => errors(c) > 0).map((c) => `${c}: ${errors(c)}`).join(', ')} non-2xx or socket errors; the run is not valid (a 429 would make the limited case look cheaper).` : 'No non-2xx responses or socket errors in any measured run (so no request was refused by the limits).',
  '',
  casesTable(results, CASES),
  '',
  `How: \`wrk -t1 -c${meta.connections} -d${meta.duration}s --latency\`, ${meta.rounds} short rounds of the six cases in turn (pk-nolimits, pk-redis-limits, pk-redis-limits-twin, pk-nolimits-twin, hit-1-worker, hit-2-workers; every other round in reverse order, so that the two sides of a comparison are measured back to back); a figure is the median over the rounds of its ratio within the round — for the rate limits (pk-redis-limits + pk-redis-limits-twin) ÷ (pk-nolimits + pk-nolimits-twin): each configuration runs as two identical processes, because two processes of one build differ by a few per cent — so that the machine's drift in speed between rounds cancels (the table below gives every round). The control, pk-nolimits-twin ÷ pk-nolimits, is what two identical servers differ by in this run. All six Sluice processes run with the default operations settings (a JSON log line per request, metrics) as \`npm run bench\` starts Sluice (${meta.sluice_cmd}). pk-nolimits: no \`rateLimits\`; pk-redis-limits: two limits counted in Redis (per IP and per role, 100,000 per 3 s, so that nothing is refused), random ids over all orders (peers.sh's pk). hit-1-worker / hit-2-workers: \`cache: { ttl: 10m }\` (in-process), \`--workers 1\` / \`--workers 2\` (${meta.w2_worker_processes} worker processes seen), \`GET /api/v1/orders/1\` repeated (checked: \`X-Cache: HIT\`); wrk shares the two cores. Each process got ${meta.warmup} s on /health/live and one unmeasured run of its case first.`,
].join('\n');

writeSection(dir, target, 'ops', section);
console.log(`ops-report: ${rows.map((r) => `${r[0].split(' ')[0]}… ${r[2].replace(/\*/g, '')}`).join('; ')}`);
