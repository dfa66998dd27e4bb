// What the report scripts of bench/cache.sh and bench/ops.sh share: reading a results folder
// (meta.env, the wrk outputs of each case per round) and writing one marked section of a
// Markdown file (`<!-- NAME:start -->` … `<!-- NAME:end -->`; bench/report.mjs keeps such sections).
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { median, parseWrk, toMs } from './wrk-output.mjs';

/**
 * The results of `dir`: meta.env as an object and, per case, the parsed wrk runs and their medians.
 * @example const r = readResults(dir, ['hit-pk']); r.rps('hit-pk')
 */
export function readResults(dir, cases) {
  const meta = Object.fromEntries(readFileSync(join(dir, 'meta.env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const runs = Object.fromEntries(cases.map((c) => [c, readdirSync(dir).filter((f) => f.startsWith(`${c}-r`) && f.endsWith('.txt')).sort().map((f) => parseWrk(readFileSync(join(dir, f), 'utf8')))]));
  return {
    meta, runs,
    url: (c) => (existsSync(join(dir, `${c}.url`)) ? readFileSync(join(dir, `${c}.url`), 'utf8').trim() : '?'),
    rps: (c) => median(runs[c].map((r) => r.rps)),
    p99: (c) => median(runs[c].map((r) => toMs(r.p99))),
    errors: (c) => runs[c].reduce((a, r) => a + r.errors, 0),
  };
}

/**
 * Each round's ratio of the requests/s of the cases `a` to those of the cases `b` (all measured
 * back to back in that round), with their median and quartiles: steadier than a ratio of medians
 * on a machine whose speed drifts between rounds.
 * @example roundRatios(results, ['hit-pk'], ['baseline-hello']).median
 */
export function roundRatios(results, a, b) {
  const sum = (cases, i) => cases.reduce((t, c) => t + (results.runs[c][i]?.rps ?? NaN), 0);
  const per = results.runs[a[0]].map((_, i) => sum(a, i) / sum(b, i)).filter((x) => Number.isFinite(x));
  const sorted = [...per].sort((x, y) => x - y);
  const at = (q) => {
    if (!sorted.length) return null;
    const i = q * (sorted.length - 1), lo = Math.floor(i), hi = Math.ceil(i);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
  };
  return { per, median: at(0.5), q1: at(0.25), q3: at(0.75) };
}

/** "quartiles 0.91–0.97 over 20 rounds" of {@link roundRatios}. */
export const spread = (r) => (r.q1 === null ? 'no rounds' : `quartiles ${r.q1.toFixed(2)}–${r.q3.toFixed(2)} over ${r.per.length} rounds`);

export const fmt = (n) => (n === null ? '–' : Math.round(n).toLocaleString('en-US'));
export const verdict = (ok) => (ok === null ? 'not measured' : ok ? '**PASS**' : '**FAIL**');
export const table = (head, body) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** The per-case table: URL, req/s of every round, the medians. */
export function casesTable(results, cases) {
  const { runs, url, rps, p99 } = results;
  return table(['case', 'URL', 'req/s per round', 'median req/s', 'p99 (median)'], cases.map((c) => [c, `\`${url(c)}\``, runs[c].map((r) => fmt(r.rps)).join(' / '), fmt(rps(c)), `${p99(c)?.toFixed(2) ?? '–'} ms`]));
}

/**
 * Writes `section` to `dir/NAME-section.md` and between the NAME markers of `target` (appended
 * with its markers when `target` has none).
 */
export function writeSection(dir, target, name, section) {
  const START = `<!-- ${name}:start -->`, END = `<!-- ${name}:end -->`;
  writeFileSync(join(dir, `${name}-section.md`), `${section}\n`);
  const old = existsSync(target) ? readFileSync(target, 'utf8') : '';
  const i = old.indexOf(START), j = old.indexOf(END, i + START.length);
  if ((i >= 0) !== (j >= 0)) {
    console.error(`${name}-report: ${target} has only one of the markers; fix it by hand (the section is in ${join(dir, `${name}-section.md`)})`);
    process.exit(1);
  }
  const next = i >= 0 ? `${old.slice(0, i)}${START}\n${section}\n${END}${old.slice(j + END.length)}` : `${old.replace(/\s*$/, '')}${old.trim() ? '\n\n' : ''}${START}\n${section}\n${END}\n`;
  writeFileSync(target, next);
}
