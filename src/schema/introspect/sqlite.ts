/**
 * SQLite introspection through the pragma table functions. Types follow SQLite's affinity rules
 * on the declared type, refined by common names (BOOLEAN, DATE, TIMESTAMP, JSON, UUID,
 * NUMERIC(p,s)). Views are read-only unless an INSTEAD OF trigger makes them writable.
 */
import type { Executor } from '../../db/database.ts';
import type { Column, ColumnType, RawForeignKey, RawTable } from '../model.ts';

const INT64: readonly [bigint, bigint] = [-9223372036854775808n, 9223372036854775807n];

/** Maps a declared SQLite type to the kinds Sluice reasons about. */
export function sqliteColumnType(declared: string): ColumnType {
  const t = declared.toUpperCase();
  const len = /\(\s*(\d+)\s*\)/.exec(t);
  const dbType = declared || 'ANY';
  if (/BOOL/.test(t)) return { kind: 'boolean', dbType };
  if (/INT/.test(t)) return { kind: 'bigint', dbType, range: INT64 };
  if (/CHAR|CLOB|TEXT/.test(t)) return { kind: 'string', dbType, maxLength: len ? Number(len[1]) : undefined };
  if (/UUID/.test(t)) return { kind: 'uuid', dbType };
  if (/JSON/.test(t)) return { kind: 'json', dbType };
  if (/BLOB/.test(t)) return { kind: 'bytes', dbType };
  if (/REAL|FLOA|DOUB/.test(t)) return { kind: 'number', dbType };
  if (/TIMESTAMP|DATETIME/.test(t)) return { kind: 'timestamp', dbType, withTimeZone: true };
  if (/^DATE$/.test(t)) return { kind: 'date', dbType };
  if (/^TIME$/.test(t)) return { kind: 'time', dbType };
  if (/NUM|DEC|MONEY/.test(t)) {
    const m = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(t);
    return { kind: 'decimal', dbType, precision: m ? Number(m[1]) : undefined, scale: m ? Number(m[2] ?? 0) : undefined };
  }
  return { kind: 'other', dbType };
}

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** @example const tables = await introspectSqlite(db) */
export async function introspectSqlite(db: Executor): Promise<RawTable[]> {
  const objects = await db.query(
    `select name, type, sql from sqlite_schema where type in ('table','view') and name not like 'sqlite\\_%' escape '\\' and name not like '\\_sluice\\_%' escape '\\' order by name`, []);
  const tables: RawTable[] = [];
  for (const [nameValue, type, sql] of objects) {
    const name = String(nameValue);
    if (type === 'table' && /^\s*create\s+virtual\s+table/i.test(String(sql ?? ''))) continue; // FTS and other modules
    const info = await db.query('select name, type, "notnull", dflt_value, pk, hidden from pragma_table_xinfo(?) order by cid', [name]);
    const pkCols = info.filter((c) => Number(c[4]) > 0).sort((a, b) => Number(a[4]) - Number(b[4])).map((c) => String(c[0]));
    const rowidAlias = pkCols.length === 1 && info.some((c) => c[0] === pkCols[0] && String(c[1]).toUpperCase() === 'INTEGER');
    const columns: Column[] = info.filter((c) => Number(c[5]) !== 1).map((c) => {
      const [colName, declared, notNull, dflt, , hidden] = c;
      const generated = Number(hidden) === 2 || Number(hidden) === 3;
      const isRowid = rowidAlias && colName === pkCols[0];
      return {
        name: String(colName),
        type: sqliteColumnType(String(declared ?? '')),
        nullable: Number(notNull) === 0 && !(pkCols.includes(String(colName)) && isRowid),
        hasDefault: dflt !== null || generated || isRowid,
        defaultSql: str(dflt) ?? undefined,
        readOnly: generated,
      };
    });
    const fkRows = type === 'table' ? await db.query('select id, seq, "table", "from", "to" from pragma_foreign_key_list(?) order by id, seq', [name]) : [];
    const fks = new Map<number, { refTable: string; columns: string[]; refColumns: (string | null)[] }>();
    for (const [id, , refTable, from, to] of fkRows) {
      const fk = fks.get(Number(id)) ?? { refTable: String(refTable), columns: [], refColumns: [] };
      fk.columns.push(String(from));
      fk.refColumns.push(str(to));
      fks.set(Number(id), fk);
    }
    const uniqueKeys: string[][] = pkCols.length ? [pkCols] : [];
    if (type === 'table') {
      const indexes = await db.query('select name, "unique", partial from pragma_index_list(?)', [name]);
      for (const [idx, unique, partial] of indexes) {
        if (Number(unique) !== 1 || Number(partial) === 1) continue;
        const cols = (await db.query('select name from pragma_index_info(?) order by seqno', [idx])).map((r) => r[0]);
        if (cols.every((c) => c !== null) && !uniqueKeys.some((k) => k.join('\0') === cols.join('\0'))) uniqueKeys.push(cols.map(String));
      }
    }
    const writableView = type === 'view' && (await db.query(
      `select count(*) from sqlite_schema where type = 'trigger' and tbl_name = ? and sql like '%instead of%'`, [name]))[0]?.[0];
    tables.push({
      schema: 'main', name, kind: type === 'view' ? 'view' : 'table', columns, primaryKey: pkCols, uniqueKeys,
      foreignKeys: [...fks.values()].map((fk) => ({ columns: fk.columns, refSchema: 'main', refTable: fk.refTable, refColumns: fk.refColumns as string[] })),
      insertable: type === 'table' || Number(writableView) > 0,
      updatable: type === 'table' || Number(writableView) > 0,
      deletable: type === 'table' || Number(writableView) > 0,
    });
  }
  // A foreign key without target columns references the target's primary key.
  const byName = new Map(tables.map((t) => [t.name, t]));
  return tables.map((t) => ({
    ...t,
    foreignKeys: t.foreignKeys.flatMap((fk): RawForeignKey[] => {
      const target = byName.get(fk.refTable);
      const refColumns = fk.refColumns.some((c) => c === null) ? target?.primaryKey : fk.refColumns;
      return target && refColumns && refColumns.length === fk.columns.length ? [{ ...fk, refColumns }] : [];
    }),
  }));
}
