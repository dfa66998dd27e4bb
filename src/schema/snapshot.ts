/**
 * Turns what an introspector reports into the immutable {@link Snapshot}: names resources, derives
 * relations and freezes everything, so that a reload can swap snapshots atomically.
 */
import type { DialectName, RawTable, Resource, Snapshot } from './model.ts';
import { deriveRelations } from './relations.ts';

/** Resource names: bare table names; when two exposed schemas share one, the later gets `schema.table`. */
function nameResources(tables: readonly RawTable[], schemas: readonly string[]): Map<RawTable, string> {
  const order = (t: RawTable) => (schemas.indexOf(t.schema) + 1 || schemas.length + 1);
  const sorted = [...tables].sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
  const taken = new Set<string>();
  const names = new Map<RawTable, string>();
  for (const t of sorted) {
    const name = taken.has(t.name) ? `${t.schema}.${t.name}` : t.name;
    taken.add(name);
    names.set(t, name);
  }
  return names;
}

/** @example const snapshot = buildSnapshot('sqlite', await introspectSqlite(db), ['main']) */
export function buildSnapshot(dialect: DialectName, tables: readonly RawTable[], schemas: readonly string[]): Snapshot {
  const names = nameResources(tables, schemas);
  const relations = deriveRelations(tables.map((t) => ({
    name: names.get(t)!, key: `${t.schema}.${t.name}`, schema: t.schema, table: t.name, columns: t.columns.map((c) => c.name),
    primaryKey: t.primaryKey, uniqueKeys: t.uniqueKeys, foreignKeys: t.foreignKeys,
  })));
  const resources = new Map<string, Resource>();
  for (const t of [...tables].sort((a, b) => names.get(a)!.localeCompare(names.get(b)!))) {
    const name = names.get(t)!;
    const resource: Resource = {
      name, schema: t.schema, table: t.name, kind: t.kind,
      columns: t.columns, columnsByName: new Map(t.columns.map((c) => [c.name, c])),
      primaryKey: t.primaryKey, uniqueKeys: t.uniqueKeys,
      relations: relations.get(name) ?? new Map(),
      insertable: t.insertable, updatable: t.updatable, deletable: t.deletable,
      comment: t.comment,
    };
    resources.set(name, deepFreeze(resource));
  }
  return Object.freeze({ dialect, resources, loadedAt: new Date() });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    if (value instanceof Map) for (const v of value.values()) deepFreeze(v);
    else for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
