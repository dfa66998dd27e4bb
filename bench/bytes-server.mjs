// The floor of a cache hit's cost in Node, for bench/cache.sh: a node:http server that answers every
// request with the very response a Sluice cache hit sent (its headers and body, as `curl -D` saved
// them), doing nothing else — no routing, no lookup, no key, no metrics. No Node server can send
// that response for less; bench/cache-report.mjs bounds the hot-key mix with it.
//   PORT=3403 node bench/bytes-server.mjs <headers file> <body file>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [headersFile, bodyFile] = process.argv.slice(2);
if (!headersFile || !bodyFile) {
  console.error('usage: node bench/bytes-server.mjs <headers file> <body file>');
  process.exit(2);
}
const body = readFileSync(bodyFile);
// Node writes Date, Connection and Keep-Alive itself, as it does for Sluice.
const OWN = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);
const headers = [];
for (const line of readFileSync(headersFile, 'latin1').split(/\r?\n/).slice(1)) {
  const colon = line.indexOf(':');
  if (colon <= 0) continue;
  const name = line.slice(0, colon).trim().toLowerCase();
  if (!OWN.has(name)) headers.push(name, line.slice(colon + 1).trim());
}
headers.push('content-length', String(body.length));

createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
}).listen(Number(process.env.PORT ?? 3403), '127.0.0.1', () => console.log('bytes server up'));
