// CPU use per phase from the ticks of bench/sampler.mjs (samples.ndjson), for bench/auth.sh and
// bench/auth-report.mjs: consecutive ticks that carry the same phase label form that phase's
// intervals (as in bench/report.mjs). "Rest of machine" is everything but Sluice, PostgreSQL's
// backends of the bench database, wrk and the sampler: other tests, other databases, the kernel.
//   node bench/auth-usage.mjs RESULTS_DIR MAX_REST PHASE…
// prints "PHASE REST_SHARE TEXT" for each PHASE whose rest of machine exceeded MAX_REST (a share of
// one core, e.g. 0.25) or that has no samples; prints nothing when every phase was undisturbed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OWN = new Set(['sluice', 'postgres', 'wrk', 'sampler']);
export const pct = (x) => (x === null || x === undefined ? '–' : `${Math.round(100 * x)}%`);

/** Meta values (meta.env) and samples of a results folder. */
export function readRun(dir) {
  const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
  const meta = {};
  for (const l of read('meta.env').split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) meta[l.slice(0, i)] = l.slice(i + 1);
  }
  const samples = read('samples.ndjson').split('\n').flatMap((l) => { try { return l.trim() ? [JSON.parse(l)] : []; } catch { return []; } });
  return { meta, samples };
}

/** phase → { seconds, cls: { class: cpu seconds }, busy, all (machine jiffies), rssMax } */
export function usageByPhase(samples, clk) {
  const usage = new Map();
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i];
    if (!b.phase || a.phase !== b.phase) continue;
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    const u = usage.get(b.phase) ?? { seconds: 0, cls: {}, busy: 0, all: 0, rssMax: 0 };
    u.seconds += dt;
    for (const [key, t] of Object.entries(b.cpu ?? {})) {
      if (!(key in (a.cpu ?? {}))) continue;
      const cls = key.slice(0, key.indexOf(':'));
      u.cls[cls] = (u.cls[cls] ?? 0) + (t - a.cpu[key]) / clk;
    }
    if (a.machine && b.machine) {
      u.busy += b.machine.busy - a.machine.busy;
      u.all += b.machine.busy - a.machine.busy + b.machine.idle - a.machine.idle;
    }
    if (b.sluice) u.rssMax = Math.max(u.rssMax, b.sluice.rss ?? 0);
    usage.set(b.phase, u);
  }
  return usage;
}

/** Summed usage of several phases (null when none has samples). */
export function merged(usage, phases) {
  const m = { seconds: 0, cls: {}, busy: 0, all: 0, rssMax: 0 };
  for (const p of phases) {
    const u = usage.get(p);
    if (!u) continue;
    m.seconds += u.seconds; m.busy += u.busy; m.all += u.all; m.rssMax = Math.max(m.rssMax, u.rssMax);
    for (const [c, v] of Object.entries(u.cls)) m.cls[c] = (m.cls[c] ?? 0) + v;
  }
  return m.seconds ? m : null;
}

export const share = (u, cls) => (u && u.seconds ? (u.cls[cls] ?? 0) / u.seconds : null);

/** CPU of everything but the benchmark's own processes, as a share of one core, with its top two. */
export function rest(u, cores) {
  if (!u || !u.all) return { share: null, text: '–' };
  const machine = (u.busy / u.all) * (cores || 1) * u.seconds;
  const attributed = [...OWN].reduce((a, c) => a + (u.cls[c] ?? 0), 0);
  const restSeconds = Math.max(0, machine - attributed);
  const top = Object.entries(u.cls).filter(([c, v]) => !OWN.has(c) && v / u.seconds >= 0.05).sort((x, y) => y[1] - x[1]).slice(0, 2).map(([c, v]) => `${c} ${pct(v / u.seconds)}`);
  return { share: restSeconds / u.seconds, text: `${pct(restSeconds / u.seconds)}${top.length ? ` (${top.join(', ')})` : ''}` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, max, ...phases] = process.argv.slice(2);
  if (!dir || !Number.isFinite(Number(max))) {
    console.error('usage: auth-usage.mjs RESULTS_DIR MAX_REST PHASE…');
    process.exit(2);
  }
  const { meta, samples } = readRun(dir);
  const usage = usageByPhase(samples, Number(meta.clk_tck || 100));
  for (const p of phases) {
    const r = rest(usage.get(p), Number(meta.cores || 0));
    if (r.share === null) console.log(`${p} ? no samples`);
    else if (r.share > Number(max)) console.log(`${p} ${r.share.toFixed(2)} ${r.text}`);
  }
}
