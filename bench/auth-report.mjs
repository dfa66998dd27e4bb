// Report of bench/auth.sh: reads one results folder and writes the section between
// `<!-- auth:start -->` and `<!-- auth:end -->` of the target Markdown file (the markers are added at
// the end of the file when missing; nothing outside them is touched), plus summary.json and
// auth-section.md in the folder. Reads only that folder, so a report can be regenerated later.
//   node_modules/.bin/node bench/auth-report.mjs bench/results/<stamp>-auth docs/benchmarks.md
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { median, parseWrk, toMs } from './wrk-output.mjs';
import { merged, pct, readRun, rest, share, usageByPhase } from './auth-usage.mjs';

const [dir, target] = process.argv.slice(2);
if (!dir || !target) {
  console.error('usage: auth-report.mjs RESULTS_DIR OUTPUT.md');
  process.exit(2);
}
const START = '<!-- auth:start -->', END = '<!-- auth:end -->';
const file = (name) => join(dir, name);
const text = (name) => (existsSync(file(name)) ? readFileSync(file(name), 'utf8') : '');
const lines = (name) => text(name).split('\n').filter((l) => l.trim() !== '');
const jsonLines = (name) => lines(name).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });

const { meta, samples } = readRun(dir);
const clk = Number(meta.clk_tck || 100);
const cores = Number(meta.cores || 0);
const threshold = Number(meta.threshold || 0.9);
const maxRest = Number(meta.max_rest || 0.25);
const MODES = { A: 'full access', B: 'customer JWT + policy' };
const WORKLOADS = ['pk', 'list'];

const fmt = (n, d = 0) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const ms = (x) => (x === null || x === undefined ? '–' : x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

// --- runs: wrk output + Sluice CPU ticks; rounds repeated because of other work are discarded ------
const usage = usageByPhase(samples, clk);
const discarded = new Set(lines('discarded.txt').flatMap((l) => l.match(/\b[AB]-(?:pk|list)-r\d+(?:-a\d+)?\b/g) ?? []));
const allRuns = jsonLines('runs.ndjson').map((r) => {
  const w = parseWrk(text(r.file));
  const phase = r.phase ?? `${r.mode}-${r.workload}-r${r.round}`;
  return {
    ...r, ...w, p50: toMs(w.p50), p99: toMs(w.p99), phase, discarded: discarded.has(phase), rest: rest(usage.get(phase), cores),
    cpuUsPerReq: w.requests ? ((r.sluice_cpu_ticks / clk) * 1e6) / w.requests : null,
    mainUsPerReq: w.requests ? ((r.sluice_main_ticks / clk) * 1e6) / w.requests : null,
  };
});
const runs = allRuns.filter((r) => !r.discarded);

const summary = { date: meta.date, commit: meta.commit, threshold, workloads: {} };
const rows = [], cpuRows = [], anomalies = [];
for (const w of WORKLOADS) {
  const by = (mode) => runs.filter((r) => r.mode === mode && r.workload === w).sort((x, y) => x.round - y.round);
  const a = by('A'), b = by('B');
  const stat = (rs) => ({
    rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)),
    errors: rs.reduce((s, r) => s + r.errors, 0), rounds: rs.map((r) => r.rps),
    cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)), mainUsPerReq: median(rs.map((r) => r.mainUsPerReq)),
  });
  const A = stat(a), B = stat(b);
  const ratio = A.rps && B.rps !== null ? B.rps / A.rps : null;
  const roundRatios = a.map((ra) => { const rb = b.find((x) => x.round === ra.round); return rb && ra.rps ? rb.rps / ra.rps : null; });
  const cpuRatio = A.cpuUsPerReq && B.cpuUsPerReq ? B.cpuUsPerReq / A.cpuUsPerReq : null;
  const pass = ratio === null || A.errors + B.errors > 0 ? null : ratio >= threshold;
  const disturbed = [...a, ...b].filter((r) => r.rest.share !== null && r.rest.share > maxRest);
  summary.workloads[w] = { fullAccess: A, jwtPolicy: B, ratio, roundRatios, medianRoundRatio: median(roundRatios), sluiceCpuPerRequestRatio: cpuRatio, pass, disturbedRuns: disturbed.map((r) => r.phase) };
  rows.push([`\`${w}\``,
    `${fmt(A.rps)} (${A.rounds.map((x) => fmt(x)).join(' / ')})`,
    `${fmt(B.rps)} (${B.rounds.map((x) => fmt(x)).join(' / ')})`,
    ratio === null ? '–' : `**${ratio.toFixed(2)} ×** (${roundRatios.map((x) => (x === null ? '–' : x.toFixed(2))).join(' / ')})`,
    ms(A.p99), ms(B.p99), `${fmt(A.errors)} / ${fmt(B.errors)}`,
    pass === null ? 'NOT MEASURED' : `${pass ? '**PASS**' : '**FAIL**'}${disturbed.length ? ' (disturbed runs: see below)' : ''}`]);
  for (const [mode, s] of [['A', A], ['B', B]]) {
    const u = merged(usage, (mode === 'A' ? a : b).map((r) => r.phase));
    const rs = rest(u, cores);
    cpuRows.push([`\`${w}\``, MODES[mode], s.cpuUsPerReq === null ? '–' : `${fmt(s.cpuUsPerReq, 1)} µs`, s.mainUsPerReq === null ? '–' : `${fmt(s.mainUsPerReq, 1)} µs`,
      pct(share(u, 'sluice')), pct(share(u, 'postgres')), pct(share(u, 'wrk')), rs.text, u && u.all ? `${Math.round((100 * u.busy) / u.all)}% of ${cores} cores` : '–']);
    summary.workloads[w][mode === 'A' ? 'fullAccess' : 'jwtPolicy'].usage = u ? { sluice: share(u, 'sluice'), postgres: share(u, 'postgres'), wrk: share(u, 'wrk'), rest: rs.share } : null;
  }
  // The same requests cost the same CPU; a run that needed clearly more per request ran on a slower
  // CPU (contention outside this machine's /proc, e.g. on the VM's host): its req/s is understated.
  for (const [mode, rs, s] of [['A', a, A], ['B', b, B]]) {
    for (const r of rs) {
      if (s.cpuUsPerReq && r.cpuUsPerReq > 1.15 * s.cpuUsPerReq) anomalies.push(`\`${w}\` ${MODES[mode]}, round ${r.round} (${fmt(r.rps)} req/s): Sluice needed ${fmt(r.cpuUsPerReq, 1)} µs of CPU per request against a median of ${fmt(s.cpuUsPerReq, 1)} µs for the same requests, other work on the machine: ${r.rest.text} of a core: the CPU itself was slower during that run (e.g. contention on the VM's host, which the guest's /proc does not show); its req/s is understated.`);
    }
  }
  for (const r of disturbed) anomalies.push(`other work used ${r.rest.text} of a core during \`${w}\` ${MODES[r.mode]}, round ${r.round} (${fmt(r.rps)} req/s): that run is disturbed (its round was kept after ${meta.round_retries ?? '?'} repeats).`);
  const spread = roundRatios.filter((x) => x !== null);
  if (spread.length > 1 && Math.max(...spread) - Math.min(...spread) > 0.1) anomalies.push(`\`${w}\`: the ratios of the single rounds spread by more than 0.1 (${spread.map((x) => x.toFixed(2)).join(', ')}): the machine was noisy; rerun to confirm.`);
}
const busyBefore = Object.entries(meta).filter(([k]) => k.startsWith('busy_before_')).map(([k, v]) => `${k.slice('busy_before_'.length, -'_pct'.length)} ${v}%`);
const waited = Object.entries(meta).filter(([k, v]) => k.startsWith('waited_before_') && Number(v) > 0).map(([k, v]) => `${k.slice('waited_before_'.length, -'_s'.length)} ${v} s`);
const checks = Object.fromEntries(['A', 'B'].map((m) => [m, text(`checks/all-${m}-r1.txt`).trim()]));
const curls = Object.fromEntries(['A', 'B'].map((m) => [m, text(`checks/curl-${m}-r1.txt`).trim()]));
const stamp = basename(dir.replace(/\/+$/, ''));
const ramGiB = meta.ram_kb ? `${(Number(meta.ram_kb) / 1048576).toFixed(1)} GiB` : '?';
const paths = (name) => lines(`${name}.paths`);
const verdicts = Object.values(summary.workloads).map((x) => x.pass);
summary.pass = verdicts.includes(null) ? null : verdicts.every(Boolean);
const repeated = lines('discarded.txt');
summary.discarded = repeated;

const out = [];
out.push('## Authentication and row policy cost (issue 3)', '');
out.push(`Generated by \`npm run bench:auth\` (bench/auth.sh → bench/auth-report.mjs) on ${meta.date ?? '?'} at commit \`${meta.commit ?? '?'}\`${meta.dirty_paths ? ` (uncommitted: ${meta.dirty_paths.split(' ').map((p) => `\`${p}\``).join(', ')})` : ''}. Raw outputs: \`bench/results/${stamp}/\` (not committed). bench/auth.sh writes this section; \`npm run bench\` keeps it as it is.`, '');
out.push(`Machine: ${meta.cpu ?? '?'}, ${cores || '?'} cores shared by wrk, PostgreSQL and Sluice, ${ramGiB} RAM; ${meta.kernel ?? '?'} (${meta.os ?? '?'}); Node ${meta.node ?? '?'}; PostgreSQL ${meta.postgres ?? '?'}; ${meta.wrk ?? 'wrk'}; ${fmt(Number(meta.orders))} orders of ${fmt(Number(meta.customers_total))} customers. Run time ${meta.elapsed_s ? `${Math.round(Number(meta.elapsed_s) / 60)} min` : '?'}.`, '');
out.push(`**Target:** \`pk\` and \`list\` with a customer JWT and row policy reach ≥ ${threshold} × the req/s of the same workloads with full access (authentication and policy cost ≤ ${Math.round((1 - threshold) * 100)} %). **Result: ${summary.pass === null ? 'NOT MEASURED' : summary.pass ? 'PASS' : 'FAIL'}.**`, '');
out.push(table(['workload', `${MODES.A} req/s, median (rounds)`, `${MODES.B} req/s, median (rounds)`, 'ratio of the medians (ratio per round)', 'p99 full access', 'p99 JWT + policy', 'errors (A / B)', `≥ ${threshold} ×`], rows), '');
out.push('p99: median of the rounds\' p99. Errors: non-2xx responses and socket errors over all measured runs (any would have stopped the benchmark).', '');
out.push('Where the time goes (kept runs of each mode; 100% = one core):', '');
out.push(table(['workload', 'mode', 'Sluice CPU per request', 'of which main thread', 'Sluice CPU', 'PostgreSQL CPU', 'wrk CPU', 'rest of machine', 'machine busy'], cpuRows), '');
const cpuLine = WORKLOADS.map((w) => { const r = summary.workloads[w].sluiceCpuPerRequestRatio; return r ? `\`${w}\` ${r >= 1 ? '+' : ''}${Math.round((r - 1) * 100)} %` : null; }).filter(Boolean).join(', ');
out.push(`CPU per request: utime + stime of the Sluice process (and of its main thread) from /proc/<pid>/stat just before and after each wrk run, divided by the requests wrk completed; median of the rounds. It is the least noisy view of what authentication and the policy cost Sluice: ${cpuLine || '–'} with the customer JWT and policy. The other columns come from bench/sampler.mjs (/proc every 0.5 s); "rest of machine" is everything but Sluice, the bench database's PostgreSQL backends, wrk and the sampler.`, '');
if (repeated.length) out.push(`Rounds repeated because other work used more than ${pct(maxRest)} of a core during one of their runs (the discarded runs stay in the raw outputs): ${repeated.join('; ')}.`, '');
if (anomalies.length) out.push('**Anomalies in this run:**', '', ...anomalies.map((a) => `- ${a}`), '');
out.push('### Method', '');
out.push([
  `- Two Sluice configurations, each started fresh for every run as \`npm run bench\` starts Sluice, plus \`--config\` (\`${meta.sluice_cmd ?? '?'}\`), against the same database:`,
  '  - **A, full access**: `{ "auth": { "anonRole": "anon" }, "roles": { "anon": "*" } }`; requests carry no token.',
  '  - **B, customer JWT + row policy**: `{ "auth": { "jwt": { "secret": <random 32 bytes>, "algorithms": ["HS256"] } }, "roles": { "customer": { "orders": { "read": { "filter": { "customer_id": "$auth.sub" } } } } } }`, no anonymous role; every request carries `Authorization: Bearer <JWT>`.',
  `- ${fmt(Number(meta.customers))} customers with orders (a fixed pseudo-random choice: \`order by md5(customer_id::text)\`; ${meta.customer_orders ?? '?'}), each with its lowest order id and one HS256 JWT (\`sub\` = customer id, \`role: customer\`, expires in 1 h; bench/auth-tokens.mjs, jose), signed with a secret made for the run.`,
  `- \`pk\`: \`GET /api/v1/orders/<that customer's order>\` in both modes (e.g. \`${paths('pk-A')[0] ?? '?'}\`). \`list\`: A \`GET /api/v1/orders?customer_id=<c>&limit=25\` (e.g. \`${paths('list-A')[0] ?? '?'}\`), B \`GET /api/v1/orders?limit=25\` with c's token: the policy adds \`customer_id = sub\`; both send PostgreSQL the same SQL and return the same rows.`,
  `- \`wrk -t1 -c${meta.connections} -d${meta.duration}s --latency -s bench/auth.lua\` (as ../shared/bench/peers.sh drives wrk); the script cycles through the ${fmt(Number(meta.customers))} (URL, token) pairs of the mode, requests formatted once up front. ${meta.rounds} round${meta.rounds === '1' ? '' : 's'}, A then B in each (A, B, A, B, …). For each mode of each round: wait (up to ${meta.quiet_wait ?? '?'} s) for a quiet machine (≤ ${meta.quiet_busy ?? '?'} % busy over 3 s), start Sluice, check correctness, ${meta.warmup} s unrecorded warm-up of each workload, then \`pk\` and \`list\` measured. A round in which other work used more than ${pct(maxRest)} of a core during any of its four runs is repeated (at most ${meta.round_retries ?? '?'} times). Median req/s per mode and workload; the ratio is B's median ÷ A's.`,
  '- Correctness before every measured run: one `curl` of the first customer\'s list, asserted with `jq` (HTTP 200, min(25, orders) rows, all of that customer), then every request of the mode once (bench/auth-check.mjs): pk → 200 with that customer\'s order; list → exactly that customer\'s rows, in B identical to A\'s `?customer_id=` rows; in B also: another customer\'s order → 404, `?customer_id=<another customer>` → no rows, no token → 401.',
].join('\n'), '');
out.push('Checks of round 1:', '');
out.push('```', curls.A, checks.A, curls.B, checks.B, '```', '');
if (busyBefore.length) out.push(`Machine busy before each mode (over 3 s): ${busyBefore.join(', ')}${waited.length ? `; waited for quiet: ${waited.join(', ')}` : ''}.`, '');
out.push('Reproduce:', '', '```sh', `DURATION=${meta.duration} ROUNDS=${meta.rounds} CONNECTIONS=${meta.connections} AUTH_CUSTOMERS=${meta.customers} npm run bench:auth`, '```', '');
const section = out.join('\n');

writeFileSync(file('auth-section.md'), section + '\n');
writeFileSync(file('summary.json'), JSON.stringify(summary, null, 2) + '\n');

const old = existsSync(target) ? readFileSync(target, 'utf8') : '';
const i = old.indexOf(START), j = old.indexOf(END, i + START.length);
if ((i >= 0) !== (j >= 0) || (i < 0 && old.includes(END))) {
  console.error(`auth-report: ${target} has only one of the markers ${START} / ${END}; fix it by hand (the section is in ${file('auth-section.md')})`);
  process.exit(1);
}
const next = i >= 0
  ? `${old.slice(0, i + START.length)}\n${section}\n${old.slice(j)}`
  : `${old.replace(/\s*$/, '')}${old.trim() ? '\n\n' : ''}${START}\n${section}\n${END}\n`;
writeFileSync(target, next);

for (const w of WORKLOADS) {
  const s = summary.workloads[w];
  console.log(`auth: ${w.padEnd(4)} full access ${fmt(s.fullAccess.rps).padStart(7)} req/s (p99 ${ms(s.fullAccess.p99)}), JWT + policy ${fmt(s.jwtPolicy.rps).padStart(7)} req/s (p99 ${ms(s.jwtPolicy.p99)}), ratio ${s.ratio === null ? '–' : s.ratio.toFixed(2)} (rounds ${s.roundRatios.map((x) => (x === null ? '–' : x.toFixed(2))).join(' / ')}), Sluice CPU/request ${fmt(s.fullAccess.cpuUsPerReq, 1)} → ${fmt(s.jwtPolicy.cpuUsPerReq, 1)} µs → ${s.pass === null ? 'NOT MEASURED' : s.pass ? 'PASS' : 'FAIL'}`);
}
if (repeated.length) console.log(`auth: repeated rounds: ${repeated.join('; ')}`);
if (anomalies.length) console.log(`auth: anomalies:\n  ${anomalies.join('\n  ')}`);
