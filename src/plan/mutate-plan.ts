/**
 * Write plans: validated rows and filters resolved against the schema. Creating many rows is one
 * INSERT; upserts name a unique key; PUT is an upsert on the primary key that resets the columns
 * the body leaves out; bulk PATCH/DELETE carry the filter of a read.
 */
import { badParam, SluiceError } from '../errors/registry.ts';
import type { Column, Resource } from '../schema/model.ts';
import type { PlanFilter } from './nodes.ts';

export interface InsertPlan {
  readonly resource: Resource;
  /** Columns named by at least one row, in table order. */
  readonly columns: readonly Column[];
  readonly rows: ReadonlyArray<ReadonlyMap<string, unknown>>;
  readonly returning: readonly Column[];
  readonly onConflict: {
    readonly columns: readonly string[];
    readonly update: readonly Column[];
    /** Only existing rows matching this are updated (a role's update filter); others are left alone. */
    readonly where?: PlanFilter | null;
  } | null;
  /** A PUT: the statement also tells whether the row was created. */
  readonly replace: boolean;
}

export interface UpdatePlan {
  readonly resource: Resource;
  readonly set: ReadonlyMap<string, unknown>;
  readonly filter: PlanFilter;
  readonly returning: readonly Column[];
}

export interface DeletePlan {
  readonly resource: Resource;
  readonly filter: PlanFilter;
  readonly returning: readonly Column[];
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** The primary-key filter of a single-row write or read. */
export function keyFilter(resource: Resource, key: readonly unknown[]): PlanFilter {
  const items: PlanFilter[] = resource.primaryKey.map((name, i) => ({ kind: 'cond', column: resource.columnsByName.get(name)!, op: 'eq', negate: false, value: key[i] }));
  return items.length === 1 ? items[0]! : { kind: 'and', negate: false, items };
}

function toMaps(rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Map<string, unknown>[] {
  return rows.map((r) => new Map(Object.entries(r)));
}

/** @example planInsert({ resource, rows: [{ status: 'paid' }], returning: resource.columns }) */
export function planInsert(input: {
  resource: Resource; rows: ReadonlyArray<Readonly<Record<string, unknown>>>; returning: readonly Column[]; onConflict?: readonly string[] | null;
  /** An upsert updates only existing rows matching this (the caller's update filter). */
  where?: PlanFilter | null;
}): InsertPlan {
  const { resource, returning } = input;
  const rows = toMaps(input.rows);
  const columns = resource.columns.filter((c) => rows.some((r) => r.has(c.name)));
  let onConflict: InsertPlan['onConflict'] = null;
  if (input.onConflict) {
    const target = input.onConflict;
    for (const name of target) if (!resource.columnsByName.has(name)) throw new SluiceError('SLUICE_UNKNOWN_COLUMN', `onConflict: ${resource.name} has no column '${name}'`, [{ field: 'onConflict', message: `unknown column '${name}'` }]);
    if (!resource.uniqueKeys.some((k) => sameSet(k, target))) {
      const keys = resource.uniqueKeys.map((k) => `(${k.join(',')})`).join(', ') || 'none';
      throw badParam('onConflict', `(${target.join(',')}) is not a unique key of ${resource.name}; unique keys: ${keys}`);
    }
    if (rows.some((r) => target.some((c) => !r.has(c)))) throw new SluiceError('SLUICE_INVALID_BODY', `every row of an upsert must carry ${target.join(', ')}`, target.map((c) => ({ field: c, message: 'is required for onConflict' })));
    // A row leaving out a column another row names would overwrite that column with its default.
    const differs = rows.findIndex((r) => r.size !== columns.length);
    if (differs >= 0) {
      throw new SluiceError('SLUICE_INVALID_BODY', `every row of an upsert must name the same columns; row ${differs} leaves out ${columns.filter((c) => !rows[differs]!.has(c.name)).map((c) => c.name).join(', ')}`, [{ field: `[${differs}]`, message: 'names other columns than the other rows' }]);
    }
    // Two rows with the same key would make one statement update its own row twice.
    const seen = new Map<string, number>();
    rows.forEach((r, i) => {
      const key = JSON.stringify(target.map((c) => r.get(c)));
      const first = seen.get(key);
      if (first !== undefined) {
        throw new SluiceError('SLUICE_INVALID_BODY', `rows ${first} and ${i} of the upsert have the same ${target.join(', ')}`, [{ field: `[${i}].${target[0]}`, message: `repeats row ${first}'s key` }]);
      }
      seen.set(key, i);
    });
    onConflict = { columns: target, update: columns.filter((c) => !target.includes(c.name)), where: input.where ?? null };
  }
  return { resource, columns, rows, returning, onConflict, replace: false };
}

/** PUT: create the row with this key, or replace every writable column of it. */
export function planReplace(input: { resource: Resource; key: readonly unknown[]; row: Readonly<Record<string, unknown>>; returning: readonly Column[] }): InsertPlan {
  const { resource, key, returning } = input;
  const row = new Map(Object.entries(input.row));
  resource.primaryKey.forEach((name, i) => {
    if (row.has(name) && String(row.get(name)) !== String(key[i])) {
      throw new SluiceError('SLUICE_INVALID_BODY', `${name} in the body (${String(row.get(name))}) differs from the key in the path (${String(key[i])})`, [{ field: name, message: 'differs from the path' }]);
    }
    row.set(name, key[i]);
  });
  const columns = resource.columns.filter((c) => row.has(c.name));
  const update = resource.columns.filter((c) => !c.readOnly && !resource.primaryKey.includes(c.name));
  return { resource, columns, rows: [row], returning, onConflict: { columns: resource.primaryKey, update }, replace: true };
}

export function planUpdate(input: { resource: Resource; row: Readonly<Record<string, unknown>>; filter: PlanFilter; returning: readonly Column[] }): UpdatePlan {
  return { resource: input.resource, set: new Map(Object.entries(input.row)), filter: input.filter, returning: input.returning };
}

export function planDelete(input: { resource: Resource; filter: PlanFilter; returning: readonly Column[] }): DeletePlan {
  return { resource: input.resource, filter: input.filter, returning: input.returning };
}
