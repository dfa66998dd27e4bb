// Writes docs/benchmarks.md from one results folder of bench/run.sh.
//   node_modules/.bin/node bench/report.mjs bench/results/<stamp> docs/benchmarks.md
// Reads only that folder (so a report can be regenerated later); tolerates a missing peer, a failed
// peers.sh, a missing stream or pagination run: whatever is missing is said, not guessed.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, parseWrk, toMs } from './wrk-output.mjs';

const [dir, target] = process.argv.slice(2);
if (!dir || !target) {
  console.error('usage: report.mjs RESULTS_DIR OUTPUT.md');
  process.exit(2);
}
const file = (name) => join(dir, name);
const text = (name) => (existsSync(file(name)) ? readFileSync(file(name), 'utf8') : '');
const lines = (name) => text(name).split('\n').filter((l) => l.trim() !== '');
const jsonLines = (name) => lines(name).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });

// --- inputs ------------------------------------------------------------------------------------
const meta = {};
for (const l of lines('meta.env')) {
  const i = l.indexOf('=');
  if (i > 0) meta[l.slice(0, i)] = l.slice(i + 1);
}
const port = meta.port ?? '3400';
const clk = Number(meta.clk_tck || 100);
const cores = Number(meta.cores || 0);
const PAGE = Number(meta.page || 40000);
const WORKLOAD_TARGETS = ['pk', 'list', 'embed1', 'embed2'];

/** peers.sh summary table: system workload req/s p99 errors vs-baseline. */
const peerRows = [];
for (const l of lines('peers.out')) {
  const f = l.trim().split(/\s+/);
  if (f[0] === 'system' || f.length < 5) continue;
  const [system, workload, rps, ...rest] = f;
  const [p99, errors, ratio] = rest.length >= 3 ? rest : [null, ...rest];
  peerRows.push({ system, workload, rps: Number(rps), p99, errors: Number(errors), ratio: ratio === '-' ? null : Number(ratio) });
}
const peersRc = text('peers.rc').trim();
const failures = text('peer-failures.txt').trim();


// --- samples → CPU shares and memory per phase ---------------------------------------------------
const samples = jsonLines('samples.ndjson');
const SYSTEM_OF_PORT = { 3100: 'baseline', 3200: 'platformatic', 3300: 'directus', [port]: 'sluice' };
function labelOfWrk(url) {
  if (!url) return null;
  let u;
  try { u = new URL(url.replace('%d', '1')); } catch { return null; }
  const system = SYSTEM_OF_PORT[u.port] ?? `port ${u.port}`;
  let p = url;
  try { p = decodeURIComponent(url); } catch { /* '%d' of the pk workload */ }
  let workload = 'list';
  if (u.pathname === '/hello') workload = 'hello';
  else if (url.includes('%d')) workload = 'pk';
  else if (/include=customer,items|orders-embed/.test(p)) workload = 'embed2';
  else if (/include=customer|orders-cust|customer_id\.\*/.test(p)) workload = 'embed1';
  return `${system}:${workload}`;
}
const phaseLabel = (s) => (s.phase === 'peers' ? labelOfWrk(s.wrk) : s.phase);
const usage = new Map(); // label → { seconds, cls: { name: cpuSeconds }, main, machineBusy, machineAll, rssMax, hwmMax }
for (let i = 1; i < samples.length; i++) {
  const a = samples[i - 1], b = samples[i];
  const la = phaseLabel(a), lb = phaseLabel(b);
  if (!lb || la !== lb || b.phase !== a.phase) continue;
  const dt = (b.t - a.t) / 1000;
  if (dt <= 0) continue;
  const u = usage.get(lb) ?? { seconds: 0, cls: {}, main: 0, mainSeconds: 0, busy: 0, all: 0, rssMax: 0, hwmMax: 0 };
  u.seconds += dt;
  for (const [key, ticks] of Object.entries(b.cpu ?? {})) {
    if (!(key in (a.cpu ?? {}))) continue;
    const cls = key.slice(0, key.indexOf(':'));
    u.cls[cls] = (u.cls[cls] ?? 0) + (ticks - a.cpu[key]) / clk;
  }
  if (a.sluice && b.sluice && a.sluice.pid === b.sluice.pid) {
    u.main += (b.sluice.main - a.sluice.main) / clk;
    u.mainSeconds += dt;
  }
  if (a.machine && b.machine) {
    u.busy += b.machine.busy - a.machine.busy;
    u.all += b.machine.busy - a.machine.busy + b.machine.idle - a.machine.idle;
  }
  if (b.sluice) {
    u.rssMax = Math.max(u.rssMax, b.sluice.rss ?? 0);
    u.hwmMax = Math.max(u.hwmMax, b.sluice.hwm ?? 0);
  }
  u.rssByClass ??= {};
  for (const [cls, kb] of Object.entries(b.rss ?? {})) u.rssByClass[cls] = Math.max(u.rssByClass[cls] ?? 0, kb);
  usage.set(lb, u);
}
const pct = (cpuSeconds, seconds) => (seconds > 0 ? `${Math.round((100 * cpuSeconds) / seconds)}%` : '–');
/** CPU of everything but the system under test, PostgreSQL's backends of the bench database and wrk:
 *  other tests, other databases, kernel; with its two biggest contributors. */
function rest(u, system) {
  const mine = new Set([system, 'postgres', 'wrk']);
  const others = Object.entries(u.cls).filter(([c]) => !mine.has(c)).sort((a, b) => b[1] - a[1]);
  const machine = u.all ? (u.busy / u.all) * (cores || 1) * u.seconds : 0; // cpu-seconds
  const attributed = [...mine].reduce((a, c) => a + (u.cls[c] ?? 0), 0);
  const restSeconds = Math.max(0, machine - attributed);
  const top = others.filter(([, v]) => v / u.seconds >= 0.05).slice(0, 2).map(([c, v]) => `${c} ${pct(v, u.seconds)}`);
  return { share: restSeconds / u.seconds, text: `${pct(restSeconds, u.seconds)}${top.length ? ` (${top.join(', ')})` : ''}` };
}

// Sluice memory while peers.sh loaded it: every tick of the peers phase (idle gaps included).
const loadTicks = samples.filter((s) => s.phase === 'peers' && s.sluice);
const loadRssMax = Math.max(0, ...loadTicks.map((s) => s.sluice.rss ?? 0));
const loadHwmMax = Math.max(0, ...loadTicks.map((s) => s.sluice.hwm ?? 0));
const loadPid = loadTicks.at(-1)?.sluice.pid;

// --- streams and pagination ----------------------------------------------------------------------
const streams = jsonLines('streams.ndjson');
for (const s of streams) {
  const ticks = samples.filter((t) => t.phase === `stream-${s.name}` && t.sluice);
  s.rssSampled = Math.max(0, ...ticks.map((t) => t.sluice.rss ?? 0));
  s.edges = text(`stream-${s.name}.edges`).split('\n').filter(Boolean);
}
const keysetSetup = lines('keyset-setup.txt');
const cases = ['id-page1', `id-page${PAGE}`, 'created_at-page1', `created_at-page${PAGE}`, 'offset-page1', `offset-page${PAGE}`];
const keyset = {};
const kdir = file('keyset');
const kfiles = existsSync(kdir) ? readdirSync(kdir) : [];
for (const c of cases) {
  const runs = kfiles.filter((f) => f.startsWith(`${c}-r`) && f.endsWith('.txt')).sort()
    .map((f) => parseWrk(readFileSync(join(kdir, f), 'utf8')));
  if (!runs.length) continue;
  let body = null;
  try { body = JSON.parse(readFileSync(join(kdir, `${c}.body.json`), 'utf8')); } catch { /* missing or not JSON */ }
  keyset[c] = {
    runs,
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => toMs(r.p50))),
    p99: median(runs.map((r) => toMs(r.p99))),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    status: text(`keyset/${c}.status`).trim(),
    url: text(`keyset/${c}.url`).trim(),
    firstId: body?.data?.[0]?.id ?? null,
    rows: Array.isArray(body?.data) ? body.data.length : null,
  };
}

// --- formatting helpers --------------------------------------------------------------------------
const MB = (kb) => (kb ? `${((kb * 1024) / 1e6).toFixed(1)} MB` : '–');
const fmt = (n, d = 0) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const ms = (x) => (x === null || x === undefined ? '–' : x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
const verdict = (ok) => (ok === null ? 'NOT MEASURED' : ok ? '**PASS**' : '**FAIL**');
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const anomalies = [];

// --- targets -------------------------------------------------------------------------------------
const targets = [];
for (const w of WORKLOAD_TARGETS) {
  const row = peerRows.find((r) => r.system === 'sluice' && r.workload === w);
  const base = peerRows.find((r) => r.system === 'baseline' && r.workload === w);
  const ok = row && row.ratio !== null ? row.ratio >= 0.85 : null;
  targets.push([`\`${w}\`: Sluice ≥ 0.85 × hand-written baseline`,
    row ? `${row.ratio === null ? '–' : row.ratio.toFixed(2)} × (${fmt(row.rps)} vs ${base ? fmt(base.rps) : '–'} req/s)` : 'not measured', verdict(ok),
    'peers.sh median req/s over the rounds, same run']);
  if (row && row.errors > 0) anomalies.push(`Sluice answered ${row.errors} requests of \`${w}\` with an error (non-2xx or socket error) under load.`);
}
const loadMem = loadHwmMax || null;
targets.push(['Resident memory of one Sluice process under peers.sh load ≤ 150 MB',
  loadMem ? `peak ${MB(loadHwmMax)} (VmHWM); sampled VmRSS max ${MB(loadRssMax)}` : 'not measured',
  verdict(loadMem ? loadHwmMax * 1024 <= 150e6 : null), '/proc/<pid>/status of the Sluice process started by peers.sh, every 0.5 s; VmHWM is the kernel\'s peak since start']);
const nd = streams.find((s) => s.name === 'ndjson');
if (nd) {
  const linesOk = nd.lines === 1_000_000 && nd.status === 200;
  const memKb = Math.max(nd.hwm_kb, nd.rssSampled);
  targets.push(['NDJSON stream of all orders: 1,000,000 lines', `${fmt(nd.lines)} lines, HTTP ${nd.status}`, verdict(linesOk), '`curl … | awk` line count']);
  targets.push(['NDJSON stream: peak RSS ≤ 200 MB', `${MB(memKb)}${nd.hwm_reset === 'yes' ? '' : ' (VmHWM not reset: includes start-up)'}`, verdict(memKb * 1024 <= 200e6), 'VmHWM reset (clear_refs) just before the request, read after; plus 0.5 s samples']);
  targets.push(['NDJSON stream: under 10 s', `${nd.wall_s} s (${fmt(nd.bytes / 1e6, 1)} MB body)`, verdict(nd.wall_s < 10 && linesOk), 'wall clock around curl, to the last byte']);
} else {
  targets.push(['NDJSON stream of all orders', 'not measured', verdict(null), '']);
}
for (const [sort, label] of [['id', '`sort=id`'], ['created_at', '`sort=-created_at`']]) {
  const p1 = keyset[`${sort}-page1`], pn = keyset[`${sort}-page${PAGE}`];
  if (!p1 || !pn) { targets.push([`Keyset ${label}: page ${fmt(PAGE)} costs the same as page 1`, 'not measured', verdict(null), '']); continue; }
  const ratio = p1.rps ? pn.rps / p1.rps : null;
  const setup = keysetSetup.find((l) => l.startsWith(`${sort} `)) ?? '';
  const exp = setup.match(/expected_first=(\S+)/)?.[1], got = setup.match(/got_first=(\S+)/)?.[1];
  const right = exp !== undefined && String(pn.firstId) === exp && got === exp;
  if (!right) anomalies.push(`Keyset ${label}: page ${PAGE} started at id ${pn.firstId ?? '?'} but PostgreSQL says ${exp ?? '?'} (${setup}).`);
  targets.push([`Keyset ${label}: page ${fmt(PAGE)} costs the same as page 1 (throughput ratio ≥ 0.85)`,
    `${ratio === null ? '–' : ratio.toFixed(2)} × (${fmt(pn.rps)} vs ${fmt(p1.rps)} req/s; p50 ${ms(pn.p50)} vs ${ms(p1.p50)}); first id ${pn.firstId ?? '?'} (expected ${exp ?? '?'})`,
    verdict(ratio === null ? null : ratio >= 0.85 && right && pn.errors === 0 && p1.errors === 0), `wrk ${meta.keyset_duration} s × ${meta.keyset_rounds ?? meta.rounds} rounds, ${meta.connections} connections, median`]);
}

// --- anomalies -----------------------------------------------------------------------------------
for (const part of ['peers', 'alone']) {
  const busy = Number(meta[`busy_before_${part}_pct`]);
  if (busy > 20) anomalies.push(`The machine was still ${busy}% busy just before the ${part === 'peers' ? 'peers.sh' : 'stream and pagination'} measurements (something else was running; waited ${meta[`waited_before_${part}_s`]} s): figures are noisier than usual.`);
}
{
  const heavy = [...usage.entries()].filter(([label]) => label.includes(':') || label.startsWith('keyset') || label.startsWith('stream'))
    .map(([label, u]) => [label, rest(u, label.startsWith('keyset') || label.startsWith('stream') ? 'sluice' : label.split(':')[0])])
    .filter(([, r]) => r.share > 0.25);
  if (heavy.length) anomalies.push(`Other work used more than a quarter of a core during ${heavy.length} of the measured phases (e.g. ${heavy.slice(0, 3).map(([l, r]) => `${l}: ${r.text}`).join('; ')}): those figures are disturbed; rerun on a quiet machine to confirm.`);
}
if (peersRc && peersRc !== '0') anomalies.push(`peers.sh exited with status ${peersRc}; see peers.err in the results folder.`);
if (!peerRows.length) anomalies.push('peers.sh produced no result table.');
for (const r of peerRows) if (r.system !== 'sluice' && r.errors > 0) anomalies.push(`${r.system} answered ${r.errors} requests of \`${r.workload}\` with an error.`);
if (meta.orders && meta.orders !== '1000000') anomalies.push(`The orders table holds ${meta.orders} rows, not 1,000,000 (scale 1): the stream figures are not comparable.`);
for (const s of streams) {
  if (s.status !== 200) anomalies.push(`Stream ${s.name}: HTTP ${s.status}.`);
  const want = s.name === 'csv' ? 1_000_001 : 1_000_000;
  if (s.lines !== want) anomalies.push(`Stream ${s.name}: ${s.lines} lines, expected ${want}${s.name === 'csv' ? ' (header + rows)' : ''}.`);
}
for (const [c, k] of Object.entries(keyset)) {
  if (k.status !== '200') anomalies.push(`Pagination ${c}: HTTP ${k.status} for ${k.url}.`);
  if (k.errors > 0) anomalies.push(`Pagination ${c}: ${k.errors} errors under wrk.`);
}

// --- document ------------------------------------------------------------------------------------
const ramGb = meta.ram_kb ? `${(Number(meta.ram_kb) / 1024 / 1024).toFixed(1)} GiB` : '?';
const out = [];
out.push('# Benchmarks', '');
out.push(`Generated by \`npm run bench\` (bench/run.sh → bench/report.mjs) on ${meta.date ?? '?'} at commit \`${meta.commit ?? '?'}\`.`);
if (meta.dirty_paths) out.push(`Uncommitted paths at the time: ${meta.dirty_paths.split(' ').map((p) => `\`${p}\``).join(', ')}.`);
out.push('Raw outputs: `bench/results/' + dir.split('/').filter(Boolean).at(-1) + '/` (not committed). All figures below come from this one run; the machine is small and shared by the load generator and the servers, so compare ratios within the run, not absolute numbers across runs.', '');
out.push('## Machine', '');
out.push(table(['', ''], [
  ['CPU', `${meta.cpu ?? '?'}, ${meta.cores ?? '?'} cores (wrk, PostgreSQL and the servers share them)`],
  ['RAM', ramGb], ['Kernel / OS', `${meta.kernel ?? '?'} / ${meta.os ?? '?'}`],
  ['Node (Sluice)', `${meta.node ?? '?'} (node_modules/.bin/node)`], ['Node (peers)', meta.peers_node ?? '?'],
  ['PostgreSQL', meta.postgres ?? '?'], ['wrk', meta.wrk ?? '?'],
  ['Data set', `shop-postgres.sql scale 1: ${fmt(Number(meta.orders))} orders, ${fmt(Number(meta.order_items))} order items${meta.resources ? `; Sluice served ${meta.resources} resources (more than the 4 shop tables once Directus has created its system tables in the same database)` : ''}`],
  ['Run time', meta.elapsed_s ? `${Math.round(Number(meta.elapsed_s) / 60)} min` : '?'],
]), '');

out.push('## Targets of issue 2', '');
out.push(table(['target', 'measured', 'result', 'how'], targets), '');
if (anomalies.length) {
  out.push('**Anomalies in this run:**', '', ...anomalies.map((a) => `- ${a}`), '');
} else {
  out.push('No anomalies: every measured request answered 2xx, streams returned every row, pagination returned the expected rows.', '');
}

out.push('## Sluice beside its peers (../shared/bench/peers.sh)', '');
out.push(`\`wrk -t1 -c${meta.connections} -d${meta.duration}s\`, ${meta.rounds} rounds per system and workload (interleaved), median req/s; p99 of the last round; errors = non-2xx + socket errors over all rounds; ratio = req/s ÷ the hand-written baseline's (Fastify + pg, same SQL shape, ../shared/bench/baseline.mjs).`, '');
const SYSTEMS = ['baseline', 'sluice', 'platformatic', 'directus'];
const sortedRows = [...peerRows].sort((a, b) => {
  const wa = ['hello', ...WORKLOAD_TARGETS].indexOf(a.workload), wb = ['hello', ...WORKLOAD_TARGETS].indexOf(b.workload);
  return wa - wb || SYSTEMS.indexOf(a.system) - SYSTEMS.indexOf(b.system);
});
if (sortedRows.length) {
  out.push(table(['workload', 'system', 'req/s', 'p99', 'errors', 'vs baseline', 'server CPU', 'PostgreSQL CPU', 'wrk CPU', 'rest of machine', 'machine busy'],
    sortedRows.map((r) => {
      const u = usage.get(`${r.system}:${r.workload}`);
      const server = u ? (r.system === 'sluice' ? `${pct(u.cls.sluice ?? 0, u.seconds)} (main thread ${pct(u.main, u.mainSeconds)})` : pct(u.cls[r.system] ?? 0, u.seconds)) : '–';
      return [`\`${r.workload}\``, r.system === 'sluice' ? '**sluice**' : r.system, fmt(r.rps), r.p99 ?? '–', fmt(r.errors), r.ratio === null ? '–' : r.ratio.toFixed(2),
        server, u ? pct(u.cls.postgres ?? 0, u.seconds) : '–', u ? pct(u.cls.wrk ?? 0, u.seconds) : '–', u ? rest(u, r.system).text : '–',
        u && u.all ? `${Math.round((100 * u.busy) / u.all)}% of ${cores} cores` : '–'];
    })), '');
  out.push('CPU columns: average over the workload\'s wrk runs from /proc (bench/sampler.mjs, 0.5 s ticks); 100% = one core fully busy, the machine has ' + (cores || '?') + '. "server" is the process under test; "main thread" is the JavaScript thread of Sluice (near 100% = event loop saturated). "PostgreSQL" counts the backends connected to the bench database; "rest of machine" is everything else that ran meanwhile (other databases\' backends, other node processes such as test runs, kernel), with its biggest contributors.', '');
} else {
  out.push('_peers.sh produced no results in this run._', '');
}
const measured = (meta.peers_measured ?? '').trim();
out.push(`Peers measured: ${measured || 'none'}${meta.peers_requested ? ` (requested: ${meta.peers_requested})` : ''}.`, '');
if (failures) {
  out.push('### Peers that could not run', '', 'Each peer is started alone first (preflight); one that cannot install or start is left out of the measured run. What peers.sh and the peer\'s log said:', '');
  out.push('```', failures, '```', '');
}

out.push('## Streaming all orders', '');
if (streams.length) {
  out.push(table(['format', 'HTTP', 'lines', 'body', 'wall time', 'peak RSS (VmHWM)', 'peak RSS (sampled)'],
    streams.map((s) => [s.name === 'ndjson' ? 'NDJSON' : 'CSV', String(s.status), fmt(s.lines), `${fmt(s.bytes / 1e6, 1)} MB`, `${s.wall_s} s`, MB(s.hwm_kb), MB(s.rssSampled)])), '');
  const u = usage.get('stream-ndjson');
  if (u) out.push(`During the NDJSON stream: Sluice ${pct(u.cls.sluice ?? 0, u.seconds)} CPU (main thread ${pct(u.main, u.mainSeconds)}), PostgreSQL ${pct(u.cls.postgres ?? 0, u.seconds)}, curl ${pct(u.cls.curl ?? 0, u.seconds)}.`, '');
  out.push(`A fresh Sluice process (idle RSS ${MB(Number(meta.rss_idle_kb))}); VmHWM is reset through /proc/<pid>/clear_refs before each request, so it is the peak of that request alone. CSV has one header line more than NDJSON.`, '');
} else {
  out.push('_Not measured in this run._', '');
}

out.push('## Pagination: page 1 vs page ' + fmt(PAGE), '');
if (Object.keys(keyset).length) {
  const rows = [];
  for (const [sort, label] of [['id', 'keyset `sort=id`'], ['created_at', 'keyset `sort=-created_at`'], ['offset', `offset (\`offset=${fmt((PAGE - 1) * Number(meta.limit || 25))}\`, sort=id)`]]) {
    const p1 = keyset[`${sort}-page1`], pn = keyset[`${sort}-page${PAGE}`];
    for (const [name, k] of [['page 1', p1], [`page ${fmt(PAGE)}`, pn]]) {
      if (!k) continue;
      const u = usage.get(`keyset-${sort}-page${name === 'page 1' ? 1 : PAGE}`);
      rows.push([label, name, `${fmt(k.rps)} (${k.runs.map((x) => fmt(x.rps)).join(' / ')})`, ms(k.p50), ms(k.p99), fmt(k.errors), String(k.firstId ?? '–'),
        name === 'page 1' || !p1?.rps ? '' : `${(k.rps / p1.rps).toFixed(2)} ×`,
        u ? `${pct(u.cls.sluice ?? 0, u.seconds)} / ${pct(u.cls.postgres ?? 0, u.seconds)}` : '–', u ? rest(u, 'sluice').text : '–', u ? MB(u.rssMax) : '–']);
    }
  }
  out.push(table(['pagination', 'page', 'req/s median (rounds)', 'p50', 'p99', 'errors', 'first id', 'vs page 1', 'CPU Sluice / PostgreSQL', 'rest of machine', 'Sluice RSS (max)'], rows), '');
  if (meta.rss_after_all_kb) out.push(`Sluice RSS: ${MB(Number(meta.rss_idle_kb))} when started, ${MB(Number(meta.rss_after_all_kb))} after the streams and all pagination runs.`, '');
  out.push(`\`limit=${meta.limit}\`; wrk -t1 -c${meta.connections} -d${meta.keyset_duration}s, ${meta.keyset_rounds ?? meta.rounds} rounds (cases interleaved, after a 2 s unrecorded warm-up of each; before each run the harness waits until no statement is active on the bench database), median; p50/p99 are medians over the rounds. The cursor of page ${fmt(PAGE)} is taken without walking the pages: a cursor is bound to the sort, not to the filters, so the \`nextCursor\` of a one-row request filtered to the row that ends page ${fmt(PAGE - 1)} (\`sort=id&limit=1&id[gte]=…\`, \`sort=-created_at&limit=1&created_at[lte]=…\`) continues the unfiltered listing at page ${fmt(PAGE)}. The expected first row of that page comes from PostgreSQL (\`order by … offset ${fmt((PAGE - 1) * Number(meta.limit || 25))}\`).`, '');
  if (keysetSetup.length) out.push('```', ...keysetSetup, '```', '');
} else {
  out.push('_Not measured in this run._', '');
}

out.push('## Memory of Sluice under the peers.sh load', '');
if (loadTicks.length) {
  const rows = sortedRows.filter((r) => r.system === 'sluice').map((r) => {
    const u = usage.get(`sluice:${r.workload}`);
    const b = usage.get(`baseline:${r.workload}`);
    return [`\`${r.workload}\``, u ? MB(u.rssMax) : '–', b?.rssByClass?.baseline ? MB(b.rssByClass.baseline) : '–'];
  });
  out.push(`Process ${loadPid} (started by bench/run.sh, warmed up, then loaded by peers.sh through SLUICE_URL). Peak VmHWM ${MB(loadHwmMax)}, highest sampled VmRSS ${MB(loadRssMax)}.`, '');
  if (rows.length) out.push(table(['workload', 'Sluice: highest sampled VmRSS', 'hand-written baseline: highest VmRSS (its own run of the workload)'], rows), '');
} else {
  out.push('_No samples of the Sluice process under load._', '');
}

const procs = jsonLines('processes.ndjson');
const strangers = new Map();
for (const p of procs) {
  if ((!['node-other', 'postgres-other'].includes(p.cls) && !p.cls.startsWith('other(')) || !p.cmd) continue;
  const key = `${p.cls}: ${p.cmd.replace(/\s+/g, ' ').slice(0, 140)}`;
  if (!strangers.has(key) && (p.cls !== 'postgres-other' || !/^postgres: [^:]+: (checkpointer|background|walwriter|autovacuum|logical|archiver|stats)/.test(p.cmd))) strangers.set(key, p);
}
const noteworthy = [...strangers.keys()].filter((k) => k.startsWith('node-other') || k.startsWith('postgres-other')).slice(0, 12);
if (noteworthy.length) {
  out.push('## Other activity seen during the run', '');
  out.push('Processes that were not part of the benchmark but ran beside it ("node-other", "postgres-other" in the CPU columns; first 12):', '');
  out.push('```', ...noteworthy, '```', '');
}

out.push('## How to reproduce', '');
out.push('```sh', 'npm install', `DURATION=${meta.duration} ROUNDS=${meta.rounds} CONNECTIONS=${meta.connections} PEERS="${meta.peers_requested ?? ''}" npm run bench`, '```', '');
out.push('What that does, step by step (bench/run.sh):', '');
out.push([
  '1. `npm run build`.',
  `2. \`PEERS=" " WORKLOADS=" " ${meta.shared ?? '../shared'}/bench/peers.sh\`: creates the database and loads shop-postgres.sql at scale 1 when its tables are missing (DATABASE_URL=${meta.database_url ?? '?'}).`,
  '3. Preflight: `PEERS=<peer> WORKLOADS=" " peers.sh` for each requested peer; one that fails is left out, with its reason above.',
  `4. \`${meta.sluice_cmd ?? 'node dist/cli/main.js serve'}\` (configuration: \`${meta.sluice_config ?? '?'}\` — no request log lines, like the baseline's \`logger: false\`), warmed up with \`wrk -t1 -c${meta.connections} -d${Number(meta.duration) * Number(meta.rounds)}s /health/live\` (${meta.sluice_warmup ?? '?'}: the load peers.sh's \`hello\` puts on the baseline before the other workloads), then \`SLUICE_URL=http://127.0.0.1:${port} PEERS="${measured}" peers.sh\`, while \`node bench/sampler.mjs\` reads /proc every 0.5 s.`,
  `5. A fresh \`${meta.sluice_cmd ?? 'node dist/cli/main.js serve'}\`, then \`curl -s -H 'accept: application/x-ndjson' http://127.0.0.1:${port}/api/v1/orders | awk …\` (and \`accept: text/csv\`), then \`wrk -t1 -c${meta.connections} -d${meta.keyset_duration}s --timeout 10s --latency <url>\` for each pagination case.`,
  '6. `node bench/report.mjs bench/results/<stamp> docs/benchmarks.md`.',
].join('\n'), '');
out.push('Knobs: DURATION, ROUNDS, CONNECTIONS, PEERS, WORKLOADS (passed to peers.sh), DATABASE_URL, SHARED_DIR (folder that holds bench/peers.sh), PEERS_DIR, KEYSET_DURATION, KEYSET_ROUNDS, SLUICE_PORT, QUIET_WAIT, QUIET_BUSY. MB here = 10^6 bytes (/proc reports KiB). Traffic stays on 127.0.0.1 and every load run is bounded in time.', '');

// Sections written by other scripts (bench/auth.sh: <!-- auth:start --> … <!-- auth:end -->,
// bench/cache.sh: <!-- cache:… -->) are carried over from the file being replaced, unchanged, at its end.
const previous = existsSync(target) ? readFileSync(target, 'utf8') : '';
for (const [start, end] of [['<!-- auth:start -->', '<!-- auth:end -->'], ['<!-- cache:start -->', '<!-- cache:end -->'], ['<!-- ops:start -->', '<!-- ops:end -->']]) {
  const i = previous.indexOf(start), j = previous.indexOf(end, i + start.length);
  if (i >= 0 && j > i) out.push(previous.slice(i, j + end.length), '');
}
writeFileSync(target, out.join('\n'));
console.log(`report: ${targets.filter((t) => t[2] === '**PASS**').length} pass, ${targets.filter((t) => t[2] === '**FAIL**').length} fail, ${targets.filter((t) => t[2] === 'NOT MEASURED').length} not measured; ${anomalies.length} anomalies → ${target}`);
