/**
 * Plan → SQL. One statement per read, embeds included, with the JSON built inside the database.
 * Dialects override a few hooks of this default compiler (quoting, placeholders, JSON building,
 * pattern matching, capability flags); the rest is shared. Values only ever appear as bound
 * parameters; identifiers only ever come from the schema snapshot.
 *
 * Shape of a list read (rows: j = the row's JSON, k0… = sort values for the cursor):
 *   select <json of a0 with embeds> as j, a0.k… from
 *     (select <needed columns> from <table> as a0 where <filters> [and <after cursor>]
 *      order by <sort> limit <n + 1>) as a0
 * With `count`, that page is left-joined to `(select count(*) …)` so the total arrives even when
 * the page is empty. Embeds are correlated subqueries on the page's rows only, so their cost does
 * not depend on how many rows the filter matched.
 */
import type { Column, ColumnType, DialectName, Relation, Resource } from '../schema/model.ts';
import { ClaimRef, type PlanCondition, type PlanFilter, type PlanSort, type ReadPlan, type SelectPlan } from '../plan/nodes.ts';
import type { InsertPlan, UpdatePlan, DeletePlan } from '../plan/mutate-plan.ts';
import { Context, ESTIMATE_CAP, integer, type BulkStatement, type Compiled, type JsonRow, type ReadStatement, type RowField } from './statement.ts';

export abstract class SqlCompiler {
  abstract readonly dialect: DialectName;
  /** Most bound parameters one statement may carry. */
  abstract readonly maxParams: number;
  /** An upsert's RETURNING can tell a created row from a replaced one (PUT → 201 or 200). */
  abstract readonly reportsInserted: boolean;
  /** The planner can estimate row counts (`count=estimated`); otherwise counts are exact. */
  abstract readonly plansEstimates: boolean;

  protected abstract placeholder(index: number): string;
  /**
   * One row's JSON object from its fields, keys in order: the expression, and a FROM item it needs
   * (PostgreSQL names the row's fields in a LATERAL subquery; SQLite needs none).
   */
  protected abstract jsonRow(fields: readonly RowField[], ctx: Context): JsonRow;

  /** Fields of `columns` read through `alias` (null: unqualified, as in RETURNING). */
  protected columnFields(columns: readonly Column[], alias: string | null): RowField[] {
    return columns.map((c) => ({ key: c.name, column: { expr: this.col(alias, c.name), type: c.type, nullable: c.nullable } }));
  }
  /** A JSON array of `expr` over the rows of the enclosing query, `[]` when there are none. */
  protected abstract jsonAgg(expr: string, orderBy: string): string;
  /** Makes the value of a JSON-producing subquery nest as JSON (not as a string) in a parent object. */
  protected abstract nestJson(expr: string): string;
  /** The value of a column as it should appear in JSON (exact numerics and 64-bit integers as strings…). */
  abstract jsonValue(expr: string, type: ColumnType): string;
  protected abstract like(expr: string, column: Column, pattern: string, ctx: Context, insensitive: boolean): string;
  protected abstract search(expr: string, column: Column, text: string, ctx: Context): string;
  protected abstract inList(expr: string, column: Column, values: readonly unknown[], ctx: Context): string;
  /** Converts a typed value into what the driver binds for a column of this type. */
  abstract bind(value: unknown, type: ColumnType): unknown;
  /** An estimate of the rows of a table from planner statistics (dialects that plan estimates). */
  protected estimatedCount(_resource: Resource, exact: string): string {
    return `(${exact})`;
  }

  ident(name: string): string {
    return `"${name.replaceAll('"', '""')}"`;
  }

  table(resource: Resource): string {
    return `${this.ident(resource.schema)}.${this.ident(resource.table)}`;
  }

  protected col(alias: string | null, name: string): string {
    return alias === null ? this.ident(name) : `${alias}.${this.ident(name)}`;
  }

  protected orderItem(expr: string, descending: boolean, nullable: boolean): string {
    if (!nullable) return descending ? `${expr} desc` : expr;
    return descending ? `${expr} desc nulls first` : `${expr} asc nulls last`;
  }

  protected orderBy(alias: string, sort: readonly PlanSort[]): string {
    return sort.map((s) => this.orderItem(this.comparable(this.col(alias, s.column.name), s.column.type), s.descending, s.column.nullable)).join(', ');
  }

  /** A SQL string literal (for JSON keys and catalog names, never for request values). */
  protected literal(text: string): string {
    return `'${text.replaceAll("'", "''")}'`;
  }

  protected get falseLiteral(): string {
    return 'false';
  }

  protected get trueLiteral(): string {
    return 'true';
  }

  // --- filters ---------------------------------------------------------------------------------

  /**
   * The form in which values of a type are compared and ordered: the column itself, except where a
   * dialect stores one value in several forms (SQLite timestamps: text in any ISO 8601 variant).
   */
  protected comparable(expr: string, _type: ColumnType): string {
    return expr;
  }

  /** A bound value in the column's comparable form. */
  protected value(c: Column, value: unknown, ctx: Context): string {
    return this.comparable(value instanceof ClaimRef ? ctx.slot(value, c) : ctx.param(this.bind(value, c.type)), c.type);
  }

  protected condition(c: PlanCondition, alias: string, ctx: Context): string {
    const raw = this.col(alias, c.column.name);
    const expr = this.comparable(raw, c.column.type);
    const compare = (op: string) => `${expr} ${op} ${this.value(c.column, c.value, ctx)}`;
    let sql: string;
    switch (c.op) {
      case 'eq': sql = compare('='); break;
      case 'ne': sql = compare('<>'); break;
      case 'gt': sql = compare('>'); break;
      case 'gte': sql = compare('>='); break;
      case 'lt': sql = compare('<'); break;
      case 'lte': sql = compare('<='); break;
      case 'in': sql = this.inList(expr, c.column, c.value as unknown[], ctx); break;
      case 'nin': sql = `not (${this.inList(expr, c.column, c.value as unknown[], ctx)})`; break;
      case 'like': sql = this.like(raw, c.column, String(c.value), ctx, false); break;
      case 'ilike': sql = this.like(raw, c.column, String(c.value), ctx, true); break;
      case 'search': sql = this.search(raw, c.column, String(c.value), ctx); break;
      case 'null': return (c.value === true) !== c.negate ? `${raw} is null` : `${raw} is not null`;
    }
    return c.negate ? `not (${sql})` : sql;
  }

  /** `target.targetColumns = parent.columns` for a direct relation. */
  protected join(relation: Relation, parent: string, child: string): string {
    return relation.columns.map((c, i) => `${this.col(child, relation.targetColumns[i]!)} = ${this.col(parent, c)}`).join(' and ');
  }

  filter(f: PlanFilter, alias: string, ctx: Context): string {
    switch (f.kind) {
      case 'cond': return this.condition(f, alias, ctx);
      case 'exists': {
        const inner = ctx.alias();
        return `exists (select 1 from ${this.table(f.target)} as ${inner} where ${this.join(f.relation, alias, inner)} and ${this.filter(f.filter, inner, ctx)})`;
      }
      case 'and':
      case 'or': {
        const parts = f.items.map((item) => this.filter(item, alias, ctx));
        const body = parts.length === 0 ? (f.kind === 'and' ? this.trueLiteral : this.falseLiteral) : parts.length === 1 ? parts[0]! : `(${parts.join(` ${f.kind} `)})`;
        return f.negate ? `not ${body.startsWith('(') ? body : `(${body})`}` : body;
      }
    }
  }

  /**
   * Rows strictly after the cursor row in the sort order (ascending sorts put nulls last,
   * descending ones first). Uses a row comparison when every column shares a direction and none
   * is nullable, so an index on the sort columns serves any page at the same cost; otherwise the
   * expanded form with an index-friendly bound on the first column.
   */
  protected after(sort: readonly PlanSort[], values: readonly unknown[], alias: string, ctx: Context): string {
    const exprs = sort.map((s) => this.comparable(this.col(alias, s.column.name), s.column.type));
    const bound = values.map((v, i) => (v === null ? null : this.value(sort[i]!.column, v, ctx)));
    const uniform = sort.every((s) => s.descending === sort[0]!.descending && !s.column.nullable);
    if (uniform) {
      const op = sort[0]!.descending ? '<' : '>';
      return sort.length === 1 ? `${exprs[0]} ${op} ${bound[0]}` : `(${exprs.join(', ')}) ${op} (${bound.join(', ')})`;
    }
    const equal = (i: number) => (bound[i] === null ? `${exprs[i]} is null` : `${exprs[i]} = ${bound[i]}`);
    const beyond = (i: number): string | null => {
      const s = sort[i]!, b = bound[i];
      if (s.descending) return b === null ? `${exprs[i]} is not null` : `${exprs[i]} < ${b}`;
      if (b === null) return null; // nothing sorts after null in ascending order
      return s.column.nullable ? `(${exprs[i]} > ${b} or ${exprs[i]} is null)` : `${exprs[i]} > ${b}`;
    };
    const terms: string[] = [];
    for (let i = 0; i < sort.length; i++) {
      const step = beyond(i);
      if (step !== null) terms.push([...Array.from({ length: i }, (_, j) => equal(j)), step].join(' and '));
    }
    const expanded = terms.length === 0 ? this.falseLiteral : `(${terms.join(' or ')})`;
    const first = sort[0]!;
    if (bound[0] !== null && !first.column.nullable) return `${exprs[0]} ${first.descending ? '<=' : '>='} ${bound[0]} and ${expanded}`;
    return expanded;
  }

  // --- JSON rows and embeds ----------------------------------------------------------------------

  /** The JSON object of one row of `plan` read through `alias`, embeds included. */
  protected rowJson(plan: SelectPlan, alias: string, ctx: Context): JsonRow {
    const fields = this.columnFields(plan.columns, alias);
    for (const embed of plan.embeds) fields.push({ key: embed.key, json: this.nestJson(this.embed(embed.plan, embed.relation, alias, ctx)) });
    return this.jsonRow(fields, ctx);
  }

  /** A correlated subquery: the embedded row (to-one) or array of rows (to-many) of `parent`'s row. */
  protected embed(plan: SelectPlan, relation: Relation, parent: string, ctx: Context): string {
    const a = ctx.alias();
    const where: string[] = [];
    let from = `${this.table(plan.resource)} as ${a}`;
    if (relation.junction) {
      const j = ctx.alias();
      const jr = relation.junction;
      from += ` join ${this.ident(jr.schema)}.${this.ident(jr.table)} as ${j} on ${jr.targetColumns.map((c, i) => `${this.col(j, c)} = ${this.col(a, relation.targetColumns[i]!)}`).join(' and ')}`;
      where.push(jr.sourceColumns.map((c, i) => `${this.col(j, c)} = ${this.col(parent, relation.columns[i]!)}`).join(' and '));
      if (plan.junctionFilter) where.push(this.filter(plan.junctionFilter, j, ctx));
    } else {
      where.push(this.join(relation, parent, a));
    }
    if (plan.filter) where.push(this.filter(plan.filter, a, ctx));
    const whereSql = where.join(' and ');
    const row = this.rowJson(plan, a, ctx);
    if (relation.kind === 'one') return `(select ${row.expr} from ${from}${row.from} where ${whereSql} limit 1)`;
    if (plan.limit === null && plan.offset === null) {
      return `(select ${this.jsonAgg(row.expr, this.orderBy(a, plan.sort))} from ${from}${row.from} where ${whereSql})`;
    }
    const x = ctx.alias();
    const keys = plan.sort.map((s, i) => `, ${this.col(a, s.column.name)} as k${i}`).join('');
    const xSort = plan.sort.map((s, i) => this.orderItem(this.comparable(`${x}.k${i}`, s.column.type), s.descending, s.column.nullable)).join(', ');
    return `(select ${this.jsonAgg(this.nestJson(`${x}.j`), xSort)} from (select ${row.expr} as j${keys} from ${from}${row.from} where ${whereSql} order by ${this.orderBy(a, plan.sort)}${this.limitOffset(plan.limit, plan.offset)}) as ${x})`;
  }

  /**
   * LIMIT and OFFSET as integer literals, not parameters: with `limit $n` PostgreSQL cannot cost a
   * generic plan and re-plans on every execution (1.7 ms for an embed statement); with the
   * literal it switches to the cached generic plan after five runs. The values are integers the
   * planner checked against the configured limits, so a literal cannot carry anything else.
   */
  protected limitOffset(limit: number | null, offset: number | null): string {
    let sql = '';
    if (limit !== null) sql += ` limit ${integer(limit)}`;
    if (offset !== null && offset > 0) sql += ` offset ${integer(offset)}`;
    return sql;
  }

  /** Columns the page must carry for the outer select: output, embed joins and sort keys. */
  private pageColumns(plan: SelectPlan): string[] {
    const names = new Set<string>(plan.columns.map((c) => c.name));
    for (const e of plan.embeds) for (const c of e.relation.columns) names.add(c);
    for (const s of plan.sort) names.add(s.column.name);
    return [...names];
  }

  // --- reads ---------------------------------------------------------------------------------------

  /** @example compiler.read(planRead({ … })) → { text: 'select …', params: ['paid', 26] } */
  /** What every read selects from: the root table, its filters and cursor, its order. */
  private source(plan: ReadPlan, ctx: Context) {
    const root = plan.root;
    const a = ctx.alias();
    const where: string[] = [];
    const filterSql = root.filter ? this.filter(root.filter, a, ctx) : null;
    if (filterSql) where.push(filterSql);
    if (plan.after) {
      ctx.cursorAt = ctx.params.length;
      where.push(this.after(root.sort, plan.after, a, ctx));
    }
    return {
      root, a, filterSql,
      table: `${this.table(root.resource)} as ${a}`,
      whereSql: where.length ? ` where ${where.join(' and ')}` : '',
      orderBy: root.sort.length ? ` order by ${this.orderBy(a, root.sort)}` : '',
    };
  }

  read(plan: ReadPlan): ReadStatement {
    const ctx = new Context((i) => this.placeholder(i));
    const { root, a, filterSql, table, whereSql, orderBy } = this.source(plan, ctx);

    if (plan.mode === 'one') {
      const row = this.rowJson(root, a, ctx);
      return { text: `select ${row.expr} as j from ${table}${row.from}${whereSql}`, ...ctx.bound, keyCount: 0, withTotal: false };
    }
    const keys = root.sort.map((s, i) => `${this.col(a, s.column.name)} as k${i}`);
    if (plan.mode === 'stream') {
      // Every matching row is sent anyway: one level, so the order is the statement's own.
      const row = this.rowJson(root, a, ctx);
      const text = `select ${row.expr} as j${keys.map((k) => `, ${k}`).join('')} from ${table}${row.from}${whereSql}${orderBy}${this.limitOffset(root.limit, root.offset)}`;
      return { text, ...ctx.bound, keyCount: keys.length, withTotal: false };
    }
    // The page is limited first (one more row than asked tells hasMore), then its rows' JSON and
    // embeds are computed; the outer ORDER BY restates the order (PostgreSQL sees it is already
    // sorted; SQLite sorts at most limit + 1 rows).
    const inner = `select ${this.pageColumns(root).map((c) => this.col(a, c)).join(', ')} from ${table}${whereSql}${orderBy}`
      + this.limitOffset(root.limit! + 1, root.offset);
    const row = this.rowJson(root, a, ctx);
    const page = `select ${row.expr} as j${keys.map((k) => `, ${k}`).join('')} from (${inner}) as ${a}${row.from}${orderBy}`;
    if (!plan.count) return { text: page, ...ctx.bound, keyCount: keys.length, withTotal: false };

    const c = ctx.alias();
    const countWhere = filterSql ? ` where ${filterSql}` : '';
    const exact = `select count(*) from ${this.table(root.resource)} as ${a}${countWhere}`;
    // Estimated: exact up to ESTIMATE_CAP rows, then the planner's figure — where the dialect has one.
    const total = plan.count !== 'estimated' || !this.plansEstimates ? `(${exact})`
      : filterSql ? `(select count(*) from (select 1 from ${this.table(root.resource)} as ${a}${countWhere} limit ${ESTIMATE_CAP + 1}) as s)`
      : this.estimatedCount(root.resource, exact);
    const p = ctx.alias();
    const order = root.sort.map((s, i) => this.orderItem(this.comparable(`${p}.k${i}`, s.column.type), s.descending, s.column.nullable)).join(', ');
    return {
      text: `select ${p}.j${keys.map((_, i) => `, ${p}.k${i}`).join('')}, ${c}.n from (select ${total} as n) as ${c} left join (${page}) as ${p} on ${this.trueLiteral}${order ? ` order by ${order}` : ''}`,
      ...ctx.bound, keyCount: keys.length, withTotal: true,
    };
  }

  /**
   * The planner's estimate of the rows matching a read's filter (`explain`), for
   * `count=estimated` beyond {@link ESTIMATE_CAP}; null where the dialect has no estimate.
   */
  explainCount(_plan: ReadPlan): Compiled | null {
    return null;
  }

  /** A column's value as text for CSV cells (timestamps ISO, booleans true/false). */
  protected abstract textValue(expr: string, type: ColumnType): string;

  /** A read whose rows are the CSV cells of each row (embeds as JSON cells), one level like streams. */
  readCsv(plan: ReadPlan): Compiled & { header: string[] } {
    const ctx = new Context((i) => this.placeholder(i));
    const { root, a, table, whereSql, orderBy } = this.source(plan, ctx);
    const cells = root.columns.map((c) => this.textValue(this.col(a, c.name), c.type));
    for (const embed of root.embeds) cells.push(this.embed(embed.plan, embed.relation, a, ctx));
    return {
      text: `select ${cells.join(', ')} from ${table}${whereSql}${orderBy}${this.limitOffset(root.limit, root.offset)}`, ...ctx.bound,
      header: [...root.columns.map((c) => c.name), ...root.embeds.map((e) => e.key)],
    };
  }

  // --- writes --------------------------------------------------------------------------------------

  /**
   * The written rows of a DML statement as [j, primary key…, extra…]: the row's JSON (columns
   * only), and the key for the `Location` of a created row. `extra` adds returned expressions.
   */
  protected writeResult(dml: string, resource: Resource, columns: readonly Column[], ctx: Context, extra = ''): string {
    const row = this.jsonRow(this.columnFields(columns, null), ctx);
    return `${dml} returning ${row.expr} as j${resource.primaryKey.map((k, i) => `, ${this.ident(k)} as k${i}`).join('')}${extra}`;
  }

  /** Multi-row INSERT (with `on conflict … do update` for upserts and PUT). */
  insert(plan: InsertPlan): Compiled {
    const ctx = new Context((i) => this.placeholder(i));
    // Rows that name no column at all still need a column list when there are several of them.
    const cols = plan.columns.length === 0 && plan.rows.length > 1 ? plan.resource.columns.filter((c) => !c.readOnly).slice(0, 1) : plan.columns;
    const rows = plan.rows.map((row) => `(${cols.map((c) => (row.has(c.name) ? ctx.param(this.bind(row.get(c.name), c.type)) : this.missing(c))).join(', ')})`);
    // An upsert limited to rows the caller may update names the existing row through an alias.
    const where = plan.onConflict?.where ?? null;
    const alias = where ? ctx.alias() : null;
    const into = `${this.table(plan.resource)}${alias ? ` as ${alias}` : ''}`;
    let dml = cols.length === 0
      ? `insert into ${into} default values`
      : `insert into ${into} (${cols.map((c) => this.ident(c.name)).join(', ')}) values ${rows.join(', ')}`;
    if (plan.onConflict) {
      const target = plan.onConflict.columns.map((c) => this.ident(c)).join(', ');
      const update = plan.onConflict.update.length ? plan.onConflict.update : plan.onConflict.columns.map((n) => plan.resource.columnsByName.get(n)!);
      dml += ` on conflict (${target}) do update set ${update.map((c) => `${this.ident(c.name)} = excluded.${this.ident(c.name)}`).join(', ')}`;
      if (where) dml += ` where ${this.filter(where, alias!, ctx)}`;
    }
    return { text: this.writeResult(dml, plan.resource, plan.returning, ctx, this.insertedFlag(plan)), ...ctx.bound };
  }

  /** What a multi-row VALUES list holds for a column one row leaves out. */
  protected missing(_column: Column): string {
    return 'default';
  }

  /** PUT: an extra returned column telling an insert from an update, where the dialect can. */
  protected insertedFlag(_plan: InsertPlan): string {
    return '';
  }

  /** `update … set … where …`, compiled into `ctx` with the table aliased `alias`. */
  protected updateSql(plan: UpdatePlan, ctx: Context, alias: string, guard = ''): string {
    const set = [...plan.set].map(([name, value]) => {
      const column = plan.resource.columnsByName.get(name)!;
      return `${this.ident(name)} = ${ctx.param(this.bind(value, column.type))}`;
    });
    return `update ${this.table(plan.resource)} as ${alias} set ${set.join(', ')} where ${this.filter(plan.filter, alias, ctx)}${guard}`;
  }

  protected deleteSql(plan: DeletePlan, ctx: Context, alias: string, guard = ''): string {
    return `delete from ${this.table(plan.resource)} as ${alias} where ${this.filter(plan.filter, alias, ctx)}${guard}`;
  }

  update(plan: UpdatePlan): Compiled {
    const ctx = new Context((i) => this.placeholder(i));
    return { text: this.writeResult(this.updateSql(plan, ctx, ctx.alias()), plan.resource, plan.returning, ctx), ...ctx.bound };
  }

  delete(plan: DeletePlan): Compiled {
    const ctx = new Context((i) => this.placeholder(i));
    return { text: this.writeResult(this.deleteSql(plan, ctx, ctx.alias()), plan.resource, plan.returning, ctx), ...ctx.bound };
  }

  /** Locks the rows a select reads until the transaction ends, where the dialect locks rows. */
  protected lockRows(_alias: string): string {
    return '';
  }

  /**
   * Whole rows matching `filter` as [j, k0…kn, ok?]: the JSON of every column (the audit log's
   * before and after images) and, with `check`, whether the row satisfies it (1 or 0).
   */
  rowImages(resource: Resource, filter: PlanFilter, options: { check?: PlanFilter | null; lock?: boolean } = {}): Compiled {
    const ctx = new Context((i) => this.placeholder(i));
    const a = ctx.alias();
    const row = this.rowJson({ resource, columns: resource.columns, embeds: [], filter: null, sort: [], limit: null, offset: null }, a, ctx);
    const keys = resource.primaryKey.map((k, i) => `, ${this.col(a, k)} as k${i}`).join('');
    const ok = options.check ? `, case when ${this.filter(options.check, a, ctx)} then 1 else 0 end as ok` : '';
    const where = this.filter(filter, a, ctx);
    return { text: `select ${row.expr} as j${keys}${ok} from ${this.table(resource)} as ${a}${row.from} where ${where}${options.lock ? this.lockRows(a) : ''}`, ...ctx.bound };
  }

  /** `select 1` when a row matches `filter` (PUT on dialects that cannot report an insert). */
  exists(resource: Resource, filter: PlanFilter): Compiled {
    const ctx = new Context((i) => this.placeholder(i));
    const a = ctx.alias();
    return { text: `select 1 from ${this.table(resource)} as ${a} where ${this.filter(filter, a, ctx)} limit 1`, ...ctx.bound };
  }

  /** `select count(*)` of at most `max + 1` rows matching a bulk write's filter. */
  countMatching(resource: Resource, filter: PlanFilter, max: number): Compiled {
    const ctx = new Context((i) => this.placeholder(i));
    const a = ctx.alias();
    return { text: `select count(*) from (select 1 from ${this.table(resource)} as ${a} where ${this.filter(filter, a, ctx)} limit ${integer(max + 1)}) as s`, ...ctx.bound };
  }

  /**
   * A bulk PATCH or DELETE guarded by `limits.maxAffected`. Where the dialect can, one statement
   * whose rows are [matched, j] and which writes nothing when matched > max; otherwise a count
   * and the write, which the caller runs in one transaction.
   */
  bulk(plan: UpdatePlan | DeletePlan, max: number): BulkStatement {
    const write = 'set' in plan ? this.update(plan) : this.delete(plan);
    return { kind: 'checked', count: this.countMatching(plan.resource, plan.filter, max), write };
  }
}
