// Correctness check of bench/auth.sh before each measured run: sends every request of the mode's
// request lists once (bench/auth-tokens.mjs wrote them) and asserts what the benchmark relies on.
//   node bench/auth-check.mjs MODE BASE_URL TARGETS_DIR CUSTOMERS.tsv BODIES.json
// MODE A (full access, no token):  pk → 200 with that order of that customer; list
//   (?customer_id=c) → 200 with exactly that customer's min(25, orders) rows; the rows are written
//   to BODIES.json.
// MODE B (customer JWT + row policy): the same for every token, list without a filter; the list
//   rows must equal those of mode A (BODIES.json, when present). Plus, with the first customer's
//   token: another customer's order → 404, ?customer_id=<another customer> → no rows, and without
//   a token → 401 (the policy really applies; no anonymous fall-back).
// Prints one summary line; on the first failure prints the exact request and response and exits 1.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [mode, base, dir, customersFile, bodiesFile] = process.argv.slice(2);
if (!['A', 'B'].includes(mode) || !base || !dir || !customersFile || !bodiesFile) {
  console.error('usage: auth-check.mjs A|B BASE_URL TARGETS_DIR CUSTOMERS.tsv BODIES.json');
  process.exit(2);
}
const customers = readFileSync(customersFile, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [customer, order, count] = l.split('\t');
  return { customer: Number(customer), order: Number(order), count: Number(count) };
});
const targets = (name) => readFileSync(join(dir, `${name}-${mode}.targets`), 'utf8').split('\n').filter(Boolean).map((l) => {
  const [path, token = ''] = l.split('\t');
  return { path, token };
});
const pk = targets('pk'), list = targets('list');
if (pk.length !== customers.length || list.length !== customers.length) throw new Error('auth-check: request lists and customers differ in length');

let sent = 0;
async function get(path, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const response = await globalThis.fetch(base + path, { headers });
  const text = await response.text();
  sent++;
  let body = null;
  try { body = JSON.parse(text); } catch { /* reported below */ }
  return { status: response.status, text, body, request: `GET ${path}${token ? ` (Authorization: Bearer ${token.slice(0, 16)}…, customer token)` : ' (no token)'}` };
}
function fail(what, r) {
  console.error(`auth-check ${mode}: FAILED: ${what}`);
  console.error(`  request:  ${r.request}`);
  console.error(`  response: HTTP ${r.status} ${r.text.slice(0, 1500)}`);
  process.exit(1);
}
const rowsOk = (r, c) => Array.isArray(r.body?.data) && r.body.data.length === Math.min(25, c.count) && r.body.data.every((row) => Number(row.customer_id) === c.customer);

const previous = mode === 'B' && existsSync(bodiesFile) ? JSON.parse(readFileSync(bodiesFile, 'utf8')) : null;
const bodies = {};
let rows = 0;
for (let i = 0; i < customers.length; i++) {
  const c = customers[i];
  const a = await get(pk[i].path, pk[i].token);
  if (a.status !== 200) fail(`pk of customer ${c.customer}: expected 200`, a);
  if (Number(a.body?.data?.id) !== c.order || Number(a.body?.data?.customer_id) !== c.customer) fail(`pk: expected order ${c.order} of customer ${c.customer}`, a);
  const b = await get(list[i].path, list[i].token);
  if (b.status !== 200) fail(`list of customer ${c.customer}: expected 200`, b);
  if (!rowsOk(b, c)) fail(`list: expected exactly ${Math.min(25, c.count)} rows, all with customer_id ${c.customer}`, b);
  if (previous && JSON.stringify(previous[c.customer]) !== JSON.stringify(b.body.data)) fail(`list of customer ${c.customer}: rows differ from the full-access run's ?customer_id=${c.customer}`, b);
  bodies[c.customer] = b.body.data;
  rows += b.body.data.length;
}
let extra = '';
if (mode === 'B' && customers.length > 1) {
  const [c0, c1] = customers;
  const t0 = pk[0].token;
  const other = await get(pk[1].path, t0);
  if (other.status !== 404) fail(`customer ${c0.customer}'s token on customer ${c1.customer}'s order ${c1.order}: expected 404`, other);
  const filtered = await get(`${list[0].path}&customer_id=${c1.customer}`, t0);
  if (filtered.status !== 200 || !Array.isArray(filtered.body?.data) || filtered.body.data.length !== 0) fail(`customer ${c0.customer}'s token asking for customer ${c1.customer}'s orders: expected 200 with no rows`, filtered);
  const anon = await get(list[0].path, '');
  if (anon.status !== 401) fail('no token: expected 401', anon);
  extra = `; customer ${c0.customer}'s token: customer ${c1.customer}'s order → 404, ?customer_id=${c1.customer} → 0 rows; no token → 401`;
}
if (mode === 'A') writeFileSync(bodiesFile, JSON.stringify(bodies));
console.log(`auth-check ${mode}: ok: ${customers.length} customers, ${sent} requests, pk 200 with the customer's order, list ${rows} rows all of the asking customer${previous ? ', identical to full access' : ''}${extra}`);
