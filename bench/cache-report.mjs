// bench/cache.sh's results → the section between `<!-- cache:start -->` and `<!-- cache:end -->`
// of a Markdown file (added at the end when missing; bench/report.mjs keeps it).
//   node bench/cache-report.mjs bench/results/<stamp>-cache docs/benchmarks.md
import { casesTable, fmt, readResults, roundRatios, spread, table, verdict, writeSection } from './section.mjs';

const [dir, target] = process.argv.slice(2);
if (!dir || !target) {
  console.error('usage: node bench/cache-report.mjs <results dir> <markdown file>');
  process.exit(2);
}
const CASES = ['baseline-hello', 'hit-pk', 'hit-list', 'hot-mix', 'hot-mix-admit', 'uncached-pk', 'node-bytes'];
const results = readResults(dir, CASES);
const { meta, runs, rps, p99, errors } = results;

// Each figure: the median over the rounds of its two cases' ratio within the round (run back to back).
const hitPkR = roundRatios(results, ['hit-pk'], ['baseline-hello']), hitListR = roundRatios(results, ['hit-list'], ['baseline-hello']);
const hotR = roundRatios(results, ['hot-mix'], ['uncached-pk']);
const hotAdmitR = runs['hot-mix-admit'].length ? roundRatios(results, ['hot-mix-admit'], ['uncached-pk']) : null;
const hitPk = hitPkR.median, hitList = hitListR.median, hot = hotR.median, hotAdmit = hotAdmitR?.median ?? null;
const hello = rps('baseline-hello');
// What 3x would take, in this run's own numbers. The mix serves no request faster than a hit: the
// pk hit repeated alone is its ceiling. node:http sending that hit's bytes with no work at all
// (bench/bytes-server.mjs) is the floor of any Node server's cost per hit; with the mix's hits at
// that cost and its 10 % long tail at the cost of an uncached read, the mix would reach `floor`.
const allHitsR = roundRatios(results, ['hit-pk'], ['uncached-pk']);
const bytesR = runs['node-bytes'].length ? roundRatios(results, ['node-bytes'], ['uncached-pk']) : null;
const withHitsAt = (r) => (r ? 1 / (0.9 / r + 0.1) : null);
const mixBound = withHitsAt(allHitsR.median), mixFloor = withHitsAt(bytesR?.median ?? null);
const needed = 0.9 / (1 / 3 - 0.1); // hits this many times the uncached rate make the mix 3x
const reachable = bytesR ? bytesR.median >= needed : null;
const worstP99 = Math.max(p99('hit-pk') ?? Infinity, p99('hit-list') ?? Infinity);
const anyErrors = CASES.some((c) => errors(c) > 0);

const rows = [
  ['Cache hit, `pk` URL repeated ≥ 0.7 × `hello`', `${hitPk?.toFixed(2) ?? '–'} × (${spread(hitPkR)}; medians ${fmt(rps('hit-pk'))} vs ${fmt(hello)} req/s)`, verdict(hitPk === null ? null : hitPk >= 0.7)],
  ['Cache hit, `list` URL repeated ≥ 0.7 × `hello`', `${hitList?.toFixed(2) ?? '–'} × (${spread(hitListR)}; medians ${fmt(rps('hit-list'))} vs ${fmt(hello)} req/s)`, verdict(hitList === null ? null : hitList >= 0.7)],
  ['Hot-key mix ≥ 3 × uncached `pk` (default: every response stored)', `${hot?.toFixed(2) ?? '–'} × (${spread(hotR)}; medians ${fmt(rps('hot-mix'))} vs ${fmt(rps('uncached-pk'))} req/s)`, verdict(hot === null ? null : hot >= 3)],
  ['Hot-key mix ≥ 3 × uncached `pk` with `cache.minUses: 2`', `${hotAdmit?.toFixed(2) ?? '–'} × (${hotAdmitR ? spread(hotAdmitR) : '–'}; medians ${fmt(rps('hot-mix-admit'))} vs ${fmt(rps('uncached-pk'))} req/s)`, verdict(hotAdmit === null ? null : hotAdmit >= 3)],
  [`p99 of a cache hit ≤ 5 ms at ${meta.connections} connections`, `pk ${p99('hit-pk')?.toFixed(2) ?? '–'} ms, list ${p99('hit-list')?.toFixed(2) ?? '–'} ms (median of the rounds' p99)`, verdict(Number.isFinite(worstP99) ? worstP99 <= 5 : null)],
];

const section = [
  '## Response cache (issue 4, `npm run bench:cache`)',
  '',
  `Run ${dir.split('/').pop()} on ${meta.date} at commit ${meta.commit}: ${meta.cpu}, ${meta.cores} cores, Node ${meta.node}; ${meta.orders} orders.`,
  '',
  table(['target', 'result', 'verdict'], rows),
  '',
  anyErrors ? `**Errors:** ${CASES.filter((c) => errors(c) > 0).map((c) => `${c}: ${errors(c)}`).join(', ')} non-2xx or socket errors; the run is not valid.` : 'No non-2xx responses or socket errors in any measured run.',
  '',
  casesTable(results, CASES),
  '',
  `What 3 × would take, in this run's numbers: the mix serves no request faster than a cache hit, and the \`pk\` hit repeated alone serves ${allHitsR.median?.toFixed(2) ?? '–'} × uncached \`pk\` (${spread(allHitsR)}); with 90 % of the mix at that cost and 10 % at the cost of an uncached read, ${mixBound?.toFixed(2) ?? '–'} ×. ${bytesR ? `node:http sending that hit's very bytes and doing nothing else (\`bench/bytes-server.mjs\`, the floor of any Node server's cost per response) serves ${bytesR.median.toFixed(2)} × uncached \`pk\` (${spread(bytesR)}); a mix whose hits cost no more than that would reach ${mixFloor.toFixed(2)} ×. ` : ''}3 × needs hits at ${needed.toFixed(2)} × the uncached rate${reachable === false ? `: an uncached \`pk\` here (one pipelined statement, docs/performance.md) costs more than 1/${needed.toFixed(2)} of the cheapest response Node can send, so no Node server serves this mix at 3 × uncached \`pk\` on this machine` : reachable ? ', which the floor above allows: a cheaper hit would reach it' : ''}.`,
  '',
  `How: \`wrk -t1 -c${meta.connections} -d${meta.duration}s --latency\`, ${meta.rounds} short rounds of the cases in turn (hit-pk, baseline-hello, hit-list, hot-mix, uncached-pk, hot-mix-admit, node-bytes; every other round in reverse order, so the two sides of each comparison run back to back); a ratio is the median over the rounds of the ratio within the round, so that the machine's drift in speed between rounds cancels (the table gives every round). Every Sluice runs with \`log: { requests: false }\` (no log line per request, like the baseline's \`logger: false\`). Sluice A runs with the response cache and Redis (\`cache: { ttl: 10m }\`, \`redis.url\`), Sluice B without a cache, Sluice C as A with \`cache.minUses: 2\` (a response is stored the second time its request is seen: the 10 % long tail of one-off ids costs no entry and no Redis round trip), all as \`npm run bench\` starts Sluice (${meta.sluice_cmd}). Before the rounds each process got ${meta.warmup} s of load on its cheapest route (the baseline's /hello, Sluice's /health/live), and A and C one unmeasured run of the hot-key mix (${meta.warmup_hot_mix}, ${meta.warmup_hot_mix_admit ?? '–'}) so that the hot keys are cached. Hot-key mix: 90 % of requests on ids 1–${meta.hot_ids} (1 %), 10 % uniform over 1–${meta.all_ids}; uncached pk: uniform over 1–${meta.all_ids} (peers.sh's pk). Before measuring, one request of each hit case was checked: 200, \`X-Cache: HIT\`, the row(s) asked for. Redis held ${meta.redis_keys} shared entries at the end.`,
].join('\n');

writeSection(dir, target, 'cache', section);
console.log(`cache-report: ${rows.map((r) => `${r[0].split(' ')[0]}… ${r[2].replace(/\*/g, '')}`).join('; ')}`);
