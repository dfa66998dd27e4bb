/**
 * The schema snapshot: an immutable picture of the exposed tables and views, their columns,
 * keys and relations. Built once per (re)load by {@link buildSnapshot}; every later stage only reads it.
 */

/** The small set of value kinds the rest of Sluice reasons about, whatever the dialect. */
export type TypeKind =
  | 'integer' // fits in a JS number (int2, int4)
  | 'bigint' // 64-bit: a JSON number up to 2^53, a string beyond
  | 'number' // floating point
  | 'decimal' // exact numeric: always a string in JSON
  | 'string'
  | 'boolean'
  | 'date'
  | 'timestamp'
  | 'time'
  | 'uuid'
  | 'json'
  | 'bytes' // base64 in JSON
  | 'tsvector'
  | 'array'
  | 'other'; // rendered as text

export interface ColumnType {
  readonly kind: TypeKind;
  /** The type as the database names it, e.g. `numeric(12,2)`, `character(2)`, `TEXT`. */
  readonly dbType: string;
  readonly enumValues?: readonly string[] | undefined;
  readonly maxLength?: number | undefined;
  /** Total digits of an exact numeric (`numeric(12,2)` → 12). */
  readonly precision?: number | undefined;
  readonly scale?: number | undefined;
  readonly withTimeZone?: boolean | undefined;
  /** Kind of the elements of an array column. */
  readonly element?: ColumnType | undefined;
  /** Smallest and largest integer the column holds (integer and bigint kinds). */
  readonly range?: readonly [bigint, bigint] | undefined;
}

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  /** The database fills the column when a write leaves it out (default, identity, serial, rowid). */
  readonly hasDefault: boolean;
  /** SQL text of the default as the database reports it (SQLite inlines it into bulk inserts). */
  readonly defaultSql?: string | undefined;
  /** Computed by the database (generated or `GENERATED ALWAYS AS IDENTITY`): never written. */
  readonly readOnly: boolean;
  readonly comment?: string | undefined;
}

export type RelationKind = 'one' | 'many' | 'manyToMany';

/**
 * A way from one resource to another. Rows of `target` relate to a row of the source where
 * `target.targetColumns = source.columns` (element-wise); for many-to-many the junction's
 * `sourceColumns` match `source.columns` and its `targetColumns` match `target.targetColumns`.
 */
export interface Relation {
  readonly name: string;
  readonly kind: RelationKind;
  readonly target: string;
  readonly columns: readonly string[];
  readonly targetColumns: readonly string[];
  readonly junction?: {
    readonly resource: string;
    readonly schema: string;
    readonly table: string;
    readonly sourceColumns: readonly string[];
    readonly targetColumns: readonly string[];
  } | undefined;
}

export interface Resource {
  /** The name in paths: the table name, or `schema.table` when two exposed schemas share a name. */
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly kind: 'table' | 'view';
  readonly columns: readonly Column[];
  readonly columnsByName: ReadonlyMap<string, Column>;
  /** Empty when the table or view has none (such a resource has no single-row paths or cursors). */
  readonly primaryKey: readonly string[];
  /** Primary key and unique constraints/indexes: the keys `onConflict` may name. */
  readonly uniqueKeys: readonly (readonly string[])[];
  readonly relations: ReadonlyMap<string, Relation>;
  readonly insertable: boolean;
  readonly updatable: boolean;
  readonly deletable: boolean;
  readonly comment?: string | undefined;
}

export type DialectName = 'postgres' | 'sqlite';

export interface Snapshot {
  readonly dialect: DialectName;
  readonly resources: ReadonlyMap<string, Resource>;
  readonly loadedAt: Date;
}

/** What an introspector reports about one table or view, before naming and relations. */
export interface RawTable {
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view';
  readonly columns: readonly Column[];
  readonly primaryKey: readonly string[];
  readonly uniqueKeys: readonly (readonly string[])[];
  readonly foreignKeys: readonly RawForeignKey[];
  readonly insertable: boolean;
  readonly updatable: boolean;
  readonly deletable: boolean;
  readonly comment?: string | undefined;
}

export interface RawForeignKey {
  readonly columns: readonly string[];
  readonly refSchema: string;
  readonly refTable: string;
  readonly refColumns: readonly string[];
}
