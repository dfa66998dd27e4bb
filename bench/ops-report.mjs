// bench/ops.sh's results → the section between `<!-- ops:start -->` and `<!-- ops:end -->` of a
// Markdown file (added at the end when missing; bench/report.mjs keeps it).
//   node bench/ops-report.mjs bench/results/<stamp>-ops docs/benchmarks.md
import { casesTable, fmt, ratio, readResults, table, verdict, writeSection } from './section.mjs';

const [dir, target] = process.argv.slice(2);
if (!dir || !target) {
  console.error('usage: node bench/ops-report.mjs <results dir> <markdown file>');
  process.exit(2);
}
const CASES = ['pk-nolimits', 'pk-redis-limits', 'hit-1-worker', 'hit-2-workers'];
const results = readResults(dir, CASES);
const { meta, rps, errors } = results;

const limited = ratio(rps('pk-redis-limits'), rps('pk-nolimits'));
const workers = ratio(rps('hit-2-workers'), rps('hit-1-worker'));
const anyErrors = CASES.some((c) => errors(c) > 0);
const rows = [
  ['Rate limiting with Redis costs ≤ 10 % on `pk`', limited === null ? '–' : `${((1 - limited) * 100).toFixed(1)} % (${fmt(rps('pk-redis-limits'))} with limits vs ${fmt(rps('pk-nolimits'))} req/s without: ${limited.toFixed(2)} ×)`, verdict(limited === null ? null : limited >= 0.9 && !anyErrors)],
  ['`--workers 2` ≥ 1.3 × one worker on a cached read', workers === null ? '–' : `${workers.toFixed(2)} × (${fmt(rps('hit-2-workers'))} vs ${fmt(rps('hit-1-worker'))} req/s)`, verdict(workers === null ? null : workers >= 1.3 && !anyErrors)],
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
  `How: \`wrk -t1 -c${meta.connections} -d${meta.duration}s --latency\`, ${meta.rounds} rounds of the four cases in turn, medians. All four Sluice processes run with the default operations settings (a JSON log line per request, metrics) as \`npm run bench\` starts Sluice (${meta.sluice_cmd}). pk-nolimits: no \`rateLimits\`; pk-redis-limits: two limits counted in Redis (per IP and per role, 100,000 per 3 s, so that nothing is refused), random ids over all orders (peers.sh's pk). hit-1-worker / hit-2-workers: \`cache: { ttl: 10m }\` (in-process), \`--workers 1\` / \`--workers 2\` (${meta.w2_worker_processes} worker processes seen), \`GET /api/v1/orders/1\` repeated (checked: \`X-Cache: HIT\`); wrk shares the two cores. Each process got ${meta.warmup} s on /health/live and one unmeasured run of its case first.`,
].join('\n');

writeSection(dir, target, 'ops', section);
console.log(`ops-report: ${rows.map((r) => `${r[0].split(' ')[0]}… ${r[2].replace(/\*/g, '')}`).join('; ')}`);
