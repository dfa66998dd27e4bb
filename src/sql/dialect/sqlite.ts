/**
 * SQLite: JSON built with json_object/json_group_array (json() keeps nested subquery results JSON),
 * `like` as a case-sensitive GLOB and `ilike` as LIKE, search as every word contained (SQLite has
 * no full-text search on plain tables: a registered function with
 * the semantics of PostgreSQL's websearch_to_tsquery('simple', …)), booleans as 0/1, exact numerics printed at their scale.
 */
import type { Column, ColumnType } from '../../schema/model.ts';
import { SqlCompiler } from '../compiler.ts';
import { integer, type Context, type JsonRow, type RowField } from '../statement.ts';
import { canonicalTimestamp } from '../../plan/coerce.ts';

const MAX_PAIRS = 60;
const SAFE = '9007199254740991';

export class SqliteCompiler extends SqlCompiler {
  readonly dialect = 'sqlite' as const;
  readonly maxParams = 32766;
  readonly plansEstimates = false;
  readonly reportsInserted = false;

  protected placeholder(index: number): string {
    return `?${index}`;
  }

  protected jsonRow(fields: readonly RowField[]): JsonRow {
    return { expr: this.jsonObject(fields.map((f) => [f.key, 'json' in f ? f.json : this.jsonValue(f.column.expr, f.column.type)] as const)), from: '' };
  }

  private jsonObject(pairs: ReadonlyArray<readonly [string, string]>): string {
    const head = `json_object(${pairs.slice(0, MAX_PAIRS).map(([k, v]) => `${this.literal(k)}, ${v}`).join(', ')})`;
    let out = head;
    for (let i = MAX_PAIRS; i < pairs.length; i += MAX_PAIRS) {
      const chunk = pairs.slice(i, i + MAX_PAIRS);
      out = `json_insert(${out}, ${chunk.map(([k, v]) => `${this.literal(`$."${k.replaceAll('"', '\\"')}"`)}, ${v}`).join(', ')})`;
    }
    return out;
  }

  protected jsonAgg(expr: string, orderBy: string): string {
    return `json_group_array(${expr}${orderBy ? ` order by ${orderBy}` : ''})`;
  }

  protected nestJson(expr: string): string {
    return `json(${expr})`;
  }

  jsonValue(expr: string, type: ColumnType): string {
    switch (type.kind) {
      case 'boolean': return `(case when ${expr} is null then null when ${expr} then json('true') else json('false') end)`;
      case 'bigint': case 'integer': return `(case when ${expr} > ${SAFE} or ${expr} < -${SAFE} then cast(${expr} as text) else ${expr} end)`;
      case 'decimal': return type.scale !== undefined
        ? `(case when ${expr} is null then null else printf('%.${type.scale}f', ${expr}) end)`
        : `cast(${expr} as text)`;
      case 'json': return `(case when json_valid(${expr}) then json(${expr}) else ${expr} end)`;
      case 'bytes': return `sluice_base64(${expr})`;
      default: return expr;
    }
  }

  protected textValue(expr: string, type: ColumnType): string {
    switch (type.kind) {
      case 'boolean': return `(case when ${expr} is null then null when ${expr} then 'true' else 'false' end)`;
      case 'json': return expr;
      default: return this.jsonValue(expr, type);
    }
  }

  /** SQLite needs a LIMIT before an OFFSET; -1 means none. */
  protected override limitOffset(limit: number | null, offset: number | null): string {
    if (limit === null && offset !== null && offset > 0) return ` limit -1 offset ${integer(offset)}`;
    return super.limitOffset(limit, offset);
  }

  protected like(expr: string, _column: Column, pattern: string, ctx: Context, insensitive: boolean): string {
    if (insensitive) return `${expr} like ${ctx.param(pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replaceAll('*', '%'))} escape '\\'`;
    return `${expr} glob ${ctx.param(pattern.replace(/[[?]/g, (c) => `[${c}]`))}`;
  }

  /** `sluice_match` (src/db/text-search.ts) gives websearch semantics like PostgreSQL's 'simple' configuration. */
  protected search(expr: string, _column: Column, text: string, ctx: Context): string {
    return `sluice_match(${expr}, ${ctx.param(text)})`;
  }

  protected inList(expr: string, column: Column, values: readonly unknown[], ctx: Context): string {
    if (values.length === 0) return this.falseLiteral;
    return `${expr} in (${values.map((v) => this.value(column, v, ctx)).join(', ')})`;
  }

  /**
   * SQLite keeps timestamps as text in whatever ISO 8601 form was written ('2024-01-01 10:00:00',
   * '…T10:00:00Z', '…+01:00'), and text order is not time order across forms: timestamps are
   * compared and ordered as UTC instants through strftime (an index on such a column is then not
   * used for those filters and sorts; correctness first on the embedded dialect).
   */
  protected override comparable(expr: string, type: ColumnType): string {
    return type.kind === 'timestamp' ? `strftime('%Y-%m-%dT%H:%M:%f', ${expr})` : expr;
  }

  bind(value: unknown, type: ColumnType): unknown {
    if (value === null || value === undefined) return null;
    if (typeof value === 'boolean') return value ? 1 : 0;
    switch (type.kind) {
      case 'bigint': case 'integer': return typeof value === 'string' && /^-?\d+$/.test(value) ? BigInt(value) : value;
      // 'Infinity' and 'NaN' arrive as text; as text SQLite would sort them after every number.
      case 'number': return typeof value === 'string' ? Number(value) : value;
      case 'json': return JSON.stringify(value);
      case 'bytes': return Buffer.from(String(value), 'base64');
      // SQLite compares timestamps as text: one canonical UTC form keeps that order true.
      case 'timestamp': return typeof value === 'string' ? canonicalTimestamp(value) : value;
      default: return value;
    }
  }

  protected override missing(column: Column): string {
    return column.defaultSql ? `(${column.defaultSql})` : 'null';
  }
}
