/**
 * PostgreSQL introspection: tables, views (updatable or not), partitioned and foreign tables of the
 * exposed schemas, with columns, keys and foreign keys, in three catalog queries. A view whose
 * output columns map one-to-one onto a single base table inherits that table's primary key and
 * foreign keys (read from the view's rewrite rule, as PostgREST does).
 */
import type { Executor } from '../../db/database.ts';
import type { Column, ColumnType, RawForeignKey, RawTable } from '../model.ts';

const RELATIONS_SQL = `
select c.oid::int8::text, n.nspname, c.relname, c.relkind::text,
       pg_relation_is_updatable(c.oid::regclass, true),
       obj_description(c.oid, 'pg_class'),
       case when c.relkind in ('v','m') then (select r.ev_action::text from pg_rewrite r where r.ev_class = c.oid and r.rulename = '_RETURN') end
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r','p','v','m','f') and not c.relispartition
order by n.nspname, c.relname`;

const COLUMNS_SQL = `
select a.attrelid::int8::text, a.attname, format_type(a.atttypid, a.atttypmod),
       bt.typname, bt.typtype::text, bt.typcategory::text, a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
       col_description(a.attrelid, a.attnum),
       (select array_to_json(array_agg(e.enumlabel order by e.enumsortorder)) from pg_enum e where e.enumtypid = bt.oid)::text,
       et.typname, et.typcategory::text, a.attnum
from pg_attribute a
join pg_type t on t.oid = a.atttypid
join pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
left join pg_type et on et.oid = bt.typelem and bt.typcategory = 'A'
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum`;

const CONSTRAINTS_SQL = `
select k.conrelid::int8::text, k.contype::text,
       (select array_to_json(array_agg(a.attname order by u.i)) from unnest(k.conkey) with ordinality u(n, i)
          join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n)::text,
       fn.nspname, fc.relname,
       (select array_to_json(array_agg(a.attname order by u.i)) from unnest(k.confkey) with ordinality u(n, i)
          join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n)::text
from pg_constraint k
left join pg_class fc on fc.oid = k.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where k.conrelid = any($1::oid[]) and k.contype in ('p','u','f')
union all
select i.indrelid::int8::text, 'u',
       (select array_to_json(array_agg(a.attname order by u.i)) from unnest(i.indkey::int2[]) with ordinality u(n, i)
          join pg_attribute a on a.attrelid = i.indrelid and a.attnum = u.n)::text, null, null, null
from pg_index i
where i.indrelid = any($1::oid[]) and i.indisunique and not i.indisprimary and i.indpred is null and i.indexprs is null
  and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
order by 1, 2, 3`;

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};

/** Maps a PostgreSQL type to the kinds Sluice reasons about. */
export function pgColumnType(formatted: string, typname: string, typtype: string, category: string, enumJson: string | null, elemName: string | null, elemCategory: string | null): ColumnType {
  if (category === 'A' && elemName) {
    return { kind: 'array', dbType: formatted, element: pgColumnType(formatted.replace(/\[\]$/, ''), elemName, 'b', elemCategory ?? 'U', null, null, null) };
  }
  if (typtype === 'e') return { kind: 'string', dbType: formatted, enumValues: JSON.parse(enumJson ?? '[]') as string[] };
  const len = /\((\d+)\)$/.exec(formatted);
  switch (typname) {
    case 'int2': case 'int4': return { kind: 'integer', dbType: formatted, range: INT_RANGES[typname] };
    case 'int8': return { kind: 'bigint', dbType: formatted, range: INT_RANGES.int8 };
    case 'float4': case 'float8': return { kind: 'number', dbType: formatted };
    case 'numeric': {
      const m = /\((\d+)(?:,(\d+))?\)$/.exec(formatted);
      return { kind: 'decimal', dbType: formatted, precision: m ? Number(m[1]) : undefined, scale: m ? Number(m[2] ?? 0) : undefined };
    }
    case 'money': return { kind: 'decimal', dbType: formatted, scale: 2 };
    case 'bool': return { kind: 'boolean', dbType: formatted };
    case 'text': case 'name': case 'citext': return { kind: 'string', dbType: formatted };
    case 'varchar': case 'bpchar': return { kind: 'string', dbType: formatted, maxLength: len ? Number(len[1]) : undefined };
    case 'date': return { kind: 'date', dbType: formatted };
    case 'timestamp': return { kind: 'timestamp', dbType: formatted, withTimeZone: false };
    case 'timestamptz': return { kind: 'timestamp', dbType: formatted, withTimeZone: true };
    case 'time': case 'timetz': return { kind: 'time', dbType: formatted };
    case 'uuid': return { kind: 'uuid', dbType: formatted };
    case 'json': case 'jsonb': return { kind: 'json', dbType: formatted };
    case 'bytea': return { kind: 'bytes', dbType: formatted };
    case 'tsvector': return { kind: 'tsvector', dbType: formatted };
    default: return { kind: 'other', dbType: formatted };
  }
}

const UPDATABLE = { insert: 8, update: 4, delete: 16 } as const;

/** @example const tables = await introspectPostgres(db, ['public']) */
export async function introspectPostgres(db: Executor, schemas: readonly string[]): Promise<RawTable[]> {
  // Sluice's own schema (API key hashes, the audit log) is never served, even when listed.
  const rels = await db.query(RELATIONS_SQL, [schemas.filter((s) => s !== 'sluice')]);
  const oids = rels.map((r) => r[0] as string);
  const [cols, cons] = await Promise.all([db.query(COLUMNS_SQL, [oids]), db.query(CONSTRAINTS_SQL, [oids])]);

  const columns = new Map<string, Column[]>();
  const attnums = new Map<string, Map<number, string>>();
  for (const r of cols) {
    const [oid, name, formatted, typname, typtype, category, notNull, def, identity, generated, comment, enumJson, elemName, elemCat, attnum] = r as string[];
    attnums.set(oid!, (attnums.get(oid!) ?? new Map<number, string>()).set(Number(attnum), name!));
    const list = columns.get(oid!) ?? [];
    const isGenerated = generated !== '' && generated !== undefined && generated !== null;
    list.push({
      name: name!,
      type: pgColumnType(formatted!, typname!, typtype!, category!, enumJson ?? null, elemName ?? null, elemCat ?? null),
      nullable: !isTrue(notNull),
      hasDefault: def !== null || (identity ?? '') !== '' || isGenerated,
      defaultSql: def ?? undefined,
      readOnly: isGenerated || identity === 'a',
      comment: comment ?? undefined,
    });
    columns.set(oid!, list);
  }
  const keys = new Map<string, { pk: string[]; uniques: string[][]; fks: RawForeignKey[] }>();
  for (const r of cons) {
    const [oid, type, colsJson, refSchema, refTable, refColsJson] = r as string[];
    const entry = keys.get(oid!) ?? { pk: [], uniques: [], fks: [] };
    const list = JSON.parse(colsJson!) as string[];
    if (type === 'p') entry.pk = list;
    if (type === 'p' || type === 'u') entry.uniques.push(list);
    if (type === 'f') entry.fks.push({ columns: list, refSchema: refSchema!, refTable: refTable!, refColumns: JSON.parse(refColsJson!) as string[] });
    keys.set(oid!, entry);
  }

  const tables = rels.map((r) => {
    const [oid, schema, name, relkind, mask, comment] = r as [string, string, string, string, number | string, string | null];
    const k = keys.get(oid) ?? { pk: [], uniques: [], fks: [] };
    const bits = Number(mask);
    return {
      oid, schema, name, kind: relkind === 'v' || relkind === 'm' ? 'view' as const : 'table' as const,
      columns: columns.get(oid) ?? [], primaryKey: k.pk, uniqueKeys: dedupe(k.uniques), foreignKeys: k.fks,
      insertable: (bits & UPDATABLE.insert) !== 0, updatable: (bits & UPDATABLE.update) !== 0, deletable: (bits & UPDATABLE.delete) !== 0,
      comment: comment ?? undefined,
      rule: r[6] as string | null,
    };
  });
  const byOid = new Map(tables.map((t) => [t.oid, t]));
  return tables.map(({ oid: _oid, rule, ...t }): RawTable => (t.kind === 'view' && rule ? inheritKeys(t, rule, byOid, attnums) : t));
}

function isTrue(v: unknown): boolean {
  return v === true || v === 't' || v === 'true';
}

function dedupe(keys: string[][]): string[][] {
  const seen = new Set<string>();
  return keys.filter((k) => !seen.has(k.join('\0')) && seen.add(k.join('\0')));
}

/**
 * A view inherits the primary key and foreign keys of its base table when every column they use
 * appears in the view unchanged. Each output column's origin is read from the `resorigtbl` and
 * `resorigcol` of its target entry in the view's rewrite rule.
 */
function inheritKeys<T extends RawTable>(view: T, rule: string, tables: Map<string, RawTable & { oid: string }>, attnums: Map<string, Map<number, string>>): T {
  const origins = new Map<string, { table: string; col: number } | null>();
  for (const m of rule.matchAll(/:resname (\S+) :ressortgroupref \d+ :resorigtbl (\d+) :resorigcol (\d+)/g)) {
    const [name, table, col] = [m[1]!, m[2]!, Number(m[3])];
    const prev = origins.get(name);
    if (table === '0') continue;
    if (prev === undefined) origins.set(name, { table, col });
    else if (prev && (prev.table !== table || prev.col !== col)) origins.set(name, null);
  }
  const baseOids = new Set([...origins.values()].filter((o) => o !== null).map((o) => o.table));
  if (baseOids.size !== 1) return view;
  const baseOid = [...baseOids][0]!;
  const base = tables.get(baseOid);
  if (!base) return view;
  // base column name → view column name, for columns taken unchanged from the base table
  const mapping = new Map<string, string>();
  for (const [name, o] of origins) {
    const baseCol = o ? attnums.get(baseOid)?.get(o.col) : undefined;
    if (baseCol && view.columns.some((c) => c.name === name)) mapping.set(baseCol, name);
  }
  const mapCols = (cols: readonly string[]) => (cols.every((c) => mapping.has(c)) ? cols.map((c) => mapping.get(c)!) : undefined);
  const pk = mapCols(base.primaryKey) ?? [];
  const uniqueKeys = base.uniqueKeys.map(mapCols).filter((k): k is string[] => k !== undefined);
  const foreignKeys = base.foreignKeys.flatMap((fk) => {
    const cols = mapCols(fk.columns);
    return cols ? [{ ...fk, columns: cols }] : [];
  });
  return { ...view, primaryKey: pk, uniqueKeys, foreignKeys };
}
