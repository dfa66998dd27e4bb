// Request lists of bench/auth.sh, one file per mode and workload, for bench/auth.lua:
//   AUTH_SECRET=… node bench/auth-tokens.mjs CUSTOMERS.tsv OUT_DIR [BASE_PATH]
// CUSTOMERS.tsv: "customer_id<TAB>order_id<TAB>orders" per line (one order of that customer and how
// many it has). One HS256 JWT per customer (sub = customer id, role = customer, expires in 1 h),
// signed with AUTH_SECRET (≥ 32 bytes) through jose, the library Sluice verifies with. Writes:
//   pk-A.targets    /api/v1/orders/<order_id>                        (no token: full access)
//   list-A.targets  /api/v1/orders?customer_id=<customer_id>&limit=25 (no token)
//   pk-B.targets    /api/v1/orders/<order_id>                        <TAB> token of the customer
//   list-B.targets  /api/v1/orders?limit=25                          <TAB> token of the customer
// Line i of every file belongs to the same customer, so both modes ask for the same rows.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';

const [customersFile, outDir, base = '/api/v1'] = process.argv.slice(2);
const secret = process.env.AUTH_SECRET ?? '';
if (!customersFile || !outDir) {
  console.error('usage: AUTH_SECRET=… auth-tokens.mjs CUSTOMERS.tsv OUT_DIR [BASE_PATH]');
  process.exit(2);
}
if (Buffer.byteLength(secret) < 32) {
  console.error('auth-tokens: AUTH_SECRET must have at least 32 bytes');
  process.exit(2);
}
const key = new Uint8Array(Buffer.from(secret, 'utf8'));
const customers = readFileSync(customersFile, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [customer, order, count] = l.split('\t');
  if (!/^\d+$/.test(customer) || !/^\d+$/.test(order)) throw new Error(`auth-tokens: bad line ${JSON.stringify(l)}`);
  return { customer, order, count: Number(count) };
});
if (!customers.length) throw new Error('auth-tokens: no customers');

const files = { 'pk-A': [], 'list-A': [], 'pk-B': [], 'list-B': [] };
const now = Math.floor(Date.now() / 1000);
for (const { customer, order } of customers) {
  const token = await new SignJWT({ role: 'customer' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(customer)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(key);
  files['pk-A'].push(`${base}/orders/${order}\t`);
  files['list-A'].push(`${base}/orders?customer_id=${customer}&limit=25\t`);
  files['pk-B'].push(`${base}/orders/${order}\t${token}`);
  files['list-B'].push(`${base}/orders?limit=25\t${token}`);
}
for (const [name, rows] of Object.entries(files)) writeFileSync(join(outDir, `${name}.targets`), rows.join('\n') + '\n');
console.log(`auth-tokens: ${customers.length} customers, tokens expire at ${new Date((now + 3600) * 1000).toISOString()}`);
