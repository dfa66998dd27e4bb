// Reading wrk's output, shared by bench/report.mjs and bench/auth-report.mjs.

/** wrk --latency output → numbers; p50/p99 as wrk prints them (e.g. "2.41ms"), see toMs. */
export function parseWrk(out) {
  const num = (re) => { const m = out.match(re); return m ? m[1] : null; };
  const lat = (p) => num(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm'));
  const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = Number(num(/Non-2xx or 3xx responses: (\d+)/) ?? 0);
  return {
    rps: Number(num(/Requests\/sec:\s+([\d.]+)/) ?? 0),
    requests: Number(num(/(\d+) requests in/) ?? 0),
    p50: lat(50), p99: lat(99),
    errors: non2xx + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/** A wrk duration ("850.12us", "2.41ms", "1.20s") in milliseconds, or null. */
export function toMs(s) {
  const m = s && s.match(/^([\d.]+)(us|ms|s|m)$/);
  return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]] : null;
}

/** The median of the finite numbers of `xs`, or null. */
export function median(xs) {
  const a = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!a.length) return null;
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
}
