/**
 * `sluice keys create|list|revoke|rotate`: API keys managed from the shell, on the database the
 * common flags name (the demo file when none). The key itself is printed once, by create and
 * rotate, and never again: only its hash is stored.
 */
import type { Command } from 'commander';
import { ApiKeyStore, type ApiKeyRecord } from '../auth/api-keys.ts';
import { ensureSystemTables } from '../auth/system-tables.ts';
import { ConfigError } from '../config/load.ts';
import { parseDuration } from '../config/units.ts';
import { openDatabase } from '../db/open.ts';
import { configFromFlags, type CommonFlags } from './options.ts';

interface CreateFlags extends CommonFlags {
  role?: string;
  name?: string;
  expires?: string;
  tier?: string;
  subject?: string;
  json?: boolean;
}

/** Opens the configured database's key store for one command, and closes both afterwards. */
async function withStore<T>(flags: CommonFlags, work: (store: ApiKeyStore) => Promise<T>): Promise<T> {
  const { config } = await configFromFlags(flags);
  if (!config.auth.apiKeys.enabled) throw new ConfigError('API keys are disabled (auth.apiKeys.enabled is false): enable them to manage keys');
  const db = openDatabase(config.database);
  const store = new ApiKeyStore(db, { cacheTtl: 0, touchInterval: 0 });
  try {
    await ensureSystemTables(db, { apiKeys: true, audit: config.auth.audit.enabled });
    return await work(store);
  } finally {
    await store.close();
    await db.close();
  }
}

/**
 * `30d`, `12h`, `90m` (from now) or an ISO 8601 date or date-time.
 * @example parseExpiry('30d', Date.now()) // 30 days from now
 */
export function parseExpiry(value: string, now: number): Date {
  const ms = /^\d[\d.]*\s*[a-z]+$/i.test(value) ? parseDuration(value) : undefined;
  const date = ms !== undefined ? new Date(now + ms) : /^\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new Error(`invalid --expires '${value}': expected a duration such as 30d or 12h, or an ISO date such as 2027-01-31`);
  if (date.getTime() <= now) throw new Error(`invalid --expires '${value}': ${date.toISOString()} is not in the future`);
  return date;
}

function printKey(key: string, record: ApiKeyRecord, verb: string): void {
  process.stdout.write([
    `${verb} API key ${record.id} (name '${record.name}', role ${record.role}, prefix ${record.prefix}${record.expiresAt ? `, expires ${record.expiresAt}` : ''}):`,
    '',
    `  ${key}`,
    '',
    'This key will not be shown again: store it now. Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.',
    '',
  ].join('\n'));
}

function status(r: ApiKeyRecord, now: number): string {
  return r.revokedAt ? 'revoked' : r.expiresAt && Date.parse(r.expiresAt) <= now ? 'expired' : 'active';
}

/** Columns of `keys list`, padded to their widest cell. */
function table(records: readonly ApiKeyRecord[], now: number): string {
  const when = (t: string | null) => (t ? t.slice(0, 16).replace('T', ' ') : '-');
  const rows = [
    ['ID', 'NAME', 'ROLE', 'PREFIX', 'TIER', 'SUBJECT', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS'],
    ...records.map((r) => [r.id, r.name, r.role, r.prefix, r.tier ?? '-', r.subject ?? '-', when(r.createdAt), when(r.expiresAt), when(r.lastUsedAt), status(r, now)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

async function createCommand(flags: CreateFlags): Promise<void> {
  // Checked here rather than as a required option, so the error is one line without the usage.
  if (!flags.role?.trim()) throw new Error('keys create needs --role <role> (for example: sluice keys create --role admin)');
  const role = flags.role.trim();
  const expiresAt = flags.expires === undefined ? null : parseExpiry(flags.expires, Date.now());
  const { key, record } = await withStore(flags, (store) =>
    store.create({ name: flags.name ?? `${role} key`, role, expiresAt, tier: flags.tier ?? null, subject: flags.subject ?? null }));
  if (flags.json) process.stdout.write(`${JSON.stringify({ key, ...record }, null, 2)}\n`);
  else printKey(key, record, 'Created');
}

async function listCommand(flags: CommonFlags & { json?: boolean }): Promise<void> {
  const records = await withStore(flags, (store) => store.list());
  const now = Date.now();
  if (flags.json) process.stdout.write(`${JSON.stringify(records.map((r) => ({ ...r, status: status(r, now) })), null, 2)}\n`);
  else if (records.length === 0) process.stdout.write('No API keys yet. Create one with: sluice keys create --role <role>\n');
  else process.stdout.write(table(records, now));
}

async function revokeCommand(idOrPrefix: string, flags: CommonFlags): Promise<void> {
  const record = await withStore(flags, (store) => store.revoke(idOrPrefix));
  if (!record) throw new Error(`no API key with id or prefix '${idOrPrefix}' (see: sluice keys list)`);
  process.stdout.write(`Revoked API key ${record.id} (name '${record.name}', prefix ${record.prefix}) at ${record.revokedAt}. Every instance refuses it within auth.apiKeys.cacheTtl.\n`);
}

async function rotateCommand(id: string, flags: CommonFlags & { grace?: string; json?: boolean }): Promise<void> {
  const grace = flags.grace === undefined ? 0 : parseDuration(flags.grace);
  if (grace === undefined) throw new Error(`invalid --grace '${flags.grace}': expected a duration such as 10m, 1h or 1d`);
  const rotated = await withStore(flags, (store) => store.rotate(id, { grace }));
  if (!rotated) throw new Error(`no API key with id or prefix '${id}' (see: sluice keys list)`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ key: rotated.key, ...rotated.record }, null, 2)}\n`);
    return;
  }
  printKey(rotated.key, rotated.record, 'Rotated: new');
  process.stdout.write(grace > 0 ? `The old key ${id} keeps working for ${flags.grace}, then expires.\n` : `The old key ${id} is revoked.\n`);
}

/**
 * Registers `keys` and its subcommands on `keys`, each with the common flags.
 * @example registerKeysCommand(program.command('keys'), common)
 */
export function registerKeysCommand(keys: Command, common: (cmd: Command) => Command): void {
  keys.description('create, list, revoke and rotate API keys');
  const sub = (name: string, description: string) => common(keys.command(name).description(description)).showHelpAfterError(false);
  sub('create', 'create an API key and print it once')
    .option('--role <role>', 'the role the key acts as (required)')
    .option('--name <name>', "a label for people (default: '<role> key')")
    .option('--expires <when>', 'expiry: a duration from now (30d, 12h) or an ISO date (2027-01-31)')
    .option('--tier <tier>', 'rate-limit tier')
    .option('--subject <sub>', 'the $auth.sub the key acts as in row policies')
    .option('--json', 'print the key and its record as JSON')
    .action(createCommand);
  sub('list', 'list API keys (never their secrets)')
    .option('--json', 'print JSON instead of a table')
    .action(listCommand);
  sub('revoke', 'revoke an API key at once')
    .argument('<id|prefix>', 'the key id (key_…) or prefix (sk_…)')
    .action(revokeCommand);
  sub('rotate', 'replace an API key by a new one with the same name, role, tier and subject')
    .argument('<id|prefix>', 'the key id (key_…) or prefix (sk_…)')
    .option('--grace <duration>', 'how long the old key keeps working (default: revoked at once)')
    .option('--json', 'print the new key and its record as JSON')
    .action(rotateCommand);
}
