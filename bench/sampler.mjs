// Samples /proc every --interval ms and appends one JSON line per tick to --out: resident memory and
// CPU time of the Sluice process (PID read from --pidfile on every tick, so a restarted Sluice is
// followed), CPU time of the other servers (grouped by command line), of PostgreSQL and of wrk, the
// machine's busy/idle jiffies, the current phase label (contents of --phase-file) and the URL that a
// running wrk is loading. bench/report.mjs turns consecutive ticks into CPU shares per workload.
// Runs until SIGTERM/SIGINT. Linux only (reads /proc).
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { setInterval, clearInterval } from 'node:timers';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const out = args.out;
const pidfile = args.pidfile;
const phaseFile = args['phase-file'];
const processes = args.processes; // optional: one JSON line per process seen, to explain the classes
const dbName = args.db ?? 'sluice_shop'; // PostgreSQL backends of this database count as "postgres", others as "postgres-other"
const interval = Number(args.interval ?? 500);
if (!out || !pidfile) {
  console.error('usage: sampler.mjs --out FILE --pidfile FILE [--phase-file FILE] [--processes FILE] [--db NAME] [--interval MS]');
  process.exit(2);
}

const read = (path) => { try { return readFileSync(path, 'utf8'); } catch { return null; } };
/** utime+stime in clock ticks from a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat text. */
const cpuTicks = (stat) => {
  if (!stat) return null;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
  return Number(f[11]) + Number(f[12]); // #14 utime, #15 stime
};
const kb = (status, key) => {
  const m = status && status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : null;
};
const cmdline = (pid) => (read(`/proc/${pid}/cmdline`) ?? '').split('\0').join(' ').trim();
const classes = new Map(); // "pid:starttime" → class, so a reused PID is not mistaken for another process
/** Which server a node process is, from its command line. */
const classify = (cmd) => {
  if (/baseline\.mjs/.test(cmd)) return 'baseline';
  if (/platformatic|\bplt(-db)?\b/.test(cmd)) return 'platformatic';
  if (/directus/.test(cmd)) return 'directus';
  if (cmd.split(' ').some((a) => /(^|\/)dist\/cli\/main\.js$/.test(a) && !a.includes('node_modules'))) return 'sluice';
  return 'node-other';
};

function tick() {
  const rec = { t: Date.now(), phase: phaseFile ? (read(phaseFile) ?? '').trim() : '', wrk: null, sluice: null, cpu: {} };
  const pid = Number((read(pidfile) ?? '').trim()) || null;
  if (pid) {
    const status = read(`/proc/${pid}/status`);
    if (status) {
      rec.sluice = {
        pid, rss: kb(status, 'VmRSS'), hwm: kb(status, 'VmHWM'),
        cpu: cpuTicks(read(`/proc/${pid}/stat`)), main: cpuTicks(read(`/proc/${pid}/task/${pid}/stat`)),
        threads: Number((status.match(/^Threads:\s+(\d+)/m) ?? [])[1] ?? 0),
      };
    }
  }
  // Per-process CPU ticks, keyed "class:pid:starttime" so the reporter can difference them tick to
  // tick; resident memory summed per class of node process.
  rec.rss = {};
  for (const d of readdirSync('/proc')) {
    if (d.charCodeAt(0) < 48 || d.charCodeAt(0) > 57) continue;
    const p = Number(d);
    const stat = read(`/proc/${d}/stat`);
    if (!stat) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const known = ['postgres', 'wrk', 'curl', 'node', 'MainThread'].includes(comm) || comm.startsWith('node');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // #22 starttime
    const id = `${p}:${start}`;
    let cls = classes.get(`${id}:${comm}`); // comm too: a shell that execs node changes class
    if (!cls) {
      if (comm === 'postgres') {
        // "postgres: 15/main: user db host(port) state"; background processes name no database
        const m = cmdline(p).match(/^postgres: [^:]+: \S+ (\S+) /);
        cls = m && m[1] === dbName ? 'postgres' : 'postgres-other';
      } else if (!known) cls = `other(${comm.replace(/[:\s]/g, '_')})`; // everything else on the machine
      else if (comm === 'wrk' || comm === 'curl') cls = comm;
      else cls = p === pid ? 'sluice' : p === process.pid ? 'sampler' : classify(cmdline(p));
      if (cls !== 'postgres-other' || /^postgres: [^:]+: \S+ \S+ /.test(cmdline(p))) {
        classes.set(`${id}:${comm}`, cls);
        if (processes) appendFileSync(processes, JSON.stringify({ t: Date.now(), id, cls, comm, cmd: cmdline(p).slice(0, 300) }) + '\n');
      }
    }
    if (p === pid) cls = 'sluice';
    if (cls === 'wrk') rec.wrk = cmdline(p).split(' ').find((a) => a.startsWith('http')) ?? null;
    const ticks = cpuTicks(stat);
    if (!known) {
      if (ticks > 0) rec.cpu[`${cls}:${id}`] = ticks;
      continue;
    }
    rec.cpu[`${cls}:${id}`] = ticks;
    if (cls !== 'postgres' && cls !== 'postgres-other' && cls !== 'wrk' && cls !== 'curl') {
      rec.rss[cls] = (rec.rss[cls] ?? 0) + (kb(read(`/proc/${d}/status`), 'VmRSS') ?? 0);
    }
  }
  const cpuLine = (read('/proc/stat') ?? '').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  rec.machine = { idle: cpuLine[3] + cpuLine[4], busy: cpuLine[0] + cpuLine[1] + cpuLine[2] + cpuLine[5] + cpuLine[6] + cpuLine[7] };
  appendFileSync(out, JSON.stringify(rec) + '\n');
}

const timer = setInterval(tick, interval);
tick();
const stop = () => { clearInterval(timer); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
